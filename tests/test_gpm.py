"""General preference model: the skew-symmetric score by hand, exact skew-symmetry,
a 3-cycle no scalar reward can fit, and save/load."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from rewardlab.data.record import Comparison
from rewardlab.features.backbones import build_backbone
from rewardlab.models.structured.gpm import (
    GPMOptions,
    fit_gpm_head,
    gpm_score,
    load_gpm,
    save_gpm,
    skew_sigmoid,
    train_gpm,
)
from rewardlab.models.training.config import TrainConfig
from rewardlab.models.training.fit import train_reward_model
from rewardlab.protocols import PreferenceModel, RewardModel

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class OneHotBackbone:
    """Response "A"/"B"/"C" → a fixed one-hot vector (the prompt is ignored)."""

    dim = 3

    def encode(self, prompts, responses, progress=None):
        return np.eye(3, dtype=np.float32)[["ABC".index(r) for r in responses]]

    def config(self):
        return {"kind": "one-hot"}


CYCLE = [("A", "B"), ("B", "C"), ("C", "A")]  # A ≻ B ≻ C ≻ A


def _cycle_records() -> list[Comparison]:
    return [Comparison("q", (w, lo), ranking=(0, 1)) for w, lo in CYCLE]


def test_score_is_rotation_inner_product_by_hand():
    # k = 2 blocks: block 1: 1·6 − 2·5 = −4; block 2: 3·8 − 4·7 = −4; total −8
    first, second = torch.tensor([1.0, 2, 3, 4]), torch.tensor([5.0, 6, 7, 8])
    assert gpm_score(first, second).item() == -8.0
    assert gpm_score(second, first).item() == 8.0
    # k = 1, unit vectors at angles a, b: s = sin(b − a)
    a, b = 0.3, 1.4
    va = torch.tensor([math.cos(a), math.sin(a)], dtype=torch.float64)
    vb = torch.tensor([math.cos(b), math.sin(b)], dtype=torch.float64)
    assert gpm_score(va, vb).item() == pytest.approx(math.sin(b - a), abs=1e-12)
    # σ(s/τ) with s = 1, τ = 0.1: 1 / (1 + e^−10)
    assert skew_sigmoid(np.array([10.0]))[0] == pytest.approx(1 / (1 + math.exp(-10)), abs=1e-15)


def test_skew_sigmoid_sums_to_exactly_one():
    z = np.random.default_rng(0).normal(scale=20, size=1000)
    assert np.all(skew_sigmoid(z) + skew_sigmoid(-z) == 1.0)
    assert skew_sigmoid(np.array([0.0]))[0] == 0.5


def test_three_cycle_bt_at_most_two_gpm_all_three():
    backbone = OneHotBackbone()
    records = _cycle_records()
    prompts = ["q"] * 3
    winners, losers = [w for w, _ in CYCLE], [lo for _, lo in CYCLE]
    bt, _ = train_reward_model(records, backbone, TrainConfig(epochs=200, lr=0.05, patience=50))
    bt_right = int(np.sum(bt.score(prompts, winners) > bt.score(prompts, losers)))
    assert bt_right <= 2  # no scalar can order a cycle
    gpm = train_gpm(records, backbone, GPMOptions(k=1, epochs=300, lr=0.05, patience=50))
    probs = gpm.prob(prompts, winners, losers)
    assert int(np.sum(probs > 0.5)) == 3
    assert probs.min() > 0.9
    # the learned 2-D embeddings sit roughly 120° apart, going round the circle
    v = gpm.embed(prompts, ["A", "B", "C"])
    angles = np.degrees(np.arctan2(v[:, 1], v[:, 0]))
    steps = np.mod(np.diff(np.r_[angles, angles[0]]), 360)
    assert np.allclose(steps, 120, atol=25)


def test_prob_is_skew_symmetric_exactly_and_not_a_reward_model(tmp_path):
    backbone = build_backbone("hashing", n_features=256)
    rng = np.random.default_rng(0)
    words = ["good", "bad", "fine", "kind", "rude", "clear"]
    records = [
        Comparison(
            f"p{i}", (f"{words[i % 3]} answer {i}", f"{words[3 + i % 3]} reply {i}"), ranking=(0, 1)
        )
        for i in range(40)
    ]
    model = train_gpm(records, backbone, GPMOptions(k=2, epochs=5))
    assert isinstance(model, PreferenceModel)
    assert not isinstance(model, RewardModel)  # a GPM has no scalar score
    prompts = [f"x{i}" for i in range(30)]
    a = [" ".join(rng.choice(words, 3)) for _ in range(30)]
    b = [" ".join(rng.choice(words, 4)) for _ in range(30)]
    forward, backward = model.prob(prompts, a, b), model.prob(prompts, b, a)
    assert np.all(forward + backward == 1.0)
    assert len(set(np.round(forward, 6))) > 5  # not a constant 0.5
    loaded = load_gpm(save_gpm(model, tmp_path / "gpm"))
    assert np.array_equal(loaded.prob(prompts, a, b), forward)
    with pytest.raises(ValueError, match="format"):
        from rewardlab.models.structured.prm import load_prm

        load_prm(tmp_path / "gpm")


def test_no_pairs_is_an_error():
    with pytest.raises(ValueError, match="no ranked pairs"):
        train_gpm([Comparison("q", ("a",))], OneHotBackbone())
    with pytest.raises(ValueError, match="no training pairs"):
        fit_gpm_head(np.zeros((0, 3), np.float32), np.zeros((0, 3), np.float32), GPMOptions())
