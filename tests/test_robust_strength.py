"""Preference strength from an ensemble: mean/std of reward gaps, flip, drop, margins."""

from __future__ import annotations

import gzip
import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from rewardlab.data.record import Comparison
from rewardlab.models.baselines import LengthReward
from rewardlab.robust.ensemble import ModelEnsemble
from rewardlab.robust.strength import (
    drop_lowest,
    flip_lowest,
    lowest_fraction,
    oriented_strength,
    preference_strength,
    with_margins,
)


class Fixed:
    """Reward looked up by response."""

    def __init__(self, table: dict[str, float]) -> None:
        self.table = table

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        return np.array([self.table[r] for r in responses], dtype=float)


class CharLength:
    """Reward = number of characters of the response."""

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        return np.array([len(r) for r in responses], dtype=float)


M1 = Fixed({"a": 3.0, "b": 1.0, "c": 0.0, "d": 2.0, "e": 1.0, "f": 1.0, "g": 5.0, "h": 0.0})
M2 = Fixed({"a": 1.0, "b": 2.0, "c": 4.0, "d": 1.0, "e": 2.0, "f": 0.0, "g": 4.0, "h": 1.0})
M3 = Fixed({"a": 2.0, "b": 0.0, "c": 1.0, "d": 3.0, "e": 0.0, "f": 0.0, "g": 6.0, "h": 0.0})
PAIRS = [
    Comparison("p1", ("a", "b"), ranking=(0, 1), meta={"id": 1}),
    Comparison("p2", ("d", "c"), ranking=(1, 0), meta={"id": 2}),  # chosen is "c"
    Comparison("p3", ("e", "f"), ranking=(0, 1), meta={"id": 3}),
    Comparison("p4", ("g", "h"), ranking=(0, 1), meta={"id": 4}),
]
# gaps d_k = r_k(chosen) - r_k(rejected), per pair:
GAPS = np.array(
    [
        [3 - 1, 0 - 2, 1 - 1, 5 - 0],  # member 1
        [1 - 2, 4 - 1, 2 - 0, 4 - 1],  # member 2
        [2 - 0, 1 - 3, 0 - 0, 6 - 0],  # member 3
    ],
    dtype=float,
)


def test_preference_strength_by_hand() -> None:
    mu, sigma = preference_strength(ModelEnsemble([M1, M2, M3]), PAIRS)
    # pair 1: gaps 2, -1, 2 -> mean 1, var ((1)^2 + (-2)^2 + (1)^2) / 3 = 2
    assert mu[0] == pytest.approx(1.0) and sigma[0] == pytest.approx(math.sqrt(2.0))
    np.testing.assert_allclose(mu, GAPS.mean(axis=0))
    np.testing.assert_allclose(sigma, GAPS.std(axis=0))
    # a plain list of reward models works too
    mu_list, _ = preference_strength([M1, M2, M3], PAIRS)
    np.testing.assert_allclose(mu_list, mu)


def test_preference_strength_in_batches_reports_pairs_done() -> None:
    calls = []
    mu, sigma = preference_strength(ModelEnsemble([M1, M2, M3]), PAIRS, batch_size=3,
                                    progress=lambda done, total: calls.append((done, total)))
    np.testing.assert_allclose(mu, GAPS.mean(axis=0))  # the same as in one call
    np.testing.assert_allclose(sigma, GAPS.std(axis=0))
    assert calls == [(0, 4), (3, 4), (4, 4)]  # before each call of the members, and at the end
    with pytest.raises(ValueError, match="batch_size"):
        preference_strength([M1, M2], PAIRS, batch_size=0)


def test_lowest_fraction() -> None:
    mu = np.array([0.5, -1.0, 2.0, -1.0, 0.0, 3.0, 1.0, 4.0, 5.0, 6.0])
    # floor(0.2 * 10) = 2 smallest: the two -1.0 at positions 1 and 3
    np.testing.assert_array_equal(np.flatnonzero(lowest_fraction(mu, 0.2)), [1, 3])
    # a tie at the cut goes to the earlier position
    np.testing.assert_array_equal(np.flatnonzero(lowest_fraction(mu, 0.1)), [1])
    assert not lowest_fraction(mu, 0.0).any()
    with pytest.raises(ValueError, match="q must be"):
        lowest_fraction(mu, 1.2)


