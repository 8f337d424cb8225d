"""Pair and SFT builders: best-vs-worst, reward-augmented, tags, degrees, policy filtration."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from rewardlab.data.io import read_rows, write_jsonl
from rewardlab.models.baselines import LengthReward
from rewardlab.optimize.pairs import (
    best_vs_worst,
    conditional_tags,
    policy_filtration,
    preference_degrees,
    r_squared,
    reward_augmented,
)
from rewardlab.optimize.pool import PromptPool, group_by_prompt


def small() -> list[PromptPool]:
    return [
        PromptPool("q1", ("a", "b", "c"), np.array([0.2, 0.9, 0.5])),
        PromptPool("q2", ("d", "e"), np.array([1.0, 1.0])),  # all tied: no pair
    ]


def test_best_vs_worst_with_gap_and_skip_count():
    built = best_vs_worst(small())
    assert built.skipped == 1
    assert built.rows == [
        {
            "prompt": "q1",
            "chosen": "b",
            "rejected": "a",
            "chosen_score": 0.9,
            "rejected_score": 0.2,
            "gap": pytest.approx(0.7),
        }
    ]


def test_best_vs_random_lower():
    pool = [PromptPool("q", ("a", "b", "c", "d"), np.array([3.0, 1.0, 2.0, 3.0]))]
    picks = {best_vs_worst(pool, rejected="random", seed=s).rows[0]["rejected"] for s in range(30)}
    assert picks == {"b", "c"}  # strictly lower than the best (3.0) only
    assert best_vs_worst(pool, rejected="random", seed=4) == best_vs_worst(
        pool, rejected="random", seed=4
    )
    with pytest.raises(ValueError, match="'rejected'"):
        best_vs_worst(pool, rejected="median")


def test_reward_augmented_doubles_pairs_conditioned_on_scores():
    built = reward_augmented(small(), template="score {score}: {prompt}", digits=1)
    assert built.skipped == 1
    first, second = built.rows
    assert (first["prompt"], first["chosen"], first["rejected"]) == ("score 0.9: q1", "b", "a")
    assert (second["prompt"], second["chosen"], second["rejected"]) == ("score 0.2: q1", "a", "b")
    assert second["gap"] == pytest.approx(-0.7)
    default = reward_augmented(small()).rows[0]["prompt"]
    assert default == "Generate a response of score 0.9:\n\nq1"
    with pytest.raises(ValueError, match="'template'"):
        reward_augmented(small(), template="no fields")


def test_conditional_tags():
    built = conditional_tags(small()[:1], threshold=0.5)
    assert [(row["prompt"], row["completion"]) for row in built.rows] == [
        ("<|bad|>q1", "a"),
        ("<|good|>q1", "b"),
        ("<|good|>q1", "c"),
    ]
    assert built.stats == {"threshold": 0.5, "good_fraction": pytest.approx(2 / 3)}
    # no threshold: the 0.5 quantile (median) of all rewards (0.2, 0.9, 0.5, 1, 1) is 0.9
    by_quantile = conditional_tags(small(), quantile=0.5)
    assert by_quantile.stats["threshold"] == pytest.approx(0.9)
    assert [row["tag"] for row in by_quantile.rows] == ["<|bad|>", "<|good|>", "<|bad|>"] + [
        "<|good|>"
    ] * 2


def test_preference_degrees_keep_the_gap_as_weight():
    pool = [PromptPool("q", tuple("vwxyz"), np.array([5.0, 4.0, 3.0, 2.0, 1.0]))]
    built = preference_degrees(pool, pairs_per_prompt=3)
    # ranks linspace(1, 4, 3) = (1, 2.5, 4) -> (1, 2, 4) (round half to even)
    assert [(row["chosen"], row["rejected"], row["weight"]) for row in built.rows] == [
        ("v", "w", 1.0),
        ("v", "x", 2.0),
        ("v", "z", 4.0),
    ]
    assert preference_degrees(small()).skipped == 1  # q2's only pair has a zero gap


def test_r_squared_by_hand():
    rewards, gold = np.arange(1.0, 6.0), np.array([1.0, 2.0, 10.0, 4.0, 5.0])
    # Σ(r−3)(g−4.4) = 10, Σ(r−3)² = 10, Σ(g−4.4)² = 49.2
    assert r_squared(rewards, gold) == pytest.approx(10.0**2 / (10.0 * 49.2))
    assert np.isnan(r_squared(np.ones(3), np.arange(3.0)))


def test_policy_filtration_drops_mid_range_and_reports_r2():
    pool = [
        PromptPool(
            "q",
            tuple("abcde"),
            np.arange(1.0, 6.0),
            gold=np.array([1.0, 2.0, 10.0, 4.0, 5.0]),
            spread=np.array([0.0, 0.0, 0.0, 0.0, 9.0]),
        )
    ]
    tails = policy_filtration(pool, strategy="tails", band=(0.25, 0.75))
    # quantiles of (1..5) at 0.25/0.75 are 2 and 4: the mid-range reward 3 is dropped
    assert [row["completion"] for row in tails.rows] == ["a", "b", "d", "e"]
    assert tails.skipped == 1
    assert tails.stats["r2_kept"] == pytest.approx(1.0)
    assert tails.stats["r2_all"] == pytest.approx(10.0**2 / (10.0 * 49.2))
    assert tails.rows[0] == {
        "prompt": "q",
        "completion": "a",
        "reward": 1.0,
        "gold": 1.0,
        "spread": 0.0,
    }
    best_worst = policy_filtration(pool, strategy="best-worst")
    assert [row["completion"] for row in best_worst.rows] == ["a", "e"]
    assert [row["completion"] for row in policy_filtration(pool, strategy="best").rows] == ["e"]
    best_random = policy_filtration(pool, strategy="best-random", seed=1).rows
    assert best_random[0]["completion"] == "e" and best_random[1]["completion"] in "abcd"
    # spread above the median spread (0) is unreliable: e is dropped
    certain = policy_filtration(pool, strategy="tails", max_spread_quantile=0.5)
    assert [row["completion"] for row in certain.rows] == ["a", "b", "d"]
    with pytest.raises(ValueError, match="'spread'"):
        policy_filtration(small(), max_spread_quantile=0.5)
    with pytest.raises(ValueError, match="'strategy'"):
        policy_filtration(pool, strategy="middle")


@pytest.fixture(scope="module")
def alpaca_pools(shared_data) -> list[PromptPool]:
    """AlpacaEval instructions with id < 40: 58 candidates each, scored by length, gold = judge."""
    prompts, responses, gold, instructions = [], [], [], {}
    with open(shared_data / "alpaca-eval" / "instructions.jsonl", encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            if row["id"] < 40:
                instructions[row["id"]] = row["instruction"]
                prompts.append(row["instruction"])
                responses.append(row["baseline_output"])
                gold.append(1.5)
    with gzip.open(shared_data / "alpaca-eval" / "outputs.jsonl.gz", "rt", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            if row["id"] in instructions:
                prompts.append(instructions[row["id"]])
                responses.append(row["output"])
                gold.append(row["preference"])
    scores = LengthReward().score(prompts, responses)
    return group_by_prompt(prompts, responses, scores, gold=np.array(gold))


def test_builders_on_alpaca_eval(alpaca_pools, tmp_path):
    pairs = best_vs_worst(alpaca_pools)
    assert len(pairs.rows) == 40 and pairs.skipped == 0
    assert all(len(r["chosen"].split()) > len(r["rejected"].split()) for r in pairs.rows)
    assert all(
        r["gap"] == len(r["chosen"].split()) - len(r["rejected"].split()) for r in pairs.rows
    )
    assert write_jsonl(tmp_path / "ra.jsonl", reward_augmented(alpaca_pools).rows) == 80
    first = next(read_rows(tmp_path / "ra.jsonl"))[1]
    assert first["prompt"].startswith("Generate a response of score ")
    tags = conditional_tags(alpaca_pools, quantile=0.5)
    assert len(tags.rows) == 40 * 58 and 0.45 <= tags.stats["good_fraction"] <= 0.55
    degrees = preference_degrees(alpaca_pools, pairs_per_prompt=4)
    assert all(row["weight"] > 0 for row in degrees.rows)
    filtered = policy_filtration(alpaca_pools, strategy="best-worst")
    assert filtered.stats["kept"] == 80 and filtered.skipped == 40 * 56
    # r2 on all 2320 samples: squared correlation of length and judge preference, by hand
    scores = np.concatenate([p.scores for p in alpaca_pools])
    gold = np.concatenate([p.gold for p in alpaca_pools])
    assert filtered.stats["r2_all"] == pytest.approx(np.corrcoef(scores, gold)[0, 1] ** 2)
    assert 0.0 <= filtered.stats["r2_kept"] <= 1.0
