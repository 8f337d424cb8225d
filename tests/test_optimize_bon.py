"""Unbiased best-of-n estimator, KL of best-of-n, and the BoN curve on real AlpacaEval outputs."""

from __future__ import annotations

import gzip
import itertools
import json
import math
import time

import numpy as np
import pytest

from rewardlab.models.baselines import LengthReward
from rewardlab.optimize.bon import (
    best_of_n_curve,
    bon_weights,
    bon_weights_with_replacement,
    expected_best_of_n,
    kl_bon,
    kl_bon_exact,
)
from rewardlab.optimize.pool import PromptPool, group_by_prompt


def pool(scores, gold=None) -> PromptPool:
    return PromptPool("p", tuple(f"r{i}" for i in range(len(scores))), np.array(scores), gold)


def test_required_example_matches_subset_enumeration():
    proxy = [0.1, 0.5, 0.3, 0.9]
    gold = [1.0, 2.0, 0.0, -1.0]
    subsets = list(itertools.combinations(range(4), 2))
    by_enumeration = sum(gold[max(s, key=lambda i: proxy[i])] for s in subsets) / len(subsets)
    # sorted by proxy: gold (1, 0, 2, -1); weights (0, 1/6, 2/6, 3/6)
    expected = 0 * 1 + (1 / 6) * 0 + (2 / 6) * 2 + (3 / 6) * (-1)
    assert expected == pytest.approx(1 / 6)
    assert by_enumeration == pytest.approx(1 / 6)
    assert expected_best_of_n(np.array(proxy), 2, np.array(gold)) == pytest.approx(1 / 6)


def test_weights_by_hand_and_against_exact_binomials():
    np.testing.assert_allclose(bon_weights(4, 2), [0, 1 / 6, 2 / 6, 3 / 6])
    np.testing.assert_allclose(bon_weights(3, 1), [1 / 3, 1 / 3, 1 / 3])
    for n in range(1, 61):
        exact = [math.comb(i - 1, n - 1) / math.comb(60, n) if i >= n else 0 for i in range(1, 61)]
        np.testing.assert_allclose(bon_weights(60, n), exact, rtol=1e-10, atol=1e-300)


def test_weights_stable_for_large_pools():
    for n in (1, 2, 50, 2500, 4999, 5000):
        weights = bon_weights(5000, n)
        assert np.all(np.isfinite(weights))
        assert weights.sum() == pytest.approx(1.0, abs=1e-9)
    assert bon_weights(5000, 5000)[-1] == pytest.approx(1.0)
    # top weight: C(4999, 1)/C(5000, 2) = 2/5000
    assert bon_weights(5000, 2)[-1] == pytest.approx(2 / 5000)


def test_matches_enumeration_for_every_n():
    rng = np.random.default_rng(3)
    proxy, gold = rng.normal(size=7), rng.normal(size=7)
    for n in range(1, 8):
        subsets = list(itertools.combinations(range(7), n))
        expected = np.mean([gold[max(s, key=lambda i: proxy[i])] for s in subsets])
        assert expected_best_of_n(proxy, n, gold) == pytest.approx(expected)
        expected_proxy = np.mean([max(proxy[list(s)]) for s in subsets])
        assert expected_best_of_n(proxy, n) == pytest.approx(expected_proxy)


def test_ties_are_broken_at_random():
    # subsets of 2 from proxy (1, 1, 0): {a, b} tie -> gold (3 + 0)/2; {a, c} -> 3; {b, c} -> 0
    expected = (1.5 + 3.0 + 0.0) / 3
    assert expected_best_of_n(np.array([1.0, 1.0, 0.0]), 2, np.array([3.0, 0.0, 5.0])) == (
        pytest.approx(expected)
    )
    # the pool's order does not matter
    assert expected_best_of_n(np.array([0.0, 1.0, 1.0]), 2, np.array([5.0, 0.0, 3.0])) == (
        pytest.approx(expected)
    )


def test_kl_bon():
    assert kl_bon(1) == 0.0
    assert kl_bon(4) == pytest.approx(math.log(4) - 3 / 4)
    np.testing.assert_allclose(kl_bon(np.array([2, 8])), [math.log(2) - 0.5, math.log(8) - 7 / 8])
    with pytest.raises(ValueError, match="'n'"):
        kl_bon(0)