def test_flip_lowest_swaps_chosen_and_rejected() -> None:
    mu, _ = preference_strength([M1, M2, M3], PAIRS)
    # mu = [1, -1/3, 2/3, 14/3]; lowest half: pairs 2 and 3
    flipped = flip_lowest(PAIRS, mu, q=0.5)
    assert [r.ranking for r in flipped] == [(0, 1), (0, 1), (1, 0), (0, 1)]
    assert (flipped[1].chosen, flipped[1].rejected) == ("d", "c")
    assert (flipped[2].chosen, flipped[2].rejected) == ("f", "e")
    assert flipped[0] is PAIRS[0]
    assert [r.meta for r in flipped] == [r.meta for r in PAIRS]
    assert [r.responses for r in flipped] == [r.responses for r in PAIRS]
    # recomputing on the flipped records gives -mu on the flipped ones
    mu_after, _ = preference_strength([M1, M2, M3], flipped)
    np.testing.assert_allclose(mu_after, oriented_strength(mu, lowest_fraction(mu, 0.5)))


def test_drop_lowest_and_margins() -> None:
    mu, _ = preference_strength([M1, M2, M3], PAIRS)
    kept = drop_lowest(PAIRS, mu, q=0.25)  # floor(0.25 * 4) = 1: pair 2
    assert [r.meta["id"] for r in kept] == [1, 3, 4]
    marked = with_margins(PAIRS, mu)
    assert [r.strength for r in marked] == pytest.approx([1.0, -1 / 3, 2 / 3, 14 / 3])
    assert PAIRS[0].strength is None  # records are not mutated


def test_bad_pairs() -> None:
    single = Comparison("p", ("a",))
    with pytest.raises(ValueError, match=r"pairs\[1\]: field 'ranking'"):
        preference_strength([M1], [PAIRS[0], single])
    with pytest.raises(ValueError, match="mu must have one value per pair"):
        flip_lowest(PAIRS, np.zeros(3))


def _hh_pairs(shared_data: Path, n: int) -> list[Comparison]:
    sep = "\n\nAssistant:"
    pairs = []
    with gzip.open(shared_data / "hh-rlhf" / "harmless-base-test.jsonl.gz", "rt") as fh:
        for line in fh:
            row = json.loads(line)
            cut = row["chosen"].rfind(sep) + len(sep)
            prompt = row["chosen"][:cut]
            if not row["rejected"].startswith(prompt):
                continue
            chosen, rejected = row["chosen"][cut:].strip(), row["rejected"][cut:].strip()
            pairs.append(Comparison(prompt, (chosen, rejected), ranking=(0, 1)))
            if len(pairs) == n:
                break
    return pairs


def test_strength_on_hh_rlhf(shared_data: Path) -> None:
    pairs = _hh_pairs(shared_data, 200)
    assert len(pairs) == 200
    models = [LengthReward(), CharLength(), LengthReward(sign=-1.0)]
    mu, sigma = preference_strength(models, pairs)
    prompts = [p.prompt for p in pairs]
    gaps = np.stack(
        [
            m.score(prompts, [p.chosen for p in pairs])
            - m.score(prompts, [p.rejected for p in pairs])
            for m in models
        ]
    )
    np.testing.assert_allclose(mu, gaps.mean(axis=0))
    np.testing.assert_allclose(sigma, gaps.std(axis=0))
    flipped = flip_lowest(pairs, mu, q=0.2)
    changed = [
        i for i, (a, b) in enumerate(zip(pairs, flipped, strict=True)) if a.chosen != b.chosen
    ]
    assert len(changed) == 40
    assert set(changed) == set(np.argsort(mu, kind="stable")[:40].tolist())
    # every flipped pair now has the ensemble on the chosen side (or a tie)
    mu_after, _ = preference_strength(models, flipped)
    assert (mu_after[changed] >= 0).all()
