"""PAL-A ideal points: the distance logit by hand, two annotator groups with
opposed tastes that BT cannot serve at once, and few-shot fitting of a newcomer."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from rewardlab.data.record import Comparison
from rewardlab.models.structured.pal import IdealPoints, PALOptions, load_pal, save_pal, train_pal
from rewardlab.models.training.config import LoopOptions, TrainConfig
from rewardlab.models.training.fit import train_reward_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")


IDEALS = {"A": np.array([10.0, 0.0]), "B": np.array([-10.0, 0.0])}  # opposed tastes


class PointBackbone:
    """A response "x y" is the point (x, y); the prompt is ignored."""

    dim = 2

    def encode(self, prompts, responses, progress=None):
        return np.array([[float(v) for v in r.split()] for r in responses], np.float32)

    def config(self):
        return {"kind": "point"}


def _pairs(annotator: str, group: str, n: int, rng: np.random.Generator) -> list[Comparison]:
    """Pairs labelled by the group's ideal point: the closer response wins."""
    out = []
    while len(out) < n:
        a, b = rng.normal(scale=1.5, size=(2, 2))
        da, db = (np.linalg.norm(v - IDEALS[group]) for v in (a, b))
        if abs(da - db) < 0.1:
            continue
        win, lose = (a, b) if da < db else (b, a)
        out.append(
            Comparison(
                "q",
                (f"{win[0]:.4f} {win[1]:.4f}", f"{lose[0]:.4f} {lose[1]:.4f}"),
                ranking=(0, 1),
                annotator=annotator,
            )
        )
    return out


def _accuracy(model, records) -> float:
    probs = model.prob(
        [r.prompt for r in records],
        [r.chosen for r in records],
        [r.rejected for r in records],
        [r.annotator for r in records],
    )
    return float(np.mean(probs > 0.5))


def test_logit_is_difference_of_distances_by_hand():
    module = IdealPoints(2, 1, PALOptions(k=2, dim=2))
    with torch.no_grad():
        module.f.weight.copy_(torch.eye(2))
        module.f.bias.zero_()
        module.prototypes.copy_(torch.tensor([[0.0, 0.0], [4.0, 0.0]]))
        module.logits.copy_(torch.tensor([[0.0, math.log(3.0)]]))  # w = (1/4, 3/4)
    logits = module.logits
    assert torch.allclose(module.ideal(logits), torch.tensor([[3.0, 0.0]]))
    # y_l = (3, 4): distance 4; y_r = (0, 0): distance 3 → logit = 3 − 4 = −1 (y_r is closer)
    xl, xr = torch.tensor([[3.0, 4.0]]), torch.tensor([[0.0, 0.0]])
    assert module.pair_logit(xl, xr, logits).item() == pytest.approx(-1.0)
    assert module.pair_logit(xr, xl, logits).item() == pytest.approx(1.0)


def test_two_opposed_groups_bt_capped_pal_recovers_each_and_few_shot(tmp_path):
    rng = np.random.default_rng(0)
    groups = {f"a{i}": "A" for i in range(8)} | {f"b{i}": "B" for i in range(4)}
    train = [r for name, g in groups.items() for r in _pairs(name, g, 60, rng)]
    test = {name: _pairs(name, g, 50, rng) for name, g in groups.items()}
    everyone = [r for records in test.values() for r in records]
    majority = 8 / 12
    backbone = PointBackbone()

    bt, _ = train_reward_model(train, backbone, TrainConfig(head="mlp", epochs=60, lr=0.01))
    rc = bt.score(["q"] * len(everyone), [r.chosen for r in everyone])
    rr = bt.score(["q"] * len(everyone), [r.rejected for r in everyone])
    bt_accuracy = float(np.mean(rc > rr))
    assert bt_accuracy <= majority + 0.05

    pal = train_pal(train, backbone, PALOptions(k=2, dim=4, epochs=150, lr=0.02))
    per_group = {
        g: _accuracy(pal, [r for name in groups if groups[name] == g for r in test[name]])
        for g in "AB"
    }
    assert per_group["A"] >= 0.9 and per_group["B"] >= 0.9
    assert _accuracy(pal, everyone) > bt_accuracy + 0.2
    # the two groups lean on different prototypes
    lean_a, lean_b = pal.weights("a0"), pal.weights("b0")
    assert np.argmax(lean_a) != np.argmax(lean_b)

    newcomer = pal.add_annotator("new-b", _pairs("new-b", "B", 20, rng))
    assert _accuracy(newcomer, _pairs("new-b", "B", 200, rng)) >= 0.85
    assert np.array_equal(newcomer.weights("a0"), pal.weights("a0"))  # others untouched
    with pytest.raises(ValueError, match="unknown annotator"):
        pal.prob(["q"], ["0 0"], ["1 1"], ["new-b"])

    loaded = load_pal(save_pal(newcomer, tmp_path / "pal"), backbone)
    probe = test["b1"][:10]
    assert np.array_equal(_accuracy(loaded, probe), _accuracy(newcomer, probe))
    assert np.array_equal(
        loaded.score(["q", "q"], ["0 0", "1 2"], ["new-b", None]),
        newcomer.score(["q", "q"], ["0 0", "1 2"], ["new-b", None]),
    )


def test_options_extend_the_loop_options_with_pal_defaults():
    options = PALOptions()
    assert isinstance(options, LoopOptions)
    assert (options.epochs, options.lr, options.weight_decay, options.batch_size) == (
        60, 1e-2, 0.0, 128)


def test_population_point_is_the_mean_mixture_by_hand():
    module = IdealPoints(2, 2, PALOptions(k=2, dim=2))
    with torch.no_grad():
        module.logits.copy_(torch.tensor([[0.0, math.log(3.0)], [0.0, 0.0]]))
    # w = (1/4, 3/4) and (1/2, 1/2): the mean (3/8, 5/8)
    expected = torch.log(torch.tensor([3 / 8, 5 / 8]))
    assert torch.allclose(module.population(), expected)
    rows = module.logits_of(torch.tensor([1, -1, 0]))
    assert torch.allclose(rows, torch.stack([module.logits[1], expected, module.logits[0]]))


def test_validation_pairs_pick_the_epoch_unseen_annotators_at_the_population_point():
    rng = np.random.default_rng(1)
    groups = {f"a{i}": "A" for i in range(4)} | {f"b{i}": "B" for i in range(2)}
    train = [r for name, g in groups.items() for r in _pairs(name, g, 20, rng)]
    val = _pairs("stranger", "A", 40, rng)  # an annotator never seen in training
    logs: list[dict[str, float]] = []
    model = train_pal(train, PointBackbone(), PALOptions(k=2, dim=4, epochs=40, lr=0.02),
                      val, lambda epoch, log: logs.append(log))
    best = int(np.argmin([log["val_loss"] for log in logs]))
    probs = model.prob([r.prompt for r in val], [r.chosen for r in val],
                       [r.rejected for r in val])  # no annotator: the population point
    assert logs[best]["val_accuracy"] == pytest.approx(float(np.mean(probs > 0.5)))
    # float32 in training, float64 in prob
    assert logs[best]["val_loss"] == pytest.approx(float(-np.mean(np.log(probs))), rel=2e-4)
    assert model.config["n_train_pairs"] == len(train)