def test_exact_kl_of_a_tiny_pool_by_hand():
    proxy = np.array([0.3, 0.1, 0.2])
    # without replacement, n = 2 of 3: ranks picked with p = (0, 1/3, 2/3)
    assert kl_bon_exact(proxy, 2) == pytest.approx(2 / 3 * math.log(2))
    # with replacement: p = (1/9, 3/9, 5/9)
    np.testing.assert_allclose(bon_weights_with_replacement(3, 2), [1 / 9, 3 / 9, 5 / 9])
    by_hand = (1 / 9) * math.log(1 / 3) + (5 / 9) * math.log(5 / 3)
    assert kl_bon_exact(proxy, 2, replace=True) == pytest.approx(by_hand)
    assert by_hand < kl_bon(2)  # 0.162 < log 2 − 1/2 = 0.193
    assert kl_bon_exact(proxy, 1) == 0.0
    assert kl_bon_exact(proxy, 3) == pytest.approx(math.log(3))  # always the top one
    # ties share their block's mean: ranks 2 and 3 tied → p = (0, 1/2, 1/2)
    assert kl_bon_exact(np.array([1.0, 1.0, 0.0]), 2) == pytest.approx(math.log(1.5))


def test_exact_kl_at_n_1_is_exactly_zero_and_never_negative():
    # n = 1 picks uniformly: KL 0 exactly, where Σ p log(N p) rounded to ±1e-12 (N = 1000)
    for size in (2, 7, 49, 56, 57, 1000, 1024):
        proxy = np.random.default_rng(size).normal(size=size)
        assert kl_bon_exact(proxy, 1) == 0.0
        assert kl_bon_exact(proxy, 1, replace=True) == 0.0
        assert kl_bon_exact(np.zeros(size), 2) == 0.0  # all tied: uniform picks
        assert min(kl_bon_exact(proxy, n) for n in (2, size)) > 0
    pools = [PromptPool(f"p{i}", tuple(f"r{j}" for j in range(1000)),
                        np.random.default_rng(i).normal(size=1000)) for i in range(3)]
    point = best_of_n_curve(pools, [1])[0]
    assert point["kl_exact"] == 0.0 and point["kl_exact_with_replacement"] == 0.0


def test_exact_kl_with_replacement_stays_below_the_bound_and_reaches_it():
    for n in (2, 4, 16, 100):
        for size in (2, 5, 58, 1000):
            exact = kl_bon_exact(np.arange(size, dtype=float), n, replace=True)
            assert exact <= kl_bon(n) + 1e-12
    gaps = [kl_bon(4) - kl_bon_exact(np.arange(size, dtype=float), 4, replace=True)
            for size in (10, 100, 1000, 10000)]
    assert gaps[0] > 1e-3 and all(a > b > 0 for a, b in zip(gaps, gaps[1:], strict=False))
    assert gaps[-1] < 1e-7
    # without replacement it lies above the bound and comes down to it
    above = [kl_bon_exact(np.arange(size, dtype=float), 4) for size in (10, 100, 10000)]
    assert above[0] > above[1] > above[2] > kl_bon(4)
    assert above[2] - kl_bon(4) < 1e-3


def test_curve_skips_small_pools_and_averages_by_hand():
    pools = [pool([0.1, 0.5, 0.3, 0.9], [1.0, 2.0, 0.0, -1.0]), pool([2.0, 1.0], [0.0, 4.0])]
    curve = best_of_n_curve(pools, [1, 2, 3])
    one, two, three = curve
    assert one["proxy"] == pytest.approx(((0.1 + 0.5 + 0.3 + 0.9) / 4 + 1.5) / 2)
    assert one["gold"] == pytest.approx((0.5 + 2.0) / 2)
    # n = 2: first pool 1/6 (gold), second pool picks 2.0 -> gold 0
    assert two["gold"] == pytest.approx((1 / 6 + 0.0) / 2)
    assert (two["prompts"], two["skipped"]) == (2, 0)
    # n = 3: only the first pool; weights (0, 0, 1/4, 3/4) on gold sorted (1, 0, 2, -1)
    assert (three["prompts"], three["skipped"]) == (1, 1)
    assert three["gold"] == pytest.approx(0.25 * 2 + 0.75 * -1)
    assert three["kl"] == pytest.approx(math.log(3) - 2 / 3)
    assert three["sqrt_kl"] == pytest.approx(math.sqrt(three["kl"]))
    # exact KL, mean over prompts: n = 2 picks ranks with p = (0, 1/6, 2/6, 3/6) in the
    # pool of 4 and always the top one in the pool of 2 (log 2)
    four = (1 / 6) * math.log(4 / 6) + (2 / 6) * math.log(8 / 6) + (3 / 6) * math.log(2)
    assert two["kl_exact"] == pytest.approx((four + math.log(2)) / 2)
    # with replacement: (1/16, 3/16, 5/16, 7/16) and (1/4, 3/4)
    drawn4 = sum(p * math.log(4 * p) for p in (1 / 16, 3 / 16, 5 / 16, 7 / 16))
    drawn2 = sum(p * math.log(2 * p) for p in (1 / 4, 3 / 4))
    assert two["kl_exact_with_replacement"] == pytest.approx((drawn4 + drawn2) / 2)
    assert three["kl_exact"] == pytest.approx(0.25 * math.log(1.0) + 0.75 * math.log(3.0))


