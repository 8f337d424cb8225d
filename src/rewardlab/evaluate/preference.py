"""Comparing two responses with any model: a scalar reward or a pairwise preference model.

A :class:`~rewardlab.protocols.PreferenceModel` (a general preference model,
GPM, Zhang et al., 2024; PAL, Chen et al., 2024; an LLM judge) gives
P(a ≻ b | x) directly and may have no scalar reward at all. Whenever two
responses are compared, evaluation asks the preference model when there is
one and the reward model otherwise, through one signed margin

    m(x, a, b) = P(a ≻ b | x) − ½          for a PreferenceModel,
    m(x, a, b) = r(x, a) − r(x, b)         for a RewardModel,

so "a wins" is m > 0 and an exact tie is m = 0 for both kinds.

Ranking several responses with a preference model uses the round-robin
(Copeland) win rate: with P_ij = P(c_i ≻ c_j), asked once per unordered pair
and P_ji = 1 − P_ij (GPM, PAL and the judge are antisymmetric by
construction),

    w_i = (1 / (k − 1)) Σ_{j ≠ i} ( 1[P_ij > ½] + ½ · 1[P_ij = ½] ),

the Copeland rule of social choice (Copeland, 1951), which needs no
transitivity and so suits intransitive preferences.

Probes that need a scalar reward (``length``, ``perturb``, ``attack``) call
:func:`require_scalar`; ``offtopic`` and ``sycophancy`` compare two responses
and take either kind (each probe declares which: ``Probe.pairwise``).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

import numpy as np

from rewardlab.protocols import PreferenceModel, RewardModel, check_lengths


def is_preference_model(model: object) -> bool:
    """True when comparisons should go through ``model.prob``."""
    return isinstance(model, PreferenceModel)


def require_scalar(model: object, what: str, pairwise_probes: Sequence[str] = ()) -> RewardModel:
    """``model`` when it has ``score``; else a one-line error naming ``what`` needs it
    and, when given, the ``pairwise_probes`` that a preference model can take."""
    if not isinstance(model, RewardModel):
        names = ", ".join(pairwise_probes)
        hint = f"; probes that work with it: {names}" if names else ""
        raise ValueError(
            f"{what} needs a scalar reward (score) and {type(model).__name__} is a preference "
            f"model (prob only){hint}"
        )
    return model


def pair_margins(
    model: RewardModel | PreferenceModel,
    prompts: Sequence[str],
    first: Sequence[str],
    second: Sequence[str],
) -> np.ndarray:
    """m > 0 where ``first`` wins: P(first ≻ second) − ½, or r(first) − r(second)."""
    n = check_lengths(prompts, first, second)
    if is_preference_model(model):
        return np.asarray(model.prob(prompts, first, second), dtype=np.float64) - 0.5
    both = np.asarray(model.score([*prompts, *prompts], [*first, *second]), dtype=np.float64)
    return both[:n] - both[n:]


def round_robin(
    model: PreferenceModel, prompts: Sequence[str], groups: Sequence[Sequence[str]]
) -> list[np.ndarray]:
    """Per group the matrix P_ij = P(c_i ≻ c_j), P_ji = 1 − P_ij, diagonal ½ (one ``prob`` call)."""
    check_lengths(prompts, groups)
    pairs = [(g, i, j) for g, cands in enumerate(groups)
             for i, j in combinations(range(len(cands)), 2)]
    probs = np.asarray(model.prob(
        [prompts[g] for g, _, _ in pairs],
        [groups[g][i] for g, i, _ in pairs],
        [groups[g][j] for g, _, j in pairs],
    ), dtype=np.float64) if pairs else np.zeros(0)
    mats = [np.full((len(c), len(c)), 0.5) for c in groups]
    for (g, i, j), p in zip(pairs, probs, strict=True):
        mats[g][i, j] = p
        mats[g][j, i] = 1.0 - p
    return mats


def copeland_from_matrix(probs: np.ndarray) -> np.ndarray:
    """w_i = mean over j ≠ i of 1[P_ij > ½] + ½·1[P_ij = ½]."""
    k = probs.shape[0]
    points = np.where(probs > 0.5, 1.0, np.where(probs < 0.5, 0.0, 0.5))
    np.fill_diagonal(points, 0.0)
    return points.sum(axis=1) / max(k - 1, 1)


def copeland_scores(
    model: PreferenceModel, prompts: Sequence[str], groups: Sequence[Sequence[str]]
) -> list[np.ndarray]:
    """Round-robin win rate of every response of each group (one ``prob`` call in all)."""
    return [copeland_from_matrix(m) for m in round_robin(model, prompts, groups)]


def group_scores(
    model: RewardModel | PreferenceModel, prompts: Sequence[str],
    groups: Sequence[Sequence[str]],
) -> list[np.ndarray]:
    """Per-response scores of each group: rewards, or Copeland win rates for a preference model."""
    if is_preference_model(model):
        return copeland_scores(model, prompts, groups)
    flat_p = [p for p, g in zip(prompts, groups, strict=True) for _ in g]
    flat_r = [r for g in groups for r in g]
    rewards = np.asarray(model.score(flat_p, flat_r), dtype=np.float64)
    out, pos = [], 0
    for g in groups:
        out.append(rewards[pos : pos + len(g)])
        pos += len(g)
    return out
