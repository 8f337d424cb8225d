"""Aggregations of member scores, each checked against values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rewardlab.registry import UnknownNameError
from rewardlab.robust.aggregate import AGGREGATIONS, aggregate

# three members (rows) scoring two samples (columns)
MEMBERS = np.array([[1.0, 2.0], [3.0, 0.0], [2.0, 4.0]])


def test_wco_is_min_and_the_underscore_spelling_is_an_alias() -> None:
    assert AGGREGATIONS.get("wco") is AGGREGATIONS.get("min")
    assert AGGREGATIONS.get("mean_minus_std") is AGGREGATIONS.get("mean-minus-std")
    assert "mean_minus_std" not in AGGREGATIONS.names()


def test_mean() -> None:
    expected = [(1 + 3 + 2) / 3, (2 + 0 + 4) / 3]
    np.testing.assert_allclose(aggregate(MEMBERS, "mean"), expected)


def test_median_odd_and_even_members() -> None:
    np.testing.assert_allclose(aggregate(MEMBERS, "median"), [2.0, 2.0])
    four = np.array([[1.0], [3.0], [2.0], [10.0]])
    np.testing.assert_allclose(aggregate(four, "median"), [(2.0 + 3.0) / 2])


def test_min_and_wco() -> None:
    np.testing.assert_allclose(aggregate(MEMBERS, "min"), [1.0, 0.0])
    np.testing.assert_allclose(aggregate(MEMBERS, "wco"), [1.0, 0.0])


def test_uwo_uses_population_variance() -> None:
    # column 0: mean 2, var = ((1-2)^2 + (3-2)^2 + (2-2)^2) / 3 = 2/3
    # column 1: mean 2, var = ((2-2)^2 + (0-2)^2 + (4-2)^2) / 3 = 8/3
    expected = [2 - 0.5 * (2 / 3), 2 - 0.5 * (8 / 3)]
    np.testing.assert_allclose(aggregate(MEMBERS, "uwo"), expected)
    expected_lam = [2 - 1.5 * (2 / 3), 2 - 1.5 * (8 / 3)]
    np.testing.assert_allclose(aggregate(MEMBERS, "uwo", lam=1.5), expected_lam)


def test_mean_minus_std() -> None:
    expected = [2 - math.sqrt(2 / 3), 2 - math.sqrt(8 / 3)]
    np.testing.assert_allclose(aggregate(MEMBERS, "mean-minus-std"), expected)
    expected_half = [2 - 0.5 * math.sqrt(2 / 3), 2 - 0.5 * math.sqrt(8 / 3)]
    np.testing.assert_allclose(aggregate(MEMBERS, "mean-minus-std", lam=0.5), expected_half)


def test_brme_mixes_mean_and_min() -> None:
    expected = [0.5 * 2 + 0.5 * 1, 0.5 * 2 + 0.5 * 0]
    np.testing.assert_allclose(aggregate(MEMBERS, "brme"), expected)
    expected_w = [0.75 * 2 + 0.25 * 1, 0.75 * 2 + 0.25 * 0]
    np.testing.assert_allclose(aggregate(MEMBERS, "brme", w=0.25), expected_w)


@pytest.mark.parametrize("name", AGGREGATIONS.names())
def test_every_aggregation_contract(name: str) -> None:
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(5, 7))
    out = aggregate(scores, name)
    assert out.shape == (7,)
    # members that all agree give back their common value
    same = np.tile(np.array([0.5, -1.0, 3.0]), (4, 1))
    np.testing.assert_allclose(aggregate(same, name), [0.5, -1.0, 3.0])
    # shifting every member by c shifts the aggregate by c
    np.testing.assert_allclose(aggregate(scores + 2.5, name), out + 2.5)
    # one member: every aggregation is that member
    np.testing.assert_allclose(aggregate(scores[:1], name), scores[0])


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="member_scores"):
        aggregate(np.array([1.0, 2.0]), "mean")
    with pytest.raises(ValueError, match="member_scores"):
        aggregate(np.zeros((0, 3)), "mean")
    with pytest.raises(ValueError, match="NaN"):
        aggregate(np.array([[np.nan, 1.0]]), "min")
    with pytest.raises(ValueError, match="lam"):
        aggregate(MEMBERS, "uwo", lam=-1.0)
    with pytest.raises(ValueError, match="'w': must be <= 1"):
        aggregate(MEMBERS, "brme", w=1.5)
    with pytest.raises(UnknownNameError, match="did you mean 'uwo'"):
        aggregate(MEMBERS, "uow")
