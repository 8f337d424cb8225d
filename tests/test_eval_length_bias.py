"""Length bias: correlations, accuracy split by length, NRG (Singhal et al., 2023)."""

from __future__ import annotations

import numpy as np
import pytest

from rewardlab.data.record import Comparison
from rewardlab.evaluate.length_bias import (
    evaluate_length_bias,
    length_bias_report,
    non_length_reward_gain,
)
from rewardlab.models.baselines import LengthReward


def test_nrg_worked_example():
    """ΔR = 0.35, NRG = 0.05.

    Constructed from the paper's definition (§3.1: 20-token buckets, NRG = the
    within-bucket reward gain averaged with bucket counts as weights); the
    paper's Table 1 gives only aggregate numbers, so the example is built here:
    two buckets, S (10 tokens) and L (30 tokens), ten SFT and ten PPO outputs.
    SFT: 8 in S with mean 0.10, 2 in L with mean 0.60 → mean 0.20.
    PPO: 2 in S with mean 0.15, 8 in L with mean 0.65 → mean 0.55.
    ΔR = 0.35; the gain is +0.05 inside each bucket, so NRG = 0.05.
    """
    sft_r = [0.05, 0.15] * 4 + [0.6, 0.6]
    sft_len = [10] * 8 + [30] * 2
    ppo_r = [0.15, 0.15] + [0.60, 0.70] * 4
    ppo_len = [10] * 2 + [30] * 8
    res = non_length_reward_gain(sft_r, sft_len, ppo_r, ppo_len, bin_width=20)
    assert res["delta_r"] == pytest.approx(0.35)
    assert res["nrg"] == pytest.approx(0.05)
    assert res["ratio"] == pytest.approx(0.05 / 0.35)
    assert [b["start"] for b in res["buckets"]] == [0, 20]


def test_nrg_weights_by_bucket_counts_and_ignores_one_sided_buckets():
    before_r, before_len = [0.0, 0.0, 100.0], [5, 25, 50]  # bucket 2 has no "after" output
    after_r, after_len = [1.0, 1.0, 1.0, 3.0], [5, 6, 7, 25]
    res = non_length_reward_gain(before_r, before_len, after_r, after_len)
    # bucket 0: n = 1 + 3, gain 1; bucket 1: n = 1 + 1, gain 3
    assert res["nrg"] == pytest.approx((4 * 1 + 2 * 3) / 6)
    assert res["delta_r"] == pytest.approx(1.5 - 100 / 3)


def test_report_by_hand():
    chosen, rejected = [3.0, 1.0, 2.0], [1.0, 2.0, 2.0]
    lc, lr = [10, 5, 7], [8, 9, 7]
    res = length_bias_report(chosen, rejected, lc, lr)
    assert res["accuracy"] == pytest.approx((1 + 0 + 0.5) / 3)
    assert res["accuracy_chosen_longer"] == 1.0 and res["n_chosen_longer"] == 1
    assert res["accuracy_chosen_shorter"] == 0.0 and res["n_chosen_shorter"] == 1
    assert res["n_equal_length"] == 1
    assert res["length_baseline_accuracy"] == pytest.approx((1 + 0 + 0.5) / 3)
    x, y = np.array(chosen + rejected), np.array(lc + lr, dtype=float)
    expected_r = ((x - x.mean()) * (y - y.mean())).sum() / np.sqrt(
        ((x - x.mean()) ** 2).sum() * ((y - y.mean()) ** 2).sum())
    assert res["pearson"] == pytest.approx(expected_r)


def test_length_reward_is_perfectly_length_correlated():
    pairs = [Comparison("p", ("a b c", "a"), (0, 1)), Comparison("q", ("a", "a b"), (0, 1))]
    res = evaluate_length_bias(LengthReward(), pairs)
    assert res["pearson"] == pytest.approx(1.0)
    assert res["accuracy_chosen_longer"] == 1.0 and res["accuracy_chosen_shorter"] == 0.0
    assert res["scatter"]["lengths"] == res["scatter"]["rewards"]
