"""Route the unlabeled pairs an ensemble is least sure about to people.

Human labels are expensive, so spend them where a reward model ensemble is
uncertain and let the models label the rest. Hybrid Preferences (Miranda et
al., 2024, "Hybrid Preferences: Learning to Route Instances for Human vs. AI
Feedback") routes instances between people and an LM judge, and SELM (Zhang et
al., 2024, "Self-Exploring Language Models: Active Preference Elicitation for
Online Alignment") seeks out responses whose reward is uncertain. This module
implements the uncertainty-ranking step they build on: for a two-response
record (a, b) and member gaps d_k = r_k(x, a) − r_k(x, b), k = 1 … K,

- ``gap-std``:    σ̂ = sqrt((1/K) Σ_k (d_k − μ̂)²), μ̂ = (1/K) Σ_k d_k — how much the
  members disagree about the size of the preference;
- ``vote-split``: 1 − max(#{d_k > 0}, #{d_k < 0}) / K — the fraction of members
  not in the majority on the order (0 = unanimous);
- ``small-gap``:  −|μ̂| — the ensemble mean is close to a tie.

Higher means more uncertain. :func:`route_to_humans` returns the k most
uncertain records (ties broken by input position).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from rewardlab.data.record import Comparison
from rewardlab.protocols import RewardModel
from rewardlab.registry import Registry
from rewardlab.robust.ensemble import MemberScorer, as_member_scorer, member_gaps

RoutingCriterion = Callable[[np.ndarray], np.ndarray]

ROUTING_CRITERIA: Registry[RoutingCriterion] = Registry("routing criterion")


@ROUTING_CRITERIA.register("gap-std", aliases=("gap_std",))
def gap_std(gaps: np.ndarray) -> np.ndarray:
    """Population std of the member gaps ``(K, n)`` → ``(n,)``."""
    return gaps.std(axis=0, ddof=0)


@ROUTING_CRITERIA.register("vote-split", aliases=("vote_split",))
def vote_split(gaps: np.ndarray) -> np.ndarray:
    """1 − (size of the majority on the order) / K."""
    return 1.0 - np.maximum((gaps > 0).mean(axis=0), (gaps < 0).mean(axis=0))


@ROUTING_CRITERIA.register("small-gap", aliases=("small_gap",))
def small_gap(gaps: np.ndarray) -> np.ndarray:
    """−|mean gap|: closest to a tie first."""
    return -np.abs(gaps.mean(axis=0))


@dataclass(frozen=True)
class RoutingResult:
    """The records to send to people, most uncertain first.

    Attributes:
        indices: their positions in the input.
        records: the records themselves.
        uncertainty: the criterion's value for every input record, ``(n,)``.
    """

    indices: np.ndarray
    records: list[Comparison]
    uncertainty: np.ndarray


def pair_uncertainty(
    members: MemberScorer | Sequence[RewardModel],
    records: Sequence[Comparison],
    criterion: str = "gap-std",
) -> np.ndarray:
    """The criterion's uncertainty for each two-response record, ``(n,)``."""
    fn = ROUTING_CRITERIA.get(criterion)
    for i, rec in enumerate(records):
        if len(rec.responses) != 2:
            raise ValueError(
                f"records[{i}]: field 'responses': needs exactly two, got {len(rec.responses)}"
            )
    gaps = member_gaps(
        as_member_scorer(members),
        [rec.prompt for rec in records],
        [rec.responses[0] for rec in records],
        [rec.responses[1] for rec in records],
    )
    return fn(gaps)


def route_to_humans(
    members: MemberScorer | Sequence[RewardModel],
    records: Sequence[Comparison],
    k: int,
    criterion: str = "gap-std",
) -> RoutingResult:
    """The ``k`` most uncertain records (all of them if ``k`` ≥ n)."""
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    ROUTING_CRITERIA.get(criterion)
    if not records:
        return RoutingResult(np.zeros(0, dtype=np.int64), [], np.zeros(0))
    uncertainty = pair_uncertainty(members, records, criterion)
    order = np.argsort(-uncertainty, kind="stable")[:k]
    return RoutingResult(order, [records[i] for i in order], uncertainty)
