"""``rewardlab lab diffusion`` end to end on a tiny generator, its numbers checked against
computations made here another way: the gold straight from the gold classifier on the
8×8 samples (no decoding, upscaling or block-averaging), the proxy through the reward
model's ``score`` on the emitted ``uint8`` images, best-of-n's KL by its formula."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest

pytest.importorskip("diffusers")
import torch  # noqa: E402
from PIL import Image  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from rewardlab.cli.main import app  # noqa: E402
from rewardlab.data.synthetic.digits import gold_classifier  # noqa: E402
from rewardlab.lab.diffusion.experiment import lab_prompts, train_proxy, uint8_images  # noqa: E402
from rewardlab.lab.diffusion.generator import cached_generator  # noqa: E402
from rewardlab.lab.diffusion.options import DiffusionLabOptions, GeneratorConfig  # noqa: E402
from rewardlab.lab.diffusion.readings import read  # noqa: E402
from rewardlab.optimize.diffusion.sampler import sample  # noqa: E402
from rewardlab.robust.aggregate import aggregate  # noqa: E402

GENERATOR = ["--channels", "8,16", "--train-steps", "3", "--gen-batch-size", "8",
             "--train-timesteps", "20"]
SMALL = [*GENERATOR, "--sample-steps", "3", "--eval-prompts", "10", "--proxy-sizes", "60",
         "--bon-pool", "4", "--draft-updates", "2", "--draft-k", "2", "--ddpo-updates", "2",
         "--ddpo-batch", "8", "--fk-particles", "2", "--fk-lambdas", "0,4",
         "--reno-updates", "2", "--d3po-updates", "2", "--d3po-batch", "3"]
TINY = [*SMALL, "--eval-every", "1"]
DRAFT_SMALL = [*GENERATOR, "--sample-steps", "3", "--eval-prompts", "10", "--proxy-sizes", "60",
               "--draft-updates", "2", "--draft-k", "2"]
"""SMALL without the options of bon and ddpo (refused when they are not run)."""


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The command's output folder, its output, its results, and the generator cache it used
    (set here: this module-scoped fixture runs before conftest's per-test cache)."""
    root = tmp_path_factory.mktemp("lab")
    out = root / "diffusion"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REWARDLAB_CACHE", str(root / "cache" / "embeddings"))
        try:
            result = CliRunner().invoke(app, ["lab", "diffusion", "--out", str(out),
                                              "--optimizer", "draft,ddpo,bon,fk,reno,d3po",
                                              *TINY])
        finally:
            torch.set_num_threads(threads)
    assert result.exit_code == 0, result.output
    return out, result.output, json.loads((out / "results.json").read_text()), root / "cache"


def test_writes_curves_for_every_optimizer(run) -> None:
    out, output, results, _ = run
    assert sorted(results["optimizers"]) == ["bon", "d3po", "ddpo", "draft", "fk", "reno"]
    assert results["config"]["optimizers"] == ["draft", "ddpo", "bon", "fk", "reno", "d3po"]
    for name in ("draft", "ddpo", "d3po"):
        curve = results["optimizers"][name]["curve"]
        assert [p["update"] for p in curve] == [0, 1, 2]
        assert curve[0]["kl"] == 0.0  # the base against itself
        assert all(p["kl"] > 0 for p in curve[1:])  # one update moved the sampler
    bon = results["optimizers"]["bon"]["curve"]
    assert [p["n"] for p in bon] == [1, 2, 4]
    for point in bon:
        n = point["n"]
        assert point["kl"] == pytest.approx(math.log(n) - (n - 1) / n)
    assert bon[-1]["proxy"] >= bon[0]["proxy"]  # best-of-n never lowers the proxy's mean
    fk = results["optimizers"]["fk"]["curve"]
    assert [(p["lam"], p["particles"]) for p in fk] == [(0.0, 2), (4.0, 2)]
    assert fk[0]["kl"] == 0.0  # λ = 0: every weight 1, the base sampler
    reno = results["optimizers"]["reno"]["curve"]
    assert [p["update"] for p in reno] == [0, 1, 2] and reno[0]["kl"] == 0.0
    assert "images" not in results
    for name in ("draft", "ddpo", "bon", "fk", "reno", "d3po"):
        summary = results["optimizers"][name]["summary"]
        gold = [p["gold"] for p in results["optimizers"][name]["curve"]]
        assert summary["gold_peak"] == max(gold)
        assert summary["peaks_before_last"] == (int(np.argmax(gold)) < len(gold) - 1)
        assert f"{name:<6} gold" in output
        grid = np.asarray(Image.open(io.BytesIO((out / f"grid_{name}.png").read_bytes())))
        rows = len(gold)
        assert grid.shape == (rows * 64 + (rows - 1) * 2, 10 * 64 + 9 * 2, 3)
    html = (out / "report.html").read_text()
    assert html.count("<img") == 1 + 3 + 3 + 3 + 2 + 3 + 3  # the curves, a row per checkpoint
    assert (out / "curves.png").stat().st_size > 0


