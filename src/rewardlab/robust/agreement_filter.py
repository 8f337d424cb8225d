"""Keep preference pairs on which several reward models agree about the order.

Self-rewarding pipelines label their own pairs and then train on them, so a
wrong label feeds itself. SCIR (Zhou et al., 2025, "Self-Consistency of the
Internal Reward Models Improves Self-Rewarding Language Models") keeps only the
pairs whose order the model's internal reward models agree on; CREAM (Wang et
al., 2024, "CREAM: Consistency Regularized Self-Rewarding Language Models")
measures the agreement between the rankings of successive reward models and
trusts the data in proportion to it. This module implements the shared core:
with K reward models (or K ensemble members), member k votes

    v_k = sign(r_k(x, a) − r_k(x, b))  ∈ {+1, 0, −1}

on each two-response record (a, b). The agreement of a record is the fraction
of members whose vote matches the reference order:

- ``reference="consensus"`` (unlabeled data): the majority order, agreement =
  max(#{v_k = +1}, #{v_k = −1}) / K; kept records get that order as their
  ``ranking`` (a tie between the two sides is never kept);
- ``reference="label"``: the record's own ranking (chosen first), agreement =
  #{r_k(chosen) > r_k(rejected)} / K; kept records are unchanged.

A record is kept when its agreement ≥ ``min_fraction`` (1.0 = unanimous). A
zero vote (equal rewards) agrees with neither side. The report's ``rate`` is
the fraction of records kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from rewardlab.data.record import Comparison
from rewardlab.protocols import RewardModel
from rewardlab.robust.ensemble import MemberScorer, as_member_scorer, member_gaps


@dataclass(frozen=True)
class AgreementReport:
    """Outcome of :func:`agreement_filter`.

    Attributes:
        records: the kept records (with the consensus ranking in consensus mode).
        kept: indices of the kept records in the input.
        agreement: per input record, the fraction of members agreeing with the
            reference order.
        rate: fraction of input records kept.
    """

    records: list[Comparison]
    kept: np.ndarray
    agreement: np.ndarray
    rate: float


def order_votes(
    members: MemberScorer | Sequence[RewardModel],
    prompts: Sequence[str],
    first: Sequence[str],
    second: Sequence[str],
) -> np.ndarray:
    """sign(r_k(x, first) − r_k(x, second)) per member, shape ``(K, n)``."""
    return np.sign(member_gaps(as_member_scorer(members), prompts, first, second))


def agreement_filter(
    members: MemberScorer | Sequence[RewardModel],
    records: Sequence[Comparison],
    min_fraction: float = 1.0,
    reference: Literal["consensus", "label"] = "consensus",
) -> AgreementReport:
    """Keep the records whose order at least ``min_fraction`` of the members agree on."""
    if not 0.0 < min_fraction <= 1.0:
        raise ValueError(f"min_fraction must be in (0, 1], got {min_fraction}")
    if reference not in ("consensus", "label"):
        raise ValueError(f"reference must be 'consensus' or 'label', got {reference!r}")
    for i, rec in enumerate(records):
        if len(rec.responses) != 2:
            raise ValueError(
                f"records[{i}]: field 'responses': needs exactly two, got {len(rec.responses)}"
            )
        if reference == "label" and len(rec.ranking) != 2:
            raise ValueError(f"records[{i}]: field 'ranking': reference='label' needs a ranking")
    if not records:
        return AgreementReport([], np.zeros(0, dtype=np.int64), np.zeros(0), 0.0)

    prompts = [rec.prompt for rec in records]
    if reference == "label":
        votes = order_votes(
            members, prompts, [r.chosen for r in records], [r.rejected for r in records]
        )
        agreement = (votes > 0).mean(axis=0)
        keep = agreement >= min_fraction
        kept_records = [rec for rec, k in zip(records, keep, strict=True) if k]
    else:
        votes = order_votes(
            members, prompts, [r.responses[0] for r in records], [r.responses[1] for r in records]
        )
        for_first = (votes > 0).mean(axis=0)
        for_second = (votes < 0).mean(axis=0)
        agreement = np.maximum(for_first, for_second)
        keep = (agreement >= min_fraction) & (for_first != for_second)
        kept_records = [
            replace(rec, ranking=(0, 1) if a > b else (1, 0), tie=False)
            for rec, a, b, k in zip(records, for_first, for_second, keep, strict=True)
            if k
        ]
    kept = np.flatnonzero(keep)
    return AgreementReport(kept_records, kept, agreement, kept.size / len(records))
