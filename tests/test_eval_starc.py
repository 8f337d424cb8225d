"""STARC distance: invariances, opposite rewards, a hand-computed middle value."""

from __future__ import annotations

import numpy as np
import pytest

from rewardlab.evaluate.starc import starc_between, starc_distance
from rewardlab.models.baselines import LengthReward

R1 = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 3.0]])


def test_zero_under_scaling_and_per_prompt_shift():
    r2 = 2.5 * R1 + np.array([[5.0], [-1.0]])
    assert starc_distance(R1, r2) == pytest.approx(0.0, abs=1e-12)


def test_one_for_negated_reward():
    assert starc_distance(R1, -R1) == pytest.approx(1.0)


def test_middle_value_by_hand():
    # s1 = (1, 0, -1)/√2, s2 = (1, -1, 0)/√2, s1 - s2 = (0, 1, -1)/√2 → ½·1
    assert starc_distance([[1.0, 0.0, -1.0]], [[1.0, -1.0, 0.0]]) == pytest.approx(0.5)


def test_grouped_form_matches_matrix():
    r2 = np.array([[3.0, 1.0, 2.0], [1.0, 0.0, 0.0]])
    groups = [0, 0, 0, 1, 1, 1]
    assert starc_distance(R1.ravel(), r2.ravel(), groups) == pytest.approx(starc_distance(R1, r2))
    # shifting one prompt only is still invisible in the grouped form
    shifted = R1.ravel() + np.array([7, 7, 7, 0, 0, 0])
    assert starc_distance(R1.ravel(), shifted, groups) == pytest.approx(0.0, abs=1e-12)


def test_models():
    d = starc_between(LengthReward(), LengthReward(sign=-1.0), ["p"], [["a", "a b", "a b c"]])
    assert d == pytest.approx(1.0)