def test_first_checkpoint_matches_gold_and_proxy_computed_another_way(run) -> None:
    _, _, results, cache = run
    options = DiffusionLabOptions(eval_prompts=10, proxy_sizes=(60,), sample_steps=3,
                                  generator=GeneratorConfig(channels=(8, 16), train_steps=3,
                                                            gen_batch_size=8,
                                                            train_timesteps=20))
    generator, from_cache = cached_generator(options.generator, root=cache / "generators")
    assert from_cache  # the command stored it
    prompts = lab_prompts(10, np.random.default_rng(options.seed))
    assert [p.count(str(i)) >= 1 for i, p in enumerate(prompts)] == [True] * 10

    def grey_and_gold(latents: torch.Tensor) -> tuple[np.ndarray, float]:
        """The 8×8 samples as the emitted uint8 grey level / 255, and the gold classifier's
        mean log-probability of digits 0–9 on them."""
        grey = np.round(255 * np.clip((latents.numpy().reshape(10, 64) + 1) / 2, 0, 1)) / 255
        log_probs = np.log(gold_classifier().predict_proba(grey))
        return grey, float(np.mean(log_probs[np.arange(10), np.arange(10) % 10]))

    with torch.no_grad():
        grey, gold = grey_and_gold(sample(
            generator.denoiser(), prompts, 3,
            generator=torch.Generator().manual_seed(options.seed + 1)).latents)
    for name in ("draft", "ddpo", "d3po"):  # d3po runs after reno: the base is left as it was
        assert results["optimizers"][name]["curve"][0]["gold"] == pytest.approx(gold, abs=1e-6)
    with torch.no_grad():  # reno starts from its own draws, sampled deterministically (η = 0)
        noise = torch.randn((10, 1, 8, 8), generator=torch.Generator().manual_seed(
            options.seed + 6))
        _, reno_gold = grey_and_gold(sample(generator.denoiser(), prompts, 3, 0.0,
                                            noise=noise).latents)
    assert results["optimizers"]["reno"]["curve"][0]["gold"] == pytest.approx(reno_gold,
                                                                              abs=1e-6)
    model, _ = train_proxy(options)
    images = np.repeat(np.repeat(np.repeat((grey.reshape(10, 8, 8, 1) * 255).round().astype(
        np.uint8), 4, axis=1), 4, axis=2), 3, axis=3)
    proxy = float(np.mean(model.score(prompts, list(images))))
    # score_pixels on the unrounded pixels: within rounding to 1/255 of the uint8 images
    assert results["optimizers"]["draft"]["curve"][0]["proxy"] == pytest.approx(proxy, abs=2e-2)


def test_reno_first_move_by_hand(run) -> None:
    """ReNO's first update: SGD with Nesterov momentum μ = 0.9 moves the noise by
    lr·(1 + μ)·g, and each image's gradient g is clipped to 0.1 (the proxy's gradient in
    the noise is larger), so KL = ‖ε₁ − ε₀‖²/2 = (0.3 · 1.9 · 0.1)²/2 for every prompt."""
    reno = run[2]["optimizers"]["reno"]["curve"]
    assert reno[1]["kl"] == pytest.approx((0.3 * 1.9 * 0.1) ** 2 / 2, rel=1e-4)
    assert reno[1]["kl_se"] < 1e-6
    assert reno[2]["kl"] > reno[1]["kl"]


def test_bad_options_are_one_line() -> None:
    result = CliRunner().invoke(app, ["lab", "diffusion", "--out", "o", "--optimizer", "drat"])
    assert result.exit_code == 2
    assert "did you mean 'draft'" in result.output
    result = CliRunner().invoke(app, ["lab", "diffusion", "--out", "o", "--draft-k", "30"])
    assert result.exit_code != 0 and "--draft-k" in result.output
    assert "Traceback" not in result.output
    result = CliRunner().invoke(app, ["lab", "diffusion", "--out", "o", "--channels", "12,16"])
    assert result.exit_code != 0 and "--channels" in result.output
    assert "multiples of 8" in result.output and "Traceback" not in result.output
    result = CliRunner().invoke(app, ["lab", "diffusion", "--out", "o", "--aggregate", "wco"])
    assert result.exit_code != 0 and "--ensemble 2" in result.output


