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


def test_constrained_multiplier_rises_above_threshold_and_falls_to_zero() -> None:
    combiner = ConstrainedCombiner([A, B], thresholds=[1.0, 2.0], lr=0.5)
    np.testing.assert_array_equal(combiner.multipliers_, [0.0, 0.0])
    # batch means (2, 1): component 0 above its threshold, component 1 below
    lam = combiner.update(np.array([[3.0, 1.0], [0.0, 2.0]]))
    np.testing.assert_allclose(lam, [0.0 + 0.5 * (2 - 1), max(0.0, 0.0 + 0.5 * (1 - 2))])
    # batch means (3, 4): both above
    lam = combiner.update(np.array([[3.0, 3.0], [4.0, 4.0]]))
    np.testing.assert_allclose(lam, [0.5 + 0.5 * 2, 0.0 + 0.5 * 2])
    # batches at zero: both below, multipliers fall and stop at the 0 floor
    history = [combiner.update(np.zeros((2, 3))) for _ in range(4)]
    np.testing.assert_allclose(history[0], [1.5 - 0.5, 1.0 - 1.0])
    np.testing.assert_allclose(history[1], [0.5, 0.0])
    np.testing.assert_allclose(history[2], [0.0, 0.0])
    np.testing.assert_allclose(history[3], [0.0, 0.0])


def test_constrained_combined_reward() -> None:
    combiner = ConstrainedCombiner([A, B], thresholds=[1.0, 2.0], initial_multiplier=0.0)
    # no multipliers yet: the plain sum
    np.testing.assert_allclose(combiner.score(P, R), [3 + 2, 1 + 5])
    combiner.multipliers_ = np.array([1.5, 1.0])
    # R = sum_i (1 - lam_i) r_i + lam_i theta_i
    x = (1 - 1.5) * 3 + 1.5 * 1 + (1 - 1.0) * 2 + 1.0 * 2
    y = (1 - 1.5) * 1 + 1.5 * 1 + (1 - 1.0) * 5 + 1.0 * 2
    np.testing.assert_allclose(combiner.score(P, R), [x, y])
    np.testing.assert_array_equal(combiner.component_scores(P, R), [[3, 1], [2, 5]])


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
    with pytest.raises(ValueError, match="models"):
        WeightedSum([])
