"""Adaptive best-of-n on hand-built pools whose stopping points are worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from rewardlab.optimize.adaptive import (
    AdaptiveConfig,
    adaptive_best_of_n,
    predicted_gain,
    reference_thresholds,
)
from rewardlab.optimize.pool import PromptPool


def pool(scores, gold=None) -> PromptPool:
    return PromptPool(
        "p", tuple(f"r{i}" for i in range(len(scores))), np.array(scores, float), gold
    )


IN_ORDER = dict(shuffle=False, quantile=None)


def test_threshold_stops_at_first_draw_reaching_it():
    # draws 1 (< 3), then 3 (>= 3): stop after 2, pick index 1
    result = adaptive_best_of_n(
        [pool([1, 3, 2, 5, 4])], AdaptiveConfig(**IN_ORDER), np.array([3.0])
    )
    assert result.n_used.tolist() == [2] and result.chosen.tolist() == [1]


def test_predicted_gain_is_leave_one_out_improvement():
    # seen (0, 10): each held out vs the best of the rest: max(0, 0−10) = 0, max(0, 10−0) = 10
    assert predicted_gain(np.array([0.0, 10.0])) == pytest.approx((0 + 10) / 2)
    assert predicted_gain(np.array([10.0, 0.0, 10.5])) == pytest.approx((10.5 - 10.0) / 3)
    assert predicted_gain(np.array([7.0])) == np.inf


def test_gain_rule_stops_when_another_draw_is_unlikely_to_help():
    # k=2: gain (10−0)/2 = 5 ≥ 0.3; k=3: (10.5−10)/3 ≈ 0.17 < 0.3 -> stop with 10.5
    config = AdaptiveConfig(min_gain=0.3, **IN_ORDER)
    result = adaptive_best_of_n([pool([0, 10, 10.5, 11, 20])], config)
    assert result.n_used.tolist() == [3] and result.chosen.tolist() == [2]


def test_max_n_and_min_n():
    never = adaptive_best_of_n([pool([1, 2, 3, 4, 5])], AdaptiveConfig(max_n=4, **IN_ORDER))
    assert never.n_used.tolist() == [4] and never.chosen.tolist() == [3]
    small_pool = adaptive_best_of_n([pool([1, 2])], AdaptiveConfig(max_n=4, **IN_ORDER))
    assert small_pool.n_used.tolist() == [2]
    # the threshold is met by the first draw, but min_n = 2 forces a second
    patient = AdaptiveConfig(min_n=2, **IN_ORDER)
    assert adaptive_best_of_n([pool([9, 1, 0])], patient, np.array([5.0])).n_used.tolist() == [2]


def test_reference_thresholds():
    pools = [pool([1, 3, 2, 5, 4]), pool([4, 0, 1])]
    np.testing.assert_allclose(reference_thresholds(pools, 0.5, "prompt"), [3.0, 1.0])
    # all 8 rewards (0, 1, 1, 2, 3, 4, 4, 5): median (2 + 3)/2
    np.testing.assert_allclose(reference_thresholds(pools, 0.5, "global"), [2.5, 2.5])
    with pytest.raises(ValueError, match="'reference'"):
        AdaptiveConfig(reference="local")


def test_report_against_fixed_n_at_equal_compute():
    pools = [
        pool([1, 3, 2, 5, 4], gold=np.array([0.0, 1.0, 0.0, 0.0, 0.0])),
        pool([4, 0, 1], gold=np.array([2.0, 0.0, 0.0])),
    ]
    # A stops after 2 draws with 3 (τ = 3); B after 1 draw with 4 (τ = 4)
    result = adaptive_best_of_n(pools, AdaptiveConfig(**IN_ORDER), np.array([3.0, 4.0]))
    assert result.n_used.tolist() == [2, 1] and result.mean_n == 1.5
    assert result.reward == pytest.approx((3 + 4) / 2)
    assert result.gold == pytest.approx((1.0 + 2.0) / 2)
    # mean n 1.5: half best-of-1, half best-of-2.
    # A: E1 = 3, E2 = (0·1 + 1·2 + 2·3 + 3·4 + 4·5)/10 = 4; B: E1 = 5/3, E2 = (1·1 + 2·4)/3 = 3
    assert result.fixed_reward == pytest.approx(((3 + 4) / 2 + (5 / 3 + 3) / 2) / 2)
    # gold, A: E1 = 1/5, E2 = weight of rank 3 (score 3) = 2/10; B: E1 = 2/3, E2 = (2/3)·2
    assert result.fixed_gold == pytest.approx(((0.2 + 0.2) / 2 + (2 / 3 + 4 / 3) / 2) / 2)


def test_shuffled_order_is_seeded_and_uniform():
    rng = np.random.default_rng(0)
    pools = [pool(rng.permutation(5).astype(float)) for _ in range(600)]
    config = AdaptiveConfig(quantile=1.0, max_n=5, seed=7)  # stop exactly at the pool's maximum
    result = adaptive_best_of_n(pools, config)
    assert all(p.scores[c] == 4.0 for p, c in zip(pools, result.chosen, strict=True))
    # the maximum's draw position is uniform on 1..5: mean 3
    assert result.mean_n == pytest.approx(3.0, abs=0.15)
    assert np.array_equal(adaptive_best_of_n(pools, config).n_used, result.n_used)
    other = adaptive_best_of_n(pools, AdaptiveConfig(quantile=1.0, max_n=5, seed=8))
    assert not np.array_equal(other.n_used, result.n_used)
