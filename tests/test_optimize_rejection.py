"""Rejection sampling (RAFT top-1, top-k, quantile, Bradley–Terry choice) and curated rounds."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from rewardlab.optimize.pool import PromptPool
from rewardlab.optimize.rejection import (
    RejectionConfig,
    curated_round,
    rejection_sample,
    select,
    sft_row,
)


def pools() -> list[PromptPool]:
    return [
        PromptPool("q1", ("a", "b", "c", "d"), np.array([0.2, 0.9, 0.5, 0.9])),
        PromptPool("q2", ("e", "f"), np.array([1.0, -1.0])),
    ]


def completions(rows) -> list[str]:
    return [row["completion"] for row in rows]


def test_top1_is_raft_and_ties_keep_pool_order():
    rows = rejection_sample(pools(), RejectionConfig(method="top1"))
    assert rows == [
        {"prompt": "q1", "completion": "b", "reward": 0.9},
        {"prompt": "q2", "completion": "e", "reward": 1.0},
    ]


def test_topk_and_quantile():
    assert completions(rejection_sample(pools(), RejectionConfig(method="topk", k=3))) == [
        "b",
        "d",
        "c",
        "e",
        "f",
    ]
    # q1: 0.5-quantile of (0.2, 0.5, 0.9, 0.9) is (0.5 + 0.9)/2 = 0.7 -> b, d; q2: 0 -> e
    rows = rejection_sample(pools(), RejectionConfig(method="quantile", quantile=0.5))
    assert completions(rows) == ["b", "d", "e"]


def test_sample_follows_bradley_terry_choice():
    scores = np.array([0.0, math.log(3.0)])  # P = (1/4, 3/4) at T = 1
    rng = np.random.default_rng(0)
    config = RejectionConfig(method="sample")
    counts = Counter(int(select(scores, config, rng)[0]) for _ in range(4000))
    assert counts[1] / 4000 == pytest.approx(0.75, abs=0.03)
    # T = 0.5 squares the odds: P(1) = 9/10
    hot = RejectionConfig(method="sample", temperature=0.5)
    counts = Counter(int(select(scores, hot, rng)[0]) for _ in range(4000))
    assert counts[1] / 4000 == pytest.approx(0.9, abs=0.02)
    first = rejection_sample(pools(), RejectionConfig(method="sample", seed=5))
    assert first == rejection_sample(pools(), RejectionConfig(method="sample", seed=5))


def test_conversational_rows():
    rows = rejection_sample(pools()[1:], RejectionConfig(conversational=True))
    assert rows == [
        {
            "messages": [{"role": "user", "content": "q2"}, {"role": "assistant", "content": "e"}],
            "reward": 1.0,
        }
    ]
    assert sft_row("p", "c", tag="x") == {"prompt": "p", "completion": "c", "tag": "x"}


def test_bad_config():
    with pytest.raises(ValueError, match="'method'"):
        RejectionConfig(method="best")
    with pytest.raises(ValueError, match="'quantile'"):
        RejectionConfig(quantile=1.5)
    with pytest.raises(ValueError, match="'k'"):
        RejectionConfig(k=0)


def test_curated_round_mixes_the_requested_fraction_deterministically():
    original = [{"prompt": f"o{i}", "completion": f"x{i}"} for i in range(10)]
    config = RejectionConfig(method="topk", k=2)  # 4 curated rows
    rows = curated_round(pools(), original, 1, fraction_original=0.6, config=config, seed=3)
    # λ/(1−λ)·n = 0.6/0.4·4 = 6 original rows
    origins = Counter(row["origin"] for row in rows)
    assert origins == {"curated": 4, "original": 6}
    assert {row["completion"] for row in rows if row["origin"] == "curated"} == {"b", "d", "e", "f"}
    assert len({row["prompt"] for row in rows if row["origin"] == "original"}) == 6
    again = curated_round(pools(), original, 1, fraction_original=0.6, config=config, seed=3)
    assert again == rows
    other_round = curated_round(pools(), original, 2, fraction_original=0.6, config=config, seed=3)
    assert other_round != rows
    only_curated = curated_round(pools(), original, 0, fraction_original=0.0, config=config)
    assert Counter(row["origin"] for row in only_curated) == {"curated": 4}


def test_curated_round_errors():
    with pytest.raises(ValueError, match="'fraction_original'"):
        curated_round(pools(), [], 0, fraction_original=1.0)
    with pytest.raises(ValueError, match="'original'"):
        curated_round(pools(), [{"prompt": "o", "completion": "x"}], 0, fraction_original=0.5)
