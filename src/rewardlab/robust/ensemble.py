"""Ensembles as reward models: member scores, aggregation, spread, per-prompt centering.

A :class:`MemberScorer` returns one row of rewards per member, ``(K, n)``: the
lead's trained model with K batched heads does, and so does
:class:`ModelEnsemble`, which stacks the ``score`` of any reward models
(heterogeneous ensembles: different backbones, seeds or data). An
:class:`AggregatedRewardModel` turns member scores into one reward with an
aggregation from :mod:`rewardlab.robust.aggregate` and reports the spread
σ(x, y) = sqrt((1/K) Σ_k (r_k − r̄)²) (population std across members), the
uncertainty used by Coste et al. (2024) and Eisenstein et al. (2023).

Per-prompt centering (:func:`center_per_prompt`). A Bradley–Terry reward model
only sees differences between responses to the same prompt, so each member k is
identified only up to its own per-prompt offset: r_k(x, y) + c_k(x) fits the
data exactly as well. Two members can agree on every comparison and still
differ by c_1(x) − c_2(x); then ``min`` picks whichever member happens to have
the lowest offset on that prompt, ``median`` mixes offsets, and the variance in
UWO measures offset disagreement instead of disagreement about responses.
Centering replaces each member's reward by its deviation from that member's mean
over the responses to the same prompt in the batch,

    r̃_k(x, y_j) = r_k(x, y_j) − (1/|Y_x|) Σ_{y ∈ Y_x} r_k(x, y),

which removes c_k(x), so min, median, WCO and UWO compare members on the same
footing. It needs several responses per prompt in the batch (best-of-n,
pairs); a prompt with a single response is centered to 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from rewardlab.protocols import RewardModel, check_lengths
from rewardlab.robust.aggregate import AGGREGATIONS, as_member_matrix


@runtime_checkable
class MemberScorer(Protocol):
    """Anything that scores (prompt, response) pairs once per ensemble member: ``(K, n)``."""

    def score_members(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray: ...


def member_scores_of(
    members: MemberScorer, prompts: Sequence[str], responses: Sequence[str]
) -> np.ndarray:
    """Call ``members.score_members`` and check the result is finite with shape ``(K, n)``."""
    n = check_lengths(prompts, responses)
    scores = as_member_matrix(members.score_members(prompts, responses))
    if scores.shape[1] != n:
        raise ValueError(f"score_members returned {scores.shape[1]} columns for {n} responses")
    return scores


class ModelEnsemble:
    """A :class:`MemberScorer` over any reward models: row k is ``models[k].score``."""

    def __init__(self, models: Sequence[RewardModel]) -> None:
        if len(models) == 0:
            raise ValueError("models: an ensemble needs at least one reward model")
        self.models = tuple(models)

    def score_members(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        n = check_lengths(prompts, responses)
        rows = []
        for k, model in enumerate(self.models):
            row = np.asarray(model.score(prompts, responses), dtype=np.float64)
            if row.shape != (n,):
                raise ValueError(f"models[{k}].score returned shape {row.shape}, expected ({n},)")
            rows.append(row)
        return np.stack(rows)


def as_member_scorer(members: MemberScorer | Sequence[RewardModel]) -> MemberScorer:
    """A member scorer as is, or a sequence of reward models wrapped in :class:`ModelEnsemble`."""
    if isinstance(members, MemberScorer):
        return members
    if isinstance(members, Sequence) and all(isinstance(m, RewardModel) for m in members):
        return ModelEnsemble(members)
    raise ValueError(
        "members must have score_members(prompts, responses) or be a sequence of reward models"
    )


def member_gaps(
    members: MemberScorer, prompts: Sequence[str], first: Sequence[str], second: Sequence[str]
) -> np.ndarray:
    """Per-member reward gaps r_k(x, first) − r_k(x, second), shape ``(K, n)``.

    Both sides are scored in one ``score_members`` call.
    """
    n = check_lengths(prompts, first, second)
    both = member_scores_of(members, [*prompts, *prompts], [*first, *second])
    return both[:, :n] - both[:, n:]


def center_per_prompt(member_scores: np.ndarray, prompts: Sequence[str]) -> np.ndarray:
    """Subtract, per member and per prompt, the member's mean over that prompt's responses."""
    scores = as_member_matrix(member_scores)
    if len(prompts) != scores.shape[1]:
        raise ValueError(
            f"prompts has {len(prompts)} items but member_scores has {scores.shape[1]} columns"
        )
    _, group = np.unique(np.asarray(prompts, dtype=object), return_inverse=True)
    counts = np.bincount(group)
    means = np.stack([np.bincount(group, weights=row) / counts for row in scores])
    return scores - means[:, group]


class AggregatedRewardModel:
    """A reward model from member scores: ``score`` = aggregation, spread = population std.

    Args:
        members: the ensemble (``score_members`` → ``(K, n)``).
        aggregate: a name registered in :data:`~rewardlab.robust.aggregate.AGGREGATIONS`.
        center: subtract each member's per-prompt mean first (see :func:`center_per_prompt`).
        **params: parameters of the aggregation (``lam`` for uwo, ``w`` for brme, …).
    """

    def __init__(
        self,
        members: MemberScorer,
        aggregate: str = "mean",
        center: bool = False,
        **params: float,
    ) -> None:
        self.members = members
        self.aggregate = aggregate
        self.center = center
        self.params = params
        self._fn = AGGREGATIONS.get(aggregate)

    def score_members(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        """The (optionally centered) member scores, ``(K, n)``."""
        scores = member_scores_of(self.members, prompts, responses)
        return center_per_prompt(scores, prompts) if self.center else scores

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        return self._fn(self.score_members(prompts, responses), **self.params)

    def score_with_uncertainty(
        self, prompts: Sequence[str], responses: Sequence[str]
    ) -> tuple[np.ndarray, np.ndarray]:
        scores = self.score_members(prompts, responses)
        return self._fn(scores, **self.params), scores.std(axis=0, ddof=0)
