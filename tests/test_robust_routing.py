"""Routing the pairs an ensemble is least sure about to people."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pytest

from rewardlab.data.record import Comparison
from rewardlab.registry import UnknownNameError
from rewardlab.robust.routing import ROUTING_CRITERIA, pair_uncertainty, route_to_humans


class Fixed:
    """Reward looked up by response."""

    def __init__(self, table: dict[str, float]) -> None:
        self.table = table

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        return np.array([self.table[r] for r in responses], dtype=float)


# member gaps r_k(first) - r_k(second) per record:
#   r0: 1, 1, 1      r1: 3, -1, -2      r2: 0.5, -0.5, 0.5      r3: 4, 4, 2
M1 = Fixed({"a": 1, "b": 0, "c": 3, "d": 0, "e": 0.5, "f": 0, "g": 4, "h": 0})
M2 = Fixed({"a": 1, "b": 0, "c": 0, "d": 1, "e": 0.0, "f": 0.5, "g": 4, "h": 0})
M3 = Fixed({"a": 1, "b": 0, "c": 0, "d": 2, "e": 0.5, "f": 0, "g": 2, "h": 0})
MODELS = [M1, M2, M3]
RECORDS = [
    Comparison("p", ("a", "b")),
    Comparison("p", ("c", "d")),
    Comparison("p", ("e", "f")),
    Comparison("p", ("g", "h")),
]


def test_the_old_underscore_names_are_aliases() -> None:
    for old in ("gap_std", "vote_split", "small_gap"):
        new = old.replace("_", "-")
        assert ROUTING_CRITERIA.get(old) is ROUTING_CRITERIA.get(new)
        assert new in ROUTING_CRITERIA.names() and old not in ROUTING_CRITERIA.names()
        np.testing.assert_array_equal(pair_uncertainty(MODELS, RECORDS, old),
                                      pair_uncertainty(MODELS, RECORDS, new))


def test_gap_std_by_hand() -> None:
    # r1: mean 0, var (9 + 1 + 4) / 3; r2: mean 1/6, var ((1/3)^2 + (2/3)^2 + (1/3)^2) / 3
    # r3: mean 10/3, var ((2/3)^2 + (2/3)^2 + (4/3)^2) / 3
    expected = [0.0, math.sqrt(14 / 3), math.sqrt((1 / 9 + 4 / 9 + 1 / 9) / 3), math.sqrt(24 / 27)]
    np.testing.assert_allclose(pair_uncertainty(MODELS, RECORDS, "gap-std"), expected)
    result = route_to_humans(MODELS, RECORDS, k=2)
    np.testing.assert_array_equal(result.indices, [1, 3])
    assert result.records == [RECORDS[1], RECORDS[3]]


def test_vote_split_by_hand() -> None:
    expected = [1 - 3 / 3, 1 - 2 / 3, 1 - 2 / 3, 1 - 3 / 3]
    np.testing.assert_allclose(pair_uncertainty(MODELS, RECORDS, "vote-split"), expected)
    # ties in uncertainty keep input order
    result = route_to_humans(MODELS, RECORDS, k=3, criterion="vote-split")
    np.testing.assert_array_equal(result.indices, [1, 2, 0])


def test_small_gap_by_hand() -> None:
    expected = [-1.0, -0.0, -1 / 6, -10 / 3]
    np.testing.assert_allclose(pair_uncertainty(MODELS, RECORDS, "small-gap"), expected)
    result = route_to_humans(MODELS, RECORDS, k=1, criterion="small-gap")
    np.testing.assert_array_equal(result.indices, [1])


def test_k_bounds_and_errors() -> None:
    assert route_to_humans(MODELS, RECORDS, k=10).indices.size == 4
    assert route_to_humans(MODELS, RECORDS, k=0).records == []
    assert route_to_humans(MODELS, [], k=3).records == []
    with pytest.raises(ValueError, match="k must be"):
        route_to_humans(MODELS, RECORDS, k=-1)
    with pytest.raises(UnknownNameError, match="did you mean 'gap-std'"):
        route_to_humans(MODELS, RECORDS, k=1, criterion="gap-sd")
    with pytest.raises(ValueError, match=r"records\[0\]: field 'responses'"):
        route_to_humans(MODELS, [Comparison("p", ("a", "b", "c"))], k=1)
