"""The one step-reduction registry (``rewardlab.protocols.STEP_REDUCTIONS``) and its one
empty-response rule, shared by the PRM, the step recipe component, the server, guided search
and steering: values worked out by hand, and a reduction registered once reaching every user."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from rewardlab.models.heads import LinearHead
from rewardlab.models.normalizer import Normalizer
from rewardlab.models.structured.prm import PRMOptions, ProcessRewardModel
from rewardlab.optimize.guided import GuidedConfig, partial_values
from rewardlab.optimize.steering import SteeringConfig
from rewardlab.options import OptionError, from_mapping
from rewardlab.protocols import (
    OUTCOME_REDUCTION,
    SEARCH_REDUCTION,
    STEP_REDUCTIONS,
    reduce_steps,
    split_steps,
)
from rewardlab.registry import UnknownNameError
from rewardlab.robust.recipe.steps import StepOutcomeReward
from rewardlab.serve.model_ops import outcome_rewards

STEPS = [0.9, 0.5, 0.8]


@pytest.mark.parametrize(("name", "expected"), [
    ("min", 0.5),
    ("product", 0.9 * 0.5 * 0.8),  # 0.36
    ("last", 0.8),
    ("mean", (0.9 + 0.5 + 0.8) / 3),
    ("sum", 0.9 + 0.5 + 0.8),
])
def test_each_reduction_by_hand(name, expected):
    assert reduce_steps(STEPS, name) == pytest.approx(expected, abs=1e-15)


def test_the_defaults_and_the_empty_rule():
    assert (OUTCOME_REDUCTION, SEARCH_REDUCTION) == ("min", "last")
    assert reduce_steps(STEPS) == 0.5  # the outcome default
    with pytest.raises(ValueError, match="no step rewards.*one empty step"):
        reduce_steps(np.zeros(0), "product")  # never the vacuous 1.0
    with pytest.raises(UnknownNameError, match="did you mean 'mean'"):
        reduce_steps(STEPS, "meen")
    assert split_steps("") == [""]  # why no response ever has no steps


class FlagPRM:
    """Step rewards: 0.9 for a step with "ok", 0.2 otherwise (an empty step is 0.2)."""

    def score_steps(self, prompts, steps_list):
        return [np.array([0.9 if "ok" in s else 0.2 for s in steps]) for steps in steps_list]


@pytest.fixture
def first(monkeypatch):
    """A reduction registered once: r_1, the first step's reward."""
    monkeypatch.setattr(STEP_REDUCTIONS, "_items", dict(STEP_REDUCTIONS._items))
    STEP_REDUCTIONS.add("first", lambda r: float(r[0]))
    return "first"


def prm(reduce: str) -> ProcessRewardModel:
    """p_k = σ(4 − 8·[step has "bad"]): σ(4) for a good step, σ(−4) for a bad one."""

    class BadFlag:
        dim = 1

        def encode(self, prompts, responses, progress=None):
            return np.array([[float("bad" in r)] for r in responses], np.float32)

        def config(self):
            return {"kind": "bad-flag"}

    head = LinearHead(1, 1)
    with torch.no_grad():
        head.weight.fill_(-8.0)
        head.bias.fill_(4.0)
    return ProcessRewardModel(BadFlag(), Normalizer(1), head, {"options": {"reduce": reduce}})


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def test_one_registered_reduction_reaches_every_user(first):
    response = "bad start\nok end"
    # the PRM's solution score: r_1 = σ(−4)
    assert prm(first).score(["q"], [response])[0] == pytest.approx(sigmoid(-4))
    assert from_mapping(PRMOptions, {"reduce": first}, "--head-params").reduce == first
    # the step recipe component: r_1 = 0.2
    outcome = StepOutcomeReward(FlagPRM(), reduce=first)
    assert outcome.score(["q"], [response]).tolist() == [0.2]
    # guided search and steering value partial solutions with it
    assert partial_values(FlagPRM(), "q", [["x", "ok"], ["ok", "x"]], first, "\n").tolist() \
        == [0.2, 0.9]
    assert GuidedConfig(reduce=first).reduce == SteeringConfig(reduce=first).reduce == first


def test_every_user_refuses_an_unknown_reduction():
    with pytest.raises(ValueError, match="field 'reduce'"):
        GuidedConfig(reduce="median")
    with pytest.raises(ValueError, match="field 'reduce'"):
        SteeringConfig(reduce="median")
    with pytest.raises(ValueError, match="reduce must be one of"):
        StepOutcomeReward(FlagPRM(), reduce="median")
    with pytest.raises(OptionError, match="unknown step reduction 'median'"):
        from_mapping(PRMOptions, {"reduce": "median"}, "--head-params")


def test_the_old_prm_option_name_is_read_as_reduce():
    """``{"aggregate": "product"}`` (the PRM's name before the one registry) still works."""
    options = from_mapping(PRMOptions, {"aggregate": "product"}, "--head-params")
    assert options.reduce == "product"
    with pytest.raises(OptionError, match="'aggregate' is the old name of 'reduce'"):
        from_mapping(PRMOptions, {"aggregate": "min", "reduce": "min"}, "--head-params")


def test_the_server_outcome_is_the_outcome_reduction():
    steps = [[0.9, 0.2, 0.7], [0.5]]
    assert outcome_rewards(steps) == [reduce_steps(s, OUTCOME_REDUCTION) for s in steps] \
        == [0.2, 0.5]


def test_an_empty_response_is_one_scored_step_everywhere():
    """No user ever reduces zero steps: the empty response is one empty step."""
    assert prm("min").score(["q"], [""])[0] == pytest.approx(sigmoid(4))
    assert StepOutcomeReward(FlagPRM(), reduce="sum").score(["q"], [""]).tolist() == [0.2]
