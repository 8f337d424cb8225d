"""Aggregation parameters: declared once per aggregation, reachable by name, checked."""

from __future__ import annotations

import numpy as np
import pytest

from rewardlab.options import OptionError
from rewardlab.robust.aggregate import (
    AggregateOptions,
    UwoParams,
    aggregate,
    check_params,
    params_of,
)

SCORES = np.array([[1.0, 0.0], [3.0, 0.0]])  # two members, two samples


def test_the_declared_parameters_reach_the_formula():
    # uwo, λ = 2: mean 2, population variance 1 → 2 − 2·1 = 0; the second sample has no spread
    np.testing.assert_allclose(aggregate(SCORES, "uwo", **check_params("uwo", {"lam": 2.0})),
                               [0.0, 0.0])
    # the default λ comes from the declaration: 2 − 0.5·1
    assert UwoParams().lam == 0.5
    np.testing.assert_allclose(aggregate(SCORES, "uwo"), [1.5, 0.0])
    # brme, w = 0.25: 0.75·mean + 0.25·min = 1.5 + 0.25
    np.testing.assert_allclose(aggregate(SCORES, "brme", w=0.25), [1.75, 0.0])
    assert params_of("mean") is None and params_of("uwo") is UwoParams


@pytest.mark.parametrize(("name", "params", "said"), [
    ("mean", {"lam": 1.0}, "aggregation 'mean' takes no parameters"),
    ("uwo", {"lamda": 1.0}, "unknown option 'lamda' (known: lam)"),
    ("uwo", {"lam": "big"}, "option 'lam' must be float"),
    ("uwo", {"lam": -1.0}, "option 'lam': must be >= 0"),
    ("brme", {"w": 2.0}, "option 'w': must be <= 1"),
])
def test_a_parameter_the_aggregation_does_not_declare_is_refused(name, params, said):
    with pytest.raises(OptionError, match="^--aggregate-params") as err:
        AggregateOptions(aggregate=name, aggregate_params=params).params()
    assert said in str(err.value)


def test_no_aggregate_means_mean_which_takes_no_parameters():
    assert AggregateOptions().params() == {}
    with pytest.raises(OptionError, match="'mean' takes no parameters"):
        AggregateOptions(aggregate_params={"lam": 1.0}).params()
