"""Ensembles of reward models, aggregated reward models and per-prompt centering."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pytest

from rewardlab.models.baselines import LengthReward
from rewardlab.protocols import RewardModel, UncertainRewardModel
from rewardlab.robust.aggregate import aggregate
from rewardlab.robust.ensemble import (
    AggregatedRewardModel,
    MemberScorer,
    ModelEnsemble,
    as_member_scorer,
    center_per_prompt,
    member_gaps,
)


class Fixed:
    """Reward looked up by response, plus an optional per-prompt offset."""

    def __init__(self, table: dict[str, float], offsets: dict[str, float] | None = None) -> None:
        self.table = table
        self.offsets = offsets or {}

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        return np.array(
            [
                self.table[r] + self.offsets.get(p, 0.0)
                for p, r in zip(prompts, responses, strict=True)
            ]
        )


PROMPTS = ["p", "p"]
RESPONSES = ["a", "b"]
# members [[1,2],[3,0],[2,4]] as three models
MODELS = [Fixed({"a": 1, "b": 2}), Fixed({"a": 3, "b": 0}), Fixed({"a": 2, "b": 4})]


def test_model_ensemble_stacks_scores() -> None:
    ensemble = ModelEnsemble(MODELS)
    assert isinstance(ensemble, MemberScorer)
    np.testing.assert_array_equal(
        ensemble.score_members(PROMPTS, RESPONSES), [[1, 2], [3, 0], [2, 4]]
    )


def test_heterogeneous_ensemble_with_length_reward() -> None:
    ensemble = ModelEnsemble([LengthReward(), Fixed({"one two": 5.0, "x": -1.0})])
    np.testing.assert_array_equal(
        ensemble.score_members(["p", "p"], ["one two", "x"]), [[2, 1], [5, -1]]
    )


def test_aggregated_model_scores_and_uncertainty() -> None:
    model = AggregatedRewardModel(ModelEnsemble(MODELS), aggregate="uwo", lam=0.5)
    assert isinstance(model, RewardModel) and isinstance(model, UncertainRewardModel)
    np.testing.assert_allclose(model.score(PROMPTS, RESPONSES), [2 - 1 / 3, 2 - 4 / 3])
    reward, spread = model.score_with_uncertainty(PROMPTS, RESPONSES)
    np.testing.assert_allclose(reward, [2 - 1 / 3, 2 - 4 / 3])
    np.testing.assert_allclose(spread, [math.sqrt(2 / 3), math.sqrt(8 / 3)])


def test_aggregated_model_unknown_aggregation() -> None:
    with pytest.raises(KeyError, match="did you mean 'median'"):
        AggregatedRewardModel(ModelEnsemble(MODELS), aggregate="medain")


def test_center_per_prompt_by_hand() -> None:
    scores = np.array([[1.0, 3.0, 5.0], [2.0, 2.0, 0.0]])
    # member 0: prompt a mean (1+3)/2 = 2, prompt b mean 5; member 1: a mean 2, b mean 0
    expected = [[1 - 2, 3 - 2, 5 - 5], [2 - 2, 2 - 2, 0 - 0]]
    np.testing.assert_allclose(center_per_prompt(scores, ["a", "a", "b"]), expected)


def test_centering_makes_robust_aggregations_offset_invariant() -> None:
    rng = np.random.default_rng(1)
    prompts = ["x", "y", "x", "y", "x", "z"]
    scores = rng.normal(size=(4, len(prompts)))
    shifted = scores.copy()
    shifted[2, [0, 2, 4]] += 7.0  # member 2 gets a constant offset on prompt x only
    for name in ("min", "median", "wco", "uwo"):
        before = aggregate(center_per_prompt(scores, prompts), name)
        after = aggregate(center_per_prompt(shifted, prompts), name)
        np.testing.assert_allclose(after, before, err_msg=name)
    # without centering the offset changes the pessimistic aggregations
    assert not np.allclose(aggregate(shifted, "uwo"), aggregate(scores, "uwo"))


def test_aggregated_model_with_centering_ignores_member_offsets() -> None:
    offsets = [Fixed(m.table, {"p": 10.0 * k}) for k, m in enumerate(MODELS)]
    plain = AggregatedRewardModel(ModelEnsemble(MODELS), aggregate="min", center=True)
    offset = AggregatedRewardModel(ModelEnsemble(offsets), aggregate="min", center=True)
    # centered members: [[-0.5, 0.5], [1.5, -1.5], [-1, 1]] -> min per column
    np.testing.assert_allclose(plain.score(PROMPTS, RESPONSES), [-1.0, -1.5])
    np.testing.assert_allclose(offset.score(PROMPTS, RESPONSES), [-1.0, -1.5])


def test_member_gaps_by_hand() -> None:
    gaps = member_gaps(ModelEnsemble(MODELS), ["p"], ["a"], ["b"])
    np.testing.assert_array_equal(gaps, [[1 - 2], [3 - 0], [2 - 4]])


def test_as_member_scorer() -> None:
    ensemble = ModelEnsemble(MODELS)
    assert as_member_scorer(ensemble) is ensemble
    wrapped = as_member_scorer(MODELS)
    assert isinstance(wrapped, ModelEnsemble) and wrapped.models == tuple(MODELS)
    with pytest.raises(ValueError, match="score_members"):
        as_member_scorer("not models")  # type: ignore[arg-type]


def test_bad_members() -> None:
    with pytest.raises(ValueError, match="models"):
        ModelEnsemble([])

    class Short:
        def score(self, prompts, responses):
            return np.zeros(1)

    with pytest.raises(ValueError, match=r"models\[1\]"):
        ModelEnsemble([LengthReward(), Short()]).score_members(["p", "p"], ["a", "b"])

    class WrongWidth:
        def score_members(self, prompts, responses):
            return np.zeros((2, 5))

    with pytest.raises(ValueError, match="columns"):
        AggregatedRewardModel(WrongWidth()).score(["p"], ["a"])
    with pytest.raises(ValueError, match="prompts"):
        center_per_prompt(np.zeros((2, 3)), ["a"])
