"""Which segment pairs to ask the labeller about: at random, or where the ensemble disagrees.

Christiano et al. (2017, §2.2.4): sample many candidate pairs, let every
member of the reward ensemble predict which segment will be preferred, and
ask about the pairs whose predictions vary most across members. The
disagreement of a pair is the population variance over the K members of
their preference probabilities,

    d(σ¹, σ²) = Var_k p_k,   p_k = σ(R̂_k(σ¹) − R̂_k(σ²)),   R̂_k(σ) = Σ_t r̂_k(o_t, a_t).

A strategy is ``select(candidates, n, members, prompt, rng) -> indices``:
``random`` keeps the first ``n`` candidates (they are drawn at random);
``disagreement`` keeps the ``n`` of highest disagreement (ties in random
order), and falls back to random before any reward model exists. A strategy
declares how many candidates it wants per query (``oversample``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from rewardlab.data.trajectory import Trajectory
from rewardlab.registry import Registry
from rewardlab.robust.ensemble import MemberScorer, member_gaps

Pair = tuple[Trajectory, Trajectory]


def preference_disagreement(gaps: np.ndarray) -> np.ndarray:
    """Var_k σ(g_k) per pair (population variance), from the members' return gaps
    g_k = R̂_k(σ¹) − R̂_k(σ²), shape (K, n)."""
    gaps = np.asarray(gaps, np.float64)
    if gaps.ndim != 2:
        raise ValueError(f"member gaps must be (K, n), got shape {gaps.shape}")
    return expit(gaps).var(axis=0, ddof=0)


def pair_disagreement(members: MemberScorer, prompt: str, pairs: Sequence[Pair]) -> np.ndarray:
    """:func:`preference_disagreement` of each pair under an ensemble's member scores."""
    prompts = [prompt] * len(pairs)
    return preference_disagreement(
        member_gaps(members, prompts, [a for a, _ in pairs], [b for _, b in pairs])
    )


Select = Callable[[Sequence[Pair], int, MemberScorer | None, str, np.random.Generator], list[int]]


@dataclass(frozen=True)
class QueryStrategy:
    """A selection rule and the candidates it draws per query it keeps."""

    select: Select
    oversample: bool
    summary: str


def _random(candidates: Sequence[Pair], n: int, members: MemberScorer | None, prompt: str,
            rng: np.random.Generator) -> list[int]:
    return list(range(min(n, len(candidates))))


def _disagreement(candidates: Sequence[Pair], n: int, members: MemberScorer | None, prompt: str,
                  rng: np.random.Generator) -> list[int]:
    if members is None:
        return _random(candidates, n, members, prompt, rng)
    scores = pair_disagreement(members, prompt, candidates)
    order = rng.permutation(len(candidates))  # a random order among equal scores
    ranked = order[np.argsort(-scores[order], kind="stable")]
    return sorted(int(i) for i in ranked[:n])


QUERY_STRATEGIES: Registry[QueryStrategy] = Registry("query strategy")
QUERY_STRATEGIES.add("random", QueryStrategy(_random, False, "pairs drawn at random"))
QUERY_STRATEGIES.add("disagreement", QueryStrategy(
    _disagreement, True,
    "the candidates whose preference the ensemble members disagree on most (Var_k p_k)",
))