def test_curve_without_gold_and_bad_input():
    curve = best_of_n_curve([pool([1.0, 2.0])], [2, 5])
    assert curve[0]["gold"] is None and curve[0]["proxy"] == 2.0
    assert curve[1]["proxy"] is None and curve[1]["skipped"] == 1
    assert curve[1]["kl_exact"] is None and curve[1]["kl_exact_with_replacement"] is None
    with pytest.raises(ValueError, match="'gold'"):
        best_of_n_curve([pool([1.0, 2.0], [0.0, 1.0]), pool([1.0, 2.0])], [1])
    with pytest.raises(ValueError, match="'ns'"):
        best_of_n_curve([pool([1.0, 2.0])], [0])


def test_curve_is_fast_on_alpaca_eval_sized_pools():
    rng = np.random.default_rng(0)
    pools = [
        PromptPool(
            str(i), ("",) * 58, rng.integers(0, 20, size=58).astype(float), rng.normal(size=58)
        )
        for i in range(805)
    ]
    ns = [1, 2, 3, 4, 6, 8, 12, 16, 32, 58]
    start = time.perf_counter()
    curve = best_of_n_curve(pools, ns)
    assert time.perf_counter() - start < 1.0
    # spot check one prompt against the single-pool estimator (heavy ties here)
    single = best_of_n_curve(pools[:1], [8])[0]["gold"]
    assert single == pytest.approx(expected_best_of_n(pools[0].scores, 8, pools[0].gold))
    assert [point["prompts"] for point in curve] == [805] * len(ns)


def _alpaca_pools(root, max_id: int) -> tuple[list[str], list[str], np.ndarray]:
    """(prompts, responses, gold) for instructions with id < max_id; the baseline gets 1.5."""
    prompts, responses, gold = [], [], []
    instructions = {}
    with open(root / "alpaca-eval" / "instructions.jsonl", encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            if row["id"] < max_id:
                instructions[row["id"]] = row["instruction"]
                prompts.append(row["instruction"])
                responses.append(row["baseline_output"])
                gold.append(1.5)
    with gzip.open(root / "alpaca-eval" / "outputs.jsonl.gz", "rt", encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            if row["id"] in instructions:
                prompts.append(instructions[row["id"]])
                responses.append(row["output"])
                gold.append(row["preference"])
    return prompts, responses, np.array(gold)


def test_bon_curve_on_alpaca_eval(shared_data):
    prompts, responses, gold = _alpaca_pools(shared_data, max_id=140)  # id 131 has fewer candidates
    by_length = group_by_prompt(
        prompts, responses, LengthReward().score(prompts, responses), gold=gold
    )
    by_gold = group_by_prompt(prompts, responses, gold, gold=gold)
    assert len(by_length) == 140 and max(len(p) for p in by_length) == 58
    ns = list(range(1, 59))
    gold_curve = [point["gold"] for point in best_of_n_curve(by_gold, ns)]
    length_curve = best_of_n_curve(by_length, ns)
    # picking by the gold itself can only improve the gold as n grows
    assert np.all(np.diff(gold_curve) > 0)
    # n = 1 is the mean of each pool; n = N picks each pool's best
    assert gold_curve[0] == pytest.approx(np.mean([p.gold.mean() for p in by_gold]))
    full = [p for p in by_gold if len(p) == 58]
    assert best_of_n_curve(full, [58])[0]["gold"] == pytest.approx(
        np.mean([p.gold.max() for p in full])
    )
    # the length proxy's own expected score rises with n, and gold-picking beats it
    proxy = [point["proxy"] for point in length_curve]
    assert np.all(np.diff(proxy) > 0)
    assert all(
        g >= point["gold"] - 1e-12 for g, point in zip(gold_curve, length_curve, strict=True)
    )
    assert sum(point["skipped"] for point in length_curve) > 0  # some prompts have 56 candidates
