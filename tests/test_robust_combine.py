"""Combinations of several reward models, including the constrained (Lagrangian) combiner."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pytest

from rewardlab.models.baselines import LengthReward
from rewardlab.protocols import RewardModel
from rewardlab.robust.combine import (
    ConstrainedCombiner,
    HarmonicMean,
    LogSigmoidSum,
    ThresholdedSum,
    WeightedSum,
)


class Fixed:
    """Reward looked up by response."""

    def __init__(self, table: dict[str, float]) -> None:
        self.table = table

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        return np.array([self.table[r] for r in responses], dtype=float)


A = Fixed({"x": 3.0, "y": 1.0})
B = Fixed({"x": 2.0, "y": 5.0})
P = ["p", "p"]
R = ["x", "y"]


def test_weighted_sum() -> None:
    model = WeightedSum([A, B], weights=[2.0, -1.0])
    assert isinstance(model, RewardModel)
    np.testing.assert_allclose(model.score(P, R), [2 * 3 - 2, 2 * 1 - 5])
    np.testing.assert_allclose(WeightedSum([A, B]).score(P, R), [5.0, 6.0])
    with pytest.raises(ValueError, match="weights"):
        WeightedSum([A, B], weights=[1.0])


def test_log_sigmoid_sum() -> None:
    refs = {"p": "ref"}
    a = Fixed({"x": 3.0, "y": 1.0, "ref": 2.0})
    b = Fixed({"x": 2.0, "y": 5.0, "ref": 4.0})
    model = LogSigmoidSum([a, b], refs)

    def ls(z: float) -> float:
        return -math.log(1 + math.exp(-z))

    expected = [ls(3 - 2) + ls(2 - 4), ls(1 - 2) + ls(5 - 4)]
    np.testing.assert_allclose(model.score(P, R), expected)


def test_harmonic_mean_lambda_harmonic() -> None:
    a = Fixed({"x": 0.5, "y": 1.0})
    b = Fixed({"x": 0.25, "y": 1.0})
    model = HarmonicMean([a, b], weights=[0.3, 0.7])
    expected = [1 / (0.3 / 0.5 + 0.7 / 0.25), 1.0]
    np.testing.assert_allclose(model.score(P, R), expected)
    # weights are normalized to sum to one
    np.testing.assert_allclose(HarmonicMean([a, b], weights=[3, 7]).score(P, R), expected)
    # equal weights: the plain harmonic mean 2 / (1/0.5 + 1/0.25)
    np.testing.assert_allclose(HarmonicMean([a, b]).score(P, R)[0], 2 / (2 + 4))


def test_harmonic_mean_needs_unit_interval() -> None:
    ok = Fixed({"x": 0.5, "y": 0.5})
    with pytest.raises(ValueError, match=r"models\[1\] gave reward 0.0 for sample 0"):
        HarmonicMean([ok, Fixed({"x": 0.0, "y": 0.5})]).score(P, R)
    with pytest.raises(ValueError, match=r"models\[0\].*\(0, 1\]"):
        HarmonicMean([LengthReward(), Fixed({"a b": 0.5, "c": 0.5})]).score(P, ["a b", "c"])
    with pytest.raises(ValueError, match="weights"):
        HarmonicMean([ok, ok], weights=[-1.0, 2.0])


def test_thresholded_sum() -> None:
    model = ThresholdedSum([A, B], thresholds=[2.0, 4.0])
    # x: min(3,2) + min(2,4) = 4;  y: min(1,2) + min(5,4) = 5
    np.testing.assert_allclose(model.score(P, R), [4.0, 5.0])
    weighted = ThresholdedSum([A, B], thresholds=[2.0, 4.0], weights=[1.0, 0.5])
    np.testing.assert_allclose(weighted.score(P, R), [2 + 1.0, 1 + 2.0])


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def test_constrained_multipliers_follow_the_sigmoid_gradient_step() -> None:
    combiner = ConstrainedCombiner([A, B], thresholds=[1.0, 2.0], lr=0.5)
    np.testing.assert_array_equal(combiner.multipliers_, [0.0, 0.0])
    np.testing.assert_allclose(combiner.weights, [0.5, 0.5])
    # batch means (2, 1): component 0 above its threshold (loses weight), 1 below (gains)
    lam = combiner.update(np.array([[3.0, 1.0], [0.0, 2.0]]))
    # λ ← λ − η σ(λ)(1 − σ(λ)) (mean − θ), σ(0)(1 − σ(0)) = 1/4
    np.testing.assert_allclose(lam, [0.0 - 0.5 * 0.25 * (2 - 1), 0.0 - 0.5 * 0.25 * (1 - 2)])
    # second step from λ = (−0.125, 0.125), batch means (3, 4): both above
    s0, s1 = _sigmoid(-0.125), _sigmoid(0.125)
    lam2 = combiner.update(np.array([[3.0, 3.0], [4.0, 4.0]]))
    expected = [-0.125 - 0.5 * s0 * (1 - s0) * 2, 0.125 - 0.5 * s1 * (1 - s1) * 2]
    np.testing.assert_allclose(lam2, expected)
    np.testing.assert_allclose(combiner.weights, [_sigmoid(v) for v in expected])


def test_constrained_combined_reward_is_the_sigmoid_weighted_sum() -> None:
    combiner = ConstrainedCombiner([A, B], thresholds=[1.0, 2.0])
    # λ = 0: both weights ½
    np.testing.assert_allclose(combiner.score(P, R), [0.5 * (3 + 2), 0.5 * (1 + 5)])
    combiner.multipliers_ = np.array([1.5, -1.0])
    w0, w1 = _sigmoid(1.5), _sigmoid(-1.0)
    np.testing.assert_allclose(combiner.score(P, R), [w0 * 3 + w1 * 2, w0 * 1 + w1 * 5])
    np.testing.assert_array_equal(combiner.component_scores(P, R), [[3, 1], [2, 5]])


def test_constrained_weights_never_turn_negative() -> None:
    """The old form Σ(1 − λ_i) r_i + λ_i θ_i gave a negative weight once λ_i > 1: a higher
    component reward then lowered the total. With σ(λ) every weight stays in (0, 1)."""
    combiner = ConstrainedCombiner([A], thresholds=[0.0], lr=10.0)
    for _ in range(200):  # the component stays far below its threshold: λ keeps growing
        combiner.update(np.array([[-5.0, -5.0]]))
    assert combiner.multipliers_[0] > 1.0
    assert 0.0 < combiner.weights[0] < 1.0
    low, high = combiner.combine(np.array([[1.0, 2.0]]))
    assert high > low  # more component reward is never worse
    combiner.multipliers_ = np.array([3.0])  # the old form would give (1 − 3) = −2 per unit
    low, high = combiner.combine(np.array([[1.0, 2.0]]))
    assert high - low == pytest.approx(_sigmoid(3.0))


def test_constrained_bad_input() -> None:
    combiner = ConstrainedCombiner([A, B], thresholds=[1.0, 2.0])
    with pytest.raises(ValueError, match="component_rewards"):
        combiner.update(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="empty"):
        combiner.update(np.zeros((2, 0)))
    with pytest.raises(ValueError, match="thresholds"):
        ConstrainedCombiner([A, B], thresholds=[1.0])
    with pytest.raises(ValueError, match="lr"):
        ConstrainedCombiner([A, B], thresholds=[1.0, 1.0], lr=0.0)
    with pytest.raises(ValueError, match="initial_multiplier"):
        ConstrainedCombiner([A, B], thresholds=[1.0, 1.0], initial_multiplier=float("nan"))
    with pytest.raises(ValueError, match="models"):
        WeightedSum([])
