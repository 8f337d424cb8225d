"""STARC distance between two reward functions (Skalse et al., 2024, "STARC: A
General Framework For Quantifying Differences Between Reward Functions", ICLR).

For rewards on prompts × candidate responses (a matrix R[p, k], or a flat
array with a group id per entry) the bandit form of STARC is:

1. canonicalize: c(R)[p, k] = R[p, k] − mean_k R[p, k]  (removes per-prompt
   shifts, to which preferences over responses are invariant);
2. normalize: s(R) = c(R) / ‖c(R)‖₂, the norm taken over all entries
   (removes positive scaling; a reward whose canonical form is 0 maps to 0);
3. distance: d(R₁, R₂) = ½ ‖s(R₁) − s(R₂)‖₂ ∈ [0, 1].

d = 0 for rewards equal up to positive scaling and per-prompt shifts; d = 1
for R₂ = −R₁.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rewardlab.protocols import RewardModel


def _canonical(r: np.ndarray, groups: np.ndarray | None) -> np.ndarray:
    if groups is None:
        if r.ndim != 2:
            raise ValueError("field 'rewards': pass a (prompts, candidates) matrix or groups")
        c = r - r.mean(axis=1, keepdims=True)
    else:
        if r.ndim != 1 or groups.shape != r.shape:
            raise ValueError("field 'groups': needs one group id per reward of a 1-D array")
        _, inverse = np.unique(groups, return_inverse=True)
        means = np.bincount(inverse, weights=r) / np.bincount(inverse)
        c = r - means[inverse]
    norm = np.linalg.norm(c)
    return c / norm if norm > 0 else np.zeros_like(c)


def starc_distance(
    rewards_a: Sequence[float] | np.ndarray,
    rewards_b: Sequence[float] | np.ndarray,
    groups: Sequence | None = None,
) -> float:
    """½‖s(R_a) − s(R_b)‖ with per-prompt mean canonicalization and global L2 normalization."""
    a = np.asarray(rewards_a, dtype=np.float64)
    b = np.asarray(rewards_b, dtype=np.float64)
    if a.shape != b.shape or a.size == 0:
        raise ValueError("field 'rewards_b': must have the (non-empty) shape of rewards_a")
    g = None if groups is None else np.asarray(groups)
    return float(0.5 * np.linalg.norm(_canonical(a, g) - _canonical(b, g)))


def starc_between(
    model_a: RewardModel,
    model_b: RewardModel,
    prompts: Sequence[str],
    candidates: Sequence[Sequence[str]],
) -> float:
    """STARC distance of two models on each prompt's list of candidate responses."""
    if len(prompts) != len(candidates):
        raise ValueError("field 'candidates': needs one list of candidates per prompt")
    flat_p = [p for p, cs in zip(prompts, candidates, strict=True) for _ in cs]
    flat_r = [c for cs in candidates for c in cs]
    groups = [i for i, cs in enumerate(candidates) for _ in cs]
    return starc_distance(model_a.score(flat_p, flat_r), model_b.score(flat_p, flat_r), groups)
