"""Calibration of σ(Δ): ECE (equal-width bins), Brier, NLL, reliability data."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rewardlab.data.record import Comparison
from rewardlab.evaluate.calibration import (
    calibration_report,
    pair_calibration,
    preference_calibration,
)


def test_report_by_hand():
    res = calibration_report([0.1, 0.4, 0.8, 0.9], [0, 1, 1, 0], n_bins=2)
    # bin [0, .5): acc .5, conf .25; bin [.5, 1]: acc .5, conf .85
    assert res["ece"] == pytest.approx(0.5 * 0.25 + 0.5 * 0.35)
    assert res["brier"] == pytest.approx((0.01 + 0.36 + 0.04 + 0.81) / 4)
    expected_nll = -(math.log(0.9) + math.log(0.4) + math.log(0.8) + math.log(0.1)) / 4
    assert res["nll"] == pytest.approx(expected_nll)
    assert res["reliability"]["centers"] == [0.25, 0.75]
    assert res["reliability"]["counts"] == [2, 2]
    assert res["reliability"]["confidence"] == pytest.approx([0.25, 0.85])


def test_probability_one_lands_in_last_bin():
    res = calibration_report([1.0, 0.0], [1, 0], n_bins=10)
    assert res["reliability"]["counts"][9] == 1 and res["reliability"]["counts"][0] == 1
    assert res["ece"] == pytest.approx(0.0)


def test_pairs_both_orders_by_hand():
    ln3 = math.log(3)  # σ(ln 3) = 0.75
    res = pair_calibration([0.0, ln3, 0.0], [0.0, 0.0, ln3])
    assert res["brier"] == pytest.approx((0.25 + 0.0625 + 0.5625) / 3)
    assert res["nll"] == pytest.approx(-(math.log(0.5) + math.log(0.75) + math.log(0.25)) / 3)
    # bins 2, 5, 7 each hold one entry with y=1 and one with y=0: gaps .25, 0, .25
    assert res["ece"] == pytest.approx(2 / 6 * 0.25 + 2 / 6 * 0.25)
    assert res["reliability"]["counts"][2] == res["reliability"]["counts"][7] == 2


def test_bad_input():
    with pytest.raises(ValueError, match="labels"):
        calibration_report([0.5], [2])
    with pytest.raises(ValueError, match="probs"):
        calibration_report([1.5], [1])


class ConstantPreference:
    """P(first ≻ second) = 0.7 whatever the order."""

    def prob(self, prompts, first, second):
        return np.full(len(prompts), 0.7)


def test_preference_model_both_orders_by_hand():
    pairs = [Comparison("p", ("a", "b"), (0, 1)), Comparison("q", ("c", "d"), (1, 0))]
    res = preference_calibration(ConstantPreference(), pairs)
    # every pair gives (0.7, 1) and (0.7, 0): bin 7 has acc .5, conf .7
    assert res["ece"] == pytest.approx(0.2)
    assert res["brier"] == pytest.approx((0.3**2 + 0.7**2) / 2)
    assert res["nll"] == pytest.approx(-(math.log(0.7) + math.log(0.3)) / 2)
