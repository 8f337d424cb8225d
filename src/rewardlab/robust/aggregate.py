"""Aggregations of ensemble member scores: ``(K, n)`` member rewards → ``(n,)``.

Each function takes ``member_scores`` with one row per ensemble member
(``r_1 … r_K``) and one column per (prompt, response), and returns one reward
per column. Spread statistics are across members, population form (ddof=0):

- ``mean``:            R = (1/K) Σ_k r_k
- ``median``:          R = median_k r_k
- ``min`` / ``wco``:   R = min_k r_k  — worst-case optimization (Coste et al.,
  2024, "Reward Model Ensembles Help Mitigate Overoptimization").
- ``uwo``:             R = mean − λ·Var, Var = (1/K) Σ_k (r_k − mean)²,
  λ = 0.5 by default — uncertainty-weighted optimization (Coste et al., 2024).
- ``mean-minus-std``:  R = mean − λ·Std, λ = 1.0 by default (Eisenstein et al.,
  2023, "Helping or Herding? Reward Model Ensembles Mitigate but do not
  Eliminate Reward Hacking").
- ``brme``:            R = (1 − w)·mean + w·min, w = 0.5 by default — the
  nominal/worst-case mix of Reward-Robust RLHF (Yan et al., 2024, "Reward-Robust
  RLHF in LLMs"). The paper writes λ·r_nominal + (1 − λ)·r_min with r_nominal
  taken from its Bayesian ensemble; with point-estimate members the nominal
  reward here is the ensemble mean and w = 1 − λ.

Members are exchangeable (independently seeded or trained copies), so every
aggregation is invariant to the order of the rows, and with K = 1 it returns
that member; ``tests/test_conformance.py`` checks both for every registered one.

All functions are registered in :data:`AGGREGATIONS` so callers pick one by name
(``--aggregate uwo``); :func:`aggregate` does the lookup and the call.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from rewardlab.registry import Registry

Aggregation = Callable[..., np.ndarray]

AGGREGATIONS: Registry[Aggregation] = Registry("aggregation")


def as_member_matrix(member_scores: np.ndarray) -> np.ndarray:
    """``member_scores`` as a finite float64 ``(K, n)`` array with K ≥ 1, or ``ValueError``."""
    scores = np.asarray(member_scores, dtype=np.float64)
    if scores.ndim != 2 or scores.shape[0] == 0:
        raise ValueError(
            f"member_scores must have shape (K members, n samples) with K >= 1, "
            f"got shape {scores.shape}"
        )
    if not np.all(np.isfinite(scores)):
        raise ValueError("member_scores contains NaN or infinite values")
    return scores


def _check_nonnegative(name: str, value: float) -> None:
    if not value >= 0:
        raise ValueError(f"{name} must be >= 0, got {value}")


@AGGREGATIONS.register("mean")
def mean(member_scores: np.ndarray) -> np.ndarray:
    """R = (1/K) Σ_k r_k."""
    return as_member_matrix(member_scores).mean(axis=0)


@AGGREGATIONS.register("median")
def median(member_scores: np.ndarray) -> np.ndarray:
    """R = median over members (mean of the two middle values when K is even)."""
    return np.median(as_member_matrix(member_scores), axis=0)


@AGGREGATIONS.register("min")
def worst_case(member_scores: np.ndarray) -> np.ndarray:
    """WCO (Coste et al., 2024): R = min_k r_k."""
    return as_member_matrix(member_scores).min(axis=0)


AGGREGATIONS.add("wco", worst_case)


@AGGREGATIONS.register("uwo")
def uwo(member_scores: np.ndarray, lam: float = 0.5) -> np.ndarray:
    """UWO (Coste et al., 2024): R = mean − λ·Var, population variance (ddof=0)."""
    _check_nonnegative("lam", lam)
    scores = as_member_matrix(member_scores)
    return scores.mean(axis=0) - lam * scores.var(axis=0, ddof=0)


@AGGREGATIONS.register("mean-minus-std", aliases=("mean_minus_std",))
def mean_minus_std(member_scores: np.ndarray, lam: float = 1.0) -> np.ndarray:
    """Eisenstein et al. (2023): R = mean − λ·Std, population std (ddof=0)."""
    _check_nonnegative("lam", lam)
    scores = as_member_matrix(member_scores)
    return scores.mean(axis=0) - lam * scores.std(axis=0, ddof=0)


@AGGREGATIONS.register("brme")
def brme(member_scores: np.ndarray, w: float = 0.5) -> np.ndarray:
    """Reward-Robust RLHF (Yan et al., 2024): R = (1 − w)·mean + w·min."""
    if not 0.0 <= w <= 1.0:
        raise ValueError(f"w must be in [0, 1], got {w}")
    scores = as_member_matrix(member_scores)
    return (1.0 - w) * scores.mean(axis=0) + w * scores.min(axis=0)


def aggregate(member_scores: np.ndarray, name: str = "mean", **params: float) -> np.ndarray:
    """Apply the aggregation registered as ``name`` (did-you-mean error on a typo)."""
    return AGGREGATIONS.get(name)(member_scores, **params)
