"""The attack probe on images: smallest L∞ perturbation (PGD, or SPSA by queries)."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from rewardlab.data.images import decode_image
from rewardlab.data.record import Comparison
from rewardlab.evaluate.adversarial import epsilon_grid, realize
from rewardlab.evaluate.probes import PROBES
from rewardlab.evaluate.probes.attack import attack_probe
from rewardlab.evaluate.probes.pixel_attack import PixelAttackConfig, difference_image


class Brightness:
    """r = mean pixel value in [0, 1]: raising every pixel by ε raises r by ε (no clipping)."""

    def score(self, prompts, responses):
        return np.array([decode_image(r).mean() / 255.0 for r in responses])

    def score_pixels(self, prompts, pixels):
        return pixels.mean(dim=(1, 2, 3))


class QueryOnlyBrightness:
    """The same reward without pixel gradients: only SPSA can attack it."""

    def score(self, prompts, responses):
        return Brightness().score(prompts, responses)


def flat(value: float, size: int = 8) -> np.ndarray:
    """An image whose mean pixel is ``value`` (half the pixels floor, half ceil)."""
    low, high = int(np.floor(value)), int(np.ceil(value))
    image = np.full((size, size, 3), low, dtype=np.uint8)
    image[: size // 2] = high
    return image


PAIRS = [
    Comparison("a", (flat(128), flat(125.5)), (0, 1)),  # gap 2.5 levels: flips at ε = 4/255
    Comparison("b", (flat(150), flat(130)), (0, 1)),  # gap 20 levels: out of reach at 8/255
    Comparison("c", (flat(100), flat(110)), (0, 1)),  # already wrong: not attacked
]


def test_epsilon_grid_is_halvings_on_the_grey_level_grid():
    assert epsilon_grid(8 / 255, 4) == (1 / 255, 2 / 255, 4 / 255, 8 / 255)
    assert epsilon_grid(3 / 255, 4) == (1 / 255, 2 / 255, 3 / 255)
    with pytest.raises(ValueError, match="epsilon"):
        epsilon_grid(0.0, 3)


def test_realizing_on_the_grid_never_leaves_the_ball():
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (4, 5, 5, 3)).astype(np.float64) / 255
    for eps in (1 / 255, 3 / 255, 8 / 255):
        delta = rng.uniform(-eps, eps, base.shape)
        delta = np.clip(base + delta, 0, 1) - base
        levels = realize(base, delta).astype(int) - np.rint(base * 255).astype(int)
        assert np.abs(levels).max() <= round(eps * 255)


def test_pgd_finds_the_smallest_epsilon_and_hackability_by_hand():
    res = attack_probe(Brightness(), PAIRS, PixelAttackConfig(epsilon=8 / 255, levels=4))
    assert res["method"] == "pgd" and res["goal"] == "flip"
    assert res["n_attacked"] == 2 and res["n_already_wrong"] == 1
    assert res["hackability"] == 0.5  # pair a flips, pair b is 20 levels away
    assert res["smallest_epsilon"] == {"0": 4 / 255}
    assert res["median_epsilon"] == 4 / 255
    assert res["curve"] == [[1 / 255, 0.0], [2 / 255, 0.0], [4 / 255, 0.5], [8 / 255, 0.5]]
    assert res["max_linf"] == 8 / 255  # pair b pushed to the edge of the ball, not beyond
    assert res["median_queries"] == 3 * (20 * 1 + 1)  # the 3rd ε: 20 PGD steps + 1 check each
    example = res["examples"][0]
    perturbed = decode_image(base64.b64decode(example["images"]["perturbed"]))
    original = PAIRS[0].rejected
    assert np.abs(perturbed.astype(int) - original.astype(int)).max() == 4
    assert Brightness().score(["a"], [perturbed])[0] > Brightness().score(["a"], [flat(128)])[0]
    assert example["reward_after"] == pytest.approx(129.5 / 255)


def test_the_margin_goal_raises_every_rejected_reward():
    res = attack_probe(Brightness(), PAIRS, PixelAttackConfig(epsilon=8 / 255, margin=5 / 255))
    assert res["goal"] == "margin" and res["n_attacked"] == 3
    assert res["hackability"] == 1.0  # +8 levels ≥ +5 on every pair
    assert set(res["smallest_epsilon"].values()) == {8 / 255}


def test_spsa_attacks_a_model_without_gradients_and_says_so():
    pairs = [Comparison("a", (flat(128, 4), flat(127.5, 4)), (0, 1))]
    res = attack_probe(QueryOnlyBrightness(), pairs,
                       PixelAttackConfig(epsilon=8 / 255, steps=10, spsa_samples=16))
    assert res["method"] == "spsa" and "query-only" in res["note"]
    assert res["hackability"] == 1.0 and res["queries"] > 0
    level = res["epsilons"].index(res["smallest_epsilon"]["0"])
    assert res["median_queries"] == (level + 1) * (10 * 2 * 16 + 1)
    assert res["max_linf"] <= 8 / 255
    with pytest.raises(ValueError, match="pgd needs a model with score_pixels"):
        attack_probe(QueryOnlyBrightness(), pairs, PixelAttackConfig(method="pgd"))


def test_the_difference_image_is_mid_grey_where_nothing_changed():
    original = np.full((2, 2, 3), 100, dtype=np.uint8)
    perturbed = original.copy()
    perturbed[0, 0] = [104, 96, 100]
    diff = difference_image(original, perturbed, 4 / 255)
    assert diff[1, 1].tolist() == [128, 128, 128]
    assert diff[0, 0].tolist() == [255, 1, 128]


def test_pgd_on_a_tiny_clip_stays_in_the_ball_and_reported_flips_are_real(tmp_path):
    from rewardlab.load import load_reward_model
    from tiny_clip import save_clip

    model = load_reward_model(f"clip:{save_clip(tmp_path / 'clip')}")
    rng = np.random.default_rng(3)
    pictures = [rng.integers(0, 256, (32, 32, 3), dtype=np.uint8) for _ in range(8)]
    prompts = ["a red cat", "the dog", "blue sky", "green water"]
    pairs = [Comparison(prompts[k], (pictures[2 * k], pictures[2 * k + 1]), (0, 1))
             for k in range(4)]
    res = PROBES.get("attack")(model, pairs, seed=0, epsilon=4 / 255, steps=10)
    assert res["method"] == "pgd"
    assert res["max_linf"] <= 4 / 255
    assert res["n_flipped"] >= 1  # random CLIPs are far from robust
    for example in res["examples"]:
        pair = pairs[example["pair"]]
        perturbed = decode_image(base64.b64decode(example["images"]["perturbed"]))
        assert np.abs(perturbed.astype(int) - pair.rejected.astype(int)).max() <= 4
        rewards = model.score([pair.prompt] * 2, [perturbed, pair.chosen])
        assert rewards[0] > rewards[1]
        assert rewards[0] == pytest.approx(example["reward_after"], abs=1e-6)



def test_the_html_report_shows_original_perturbed_and_difference_images(tmp_path):
    from rewardlab.data.images import encode_png
    from rewardlab.evaluate.report import render_html
    from rewardlab.evaluate.suite import run_evaluation

    results = run_evaluation(Brightness(), PAIRS, probes=["attack"], seed=0,
                             probe_options={"attack": {"epsilon": 8 / 255, "budget": 5}})
    assert results["metrics"]["hackability"] == 0.5
    assert results["probes"]["attack"]["median_epsilon"] == 4 / 255
    page = render_html(results)
    assert page.count('<img class="px"') == 3
    original = base64.b64encode(encode_png(PAIRS[0].rejected)).decode("ascii")
    assert f'alt="original" src="data:image/png;base64,{original}"' in page
    assert "Attack success vs ε" in page and "ε = 4/255" in page


class MeanColour:
    """A toy image backbone: the mean R, G, B of the image, in numpy and in torch."""

    dim = 3

    def encode(self, prompts, responses, progress=None):
        return np.stack([decode_image(r).reshape(-1, 3).mean(0) / 255 for r in responses]
                        ).astype(np.float32)

    def encode_pixels(self, prompts, pixels):
        return pixels.mean(dim=(1, 2))

    def config(self):
        return {"kind": "mean-colour"}


def test_a_trained_head_over_a_torch_backbone_is_differentiable_in_the_pixels():
    import torch

    from rewardlab.models.heads.linear import LinearHead
    from rewardlab.models.normalizer import Normalizer
    from rewardlab.models.reward_model import PixelTrainedRewardModel, trained_reward_model
    from rewardlab.protocols import PixelRewardModel

    rng = np.random.default_rng(0)
    pictures = [rng.integers(0, 256, (6, 7, 3), dtype=np.uint8) for _ in range(5)]
    backbone = MeanColour()
    normalizer = Normalizer(3).fit(backbone.encode(["p"] * 5, pictures))
    torch.manual_seed(0)
    model = trained_reward_model(backbone, normalizer, LinearHead(3, n_members=2),
                                 {"n_members": 2})
    assert isinstance(model, PixelTrainedRewardModel) and isinstance(model, PixelRewardModel)
    pixels = torch.from_numpy(np.stack(pictures).astype(np.float32) / 255)
    np.testing.assert_allclose(model.score_pixels(["p"] * 5, pixels).detach().numpy(),
                               model.score(["p"] * 5, pictures), atol=1e-5)
    pairs = [Comparison("p", (pictures[0], pictures[1]), (0, 1)) if model.score(
        ["p"] * 2, pictures[:2])[0] > model.score(["p"] * 2, pictures[:2])[1]
        else Comparison("p", (pictures[1], pictures[0]), (0, 1))]
    assert attack_probe(model, pairs)["method"] == "pgd"


@pytest.mark.parametrize("shape", [(32, 32), (30, 45)])
def test_the_conv_backbone_torch_path_equals_its_numpy_path(shape):
    import torch

    from rewardlab.features.image_conv import ConvImageBackbone

    backbone = ConvImageBackbone(size=32, filters=4, grid=4, thumbnail=8, prompt_buckets=16)
    rng = np.random.default_rng(1)
    pictures = [rng.integers(0, 256, (*shape, 3), dtype=np.uint8) for _ in range(3)]
    prompts = ["a red cat", "seven", ""]
    pixels = torch.from_numpy(np.stack(pictures).astype(np.float32) / 255).requires_grad_(True)
    got = backbone.encode_pixels(prompts, pixels)
    want = backbone.encode(prompts, pictures)
    if shape == (32, 32):  # no resampling: equal throughout
        np.testing.assert_allclose(got.detach().numpy(), want, atol=1e-5)
    else:  # PIL rounds its bilinear resize to uint8; the thumbnail and the rest stay exact
        thumb = slice(2 * 4 * 16, 2 * 4 * 16 + 64)
        np.testing.assert_allclose(got.detach().numpy()[:, thumb], want[:, thumb], atol=1e-5)
        np.testing.assert_allclose(got.detach().numpy(), want, atol=0.02)
    got.sum().backward()
    assert float(pixels.grad.abs().sum()) > 0


def test_pgd_runs_on_a_model_trained_on_the_conv_backbone(tmp_path):
    from rewardlab.features.image_conv import ConvImageBackbone
    from rewardlab.models.heads.linear import LinearHead
    from rewardlab.models.normalizer import Normalizer
    from rewardlab.models.reward_model import trained_reward_model

    backbone = ConvImageBackbone(size=16, filters=2, grid=2, thumbnail=4, prompt_buckets=8)
    rng = np.random.default_rng(2)
    pictures = [rng.integers(0, 256, (16, 16, 3), dtype=np.uint8) for _ in range(6)]
    normalizer = Normalizer(backbone.dim).fit(backbone.encode(["p"] * 6, pictures))
    import torch

    torch.manual_seed(0)
    model = trained_reward_model(backbone, normalizer, LinearHead(backbone.dim), {"n_members": 1})
    r = model.score(["p"] * 6, pictures)
    pairs = [Comparison("p", (pictures[i], pictures[j]), (0, 1))
             for i, j in ((0, 1), (2, 3), (4, 5)) for i, j in [(i, j) if r[i] > r[j] else (j, i)]]
    res = attack_probe(model, pairs, PixelAttackConfig(epsilon=8 / 255, steps=10))
    assert res["method"] == "pgd" and res["n_attacked"] == 3
    assert res["max_linf"] <= 8 / 255


def test_the_clip_vision_backbone_torch_path_equals_its_encode(tmp_path):
    import torch

    from rewardlab.features.clip_vision import ClipVisionBackbone
    from tiny_clip import save_clip

    backbone = ClipVisionBackbone(str(save_clip(tmp_path / "clip")), cache_dir=str(tmp_path / "c"))
    rng = np.random.default_rng(4)
    pictures = [rng.integers(0, 256, (32, 32, 3), dtype=np.uint8) for _ in range(3)]
    prompts = ["a red cat", "the dog", "a red cat"]
    pixels = torch.from_numpy(np.stack(pictures).astype(np.float32) / 255).requires_grad_(True)
    got = backbone.encode_pixels(prompts, pixels)
    np.testing.assert_allclose(got.detach().numpy(), backbone.encode(prompts, pictures),
                               atol=1e-5)
    got[:, :16].sum().backward()
    assert float(pixels.grad.abs().sum()) > 0
