"""Preference strength from an ensemble, and what to do with it.

Secrets of RLHF in Large Language Models Part II: Reward Modeling (Wang et al.,
2024) measures how strongly the data prefers the chosen response with an
ensemble of K reward models: for pair (x, y_c, y_r) and member k,
d_k = r_k(x, y_c) − r_k(x, y_r), and

    μ̂ = (1/K) Σ_k d_k,    σ̂ = sqrt((1/K) Σ_k (d_k − μ̂)²)   (population std).

Pairs with the lowest μ̂ are likely mislabeled (the ensemble prefers the
rejected response) or ambiguous. The paper flips the labels of the lowest
fraction, drops them, or trains with an adaptive margin, loss =
−log σ(r_c − r_r − μ̂). :func:`flip_lowest`, :func:`drop_lowest` and
:func:`with_margins` do these on :class:`~rewardlab.data.record.Comparison`
records (frozen: each returns new records via ``dataclasses.replace``;
responses, meta and everything else are kept).

μ̂ is relative to each record's own order: after :func:`flip_lowest`, the
flipped records' strength is −μ̂ (use :func:`oriented_strength`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from rewardlab.data.record import Comparison
from rewardlab.protocols import RewardModel
from rewardlab.robust.ensemble import MemberScorer, as_member_scorer, member_gaps


def _check_pairs(pairs: Sequence[Comparison]) -> None:
    for i, rec in enumerate(pairs):
        if not rec.is_pair:
            where = rec.source or f"pairs[{i}]"
            raise ValueError(
                f"{where}: field 'ranking': needs a chosen and a rejected response, got "
                f"{len(rec.responses)} response(s) and ranking {list(rec.ranking)}"
            )


def _check_mu(pairs: Sequence[Comparison], mu: np.ndarray) -> np.ndarray:
    mu = np.asarray(mu, dtype=np.float64)
    if mu.shape != (len(pairs),):
        raise ValueError(f"mu must have one value per pair ({len(pairs)}), got shape {mu.shape}")
    return mu


def preference_strength(
    members: MemberScorer | Sequence[RewardModel],
    pairs: Sequence[Comparison],
    batch_size: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(μ̂, σ̂) of r_k(chosen) − r_k(rejected) across ensemble members, each ``(n,)``.

    The members score ``batch_size`` pairs per call (both sides together; ``None``: every
    pair in one call); ``progress(done, pairs)`` is called with 0 first, then after each
    call."""
    _check_pairs(pairs)
    if batch_size is not None and batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    scorer = as_member_scorer(members)
    n = len(pairs)
    batch = batch_size or max(n, 1)
    chunks = []
    for start in range(0, max(n, 1), batch):
        if progress is not None:
            progress(start, n)
        part = pairs[start:start + batch]
        chunks.append(member_gaps(scorer, [rec.prompt for rec in part],
                                  [rec.chosen for rec in part], [rec.rejected for rec in part]))
    if progress is not None:
        progress(n, n)
    gaps = np.concatenate(chunks, axis=1)
    return gaps.mean(axis=0), gaps.std(axis=0, ddof=0)


def lowest_fraction(mu: np.ndarray, q: float) -> np.ndarray:
    """Boolean mask of the ⌊q·n⌋ smallest μ̂ (ties broken by position, first wins)."""
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"q must be in [0, 1], got {q}")
    mu = np.asarray(mu, dtype=np.float64)
    count = int(np.floor(q * mu.size + 1e-9))
    mask = np.zeros(mu.size, dtype=bool)
    mask[np.argsort(mu, kind="stable")[:count]] = True
    return mask


def flip_lowest(pairs: Sequence[Comparison], mu: np.ndarray, q: float = 0.2) -> list[Comparison]:
    """Swap chosen and rejected (reverse ``ranking``) for the lowest-q fraction by μ̂."""
    _check_pairs(pairs)
    mask = lowest_fraction(_check_mu(pairs, mu), q)
    return [
        replace(rec, ranking=rec.ranking[::-1]) if flip else rec
        for rec, flip in zip(pairs, mask, strict=True)
    ]


def drop_lowest(pairs: Sequence[Comparison], mu: np.ndarray, q: float = 0.2) -> list[Comparison]:
    """Keep the pairs outside the lowest-q fraction by μ̂, in their original order."""
    mask = lowest_fraction(_check_mu(pairs, mu), q)
    return [rec for rec, drop in zip(pairs, mask, strict=True) if not drop]


def with_margins(pairs: Sequence[Comparison], mu: np.ndarray) -> list[Comparison]:
    """Set each record's ``strength`` to μ̂ (the adaptive margin)."""
    mu = _check_mu(pairs, mu)
    return [replace(rec, strength=float(m)) for rec, m in zip(pairs, mu, strict=True)]


def oriented_strength(mu: np.ndarray, flipped: np.ndarray) -> np.ndarray:
    """μ̂ relative to each record's order after flipping: −μ̂ where ``flipped``."""
    return np.where(np.asarray(flipped, dtype=bool), -np.asarray(mu, dtype=np.float64), mu)