def test_readings_are_the_registry_aggregations() -> None:
    members = torch.tensor(np.random.default_rng(0).normal(size=(5, 20)))
    assert torch.equal(read(members, "single"), members[0])
    for name in ("mean", "wco", "uwo"):
        np.testing.assert_allclose(read(members, name).numpy(),
                                   aggregate(members.numpy(), name), atol=1e-12)


def test_ensemble_readings_are_optimized_each_on_its_own(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("REWARDLAB_CACHE", str(tmp_path / "cache" / "embeddings"))
    out = tmp_path / "ensemble"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        result = CliRunner().invoke(app, [
            "lab", "diffusion", "--out", str(out), "--optimizer", "draft", "--ensemble", "2",
            "--bootstrap",
            "--aggregate", "wco", *DRAFT_SMALL, "--eval-every", "2"])
    finally:
        torch.set_num_threads(threads)
    assert result.exit_code == 0, result.output
    results = json.loads((out / "results.json").read_text())
    curves = results["optimizers"]
    assert sorted(curves) == ["draft/single", "draft/wco"]
    assert (out / "grid_draft-wco.png").is_file()
    single, wco = curves["draft/single"]["curve"], curves["draft/wco"]["curve"]
    assert single[0]["gold"] == wco[0]["gold"]  # the same base and noise
    # the base's images scored by each member (score_members on the uint8 images): member 0,
    # and the minimum over members
    options = DiffusionLabOptions(eval_prompts=10, proxy_sizes=(60,), sample_steps=3, n_members=2,
                                  bootstrap=True,
                                  generator=GeneratorConfig(channels=(8, 16), train_steps=3,
                                                            gen_batch_size=8,
                                                            train_timesteps=20))
    generator, _ = cached_generator(options.generator)
    prompts = lab_prompts(10, np.random.default_rng(options.seed))
    with torch.no_grad():
        pixels = sample(generator.denoiser(), prompts, 3,
                        generator=torch.Generator().manual_seed(options.seed + 1)).pixels
    model, _ = train_proxy(options)
    members = model.score_members(prompts, list(uint8_images(pixels)))
    assert members.shape == (2, 10)
    assert np.abs(members[0] - members[1]).max() > 1e-3  # bootstrap resamples differ
    assert single[0]["proxy"] == pytest.approx(float(members[0].mean()), abs=2e-2)
    assert wco[0]["proxy"] == pytest.approx(float(members.min(axis=0).mean()), abs=2e-2)
    assert wco[0]["proxy"] <= single[0]["proxy"] + 1e-9


def test_proxy_sizes_each_train_a_proxy_optimized_on_its_own(tmp_path, monkeypatch) -> None:
    """Gao et al.'s proxy sizes: one proxy per size of ``--proxy-sizes``, each trained on its
    own number of pairs and optimized from the same base with the same noise."""
    monkeypatch.setenv("REWARDLAB_CACHE", str(tmp_path / "cache" / "embeddings"))
    out = tmp_path / "sizes"
    small = list(DRAFT_SMALL)
    small[small.index("--proxy-sizes") + 1] = "30,60"
    result = CliRunner().invoke(app, ["lab", "diffusion", "--out", str(out), "--optimizer",
                                      "draft", *small, "--eval-every", "2"])
    assert result.exit_code == 0, result.output
    results = json.loads((out / "results.json").read_text())
    curves = results["optimizers"]
    assert sorted(curves) == ["draft/p30", "draft/p60"]
    # the labelled pairs of each size, ties on top
    assert {k: v["pairs"] - v["ties"] for k, v in results["proxies"].items()} == {
        "30": 30, "60": 60}
    assert [curves[n]["proxy_sizes"] for n in ("draft/p30", "draft/p60")] == [30, 60]
    first = [curves[n]["curve"][0] for n in ("draft/p30", "draft/p60")]
    assert first[0]["gold"] == first[1]["gold"]  # the same base images
    assert first[0]["proxy"] != first[1]["proxy"]  # scored by two different proxies
    assert (out / "grid_draft-p30.png").is_file()
    refused = CliRunner().invoke(app, ["lab", "diffusion", "--out", str(tmp_path / "o"),
                                       "--proxy-sizes", "30,30"])
    assert refused.exit_code == 2 and "each size once" in refused.output
