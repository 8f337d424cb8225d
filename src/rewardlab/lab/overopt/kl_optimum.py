"""The exact KL-regularized optimum on a candidate pool, and best-of-n beside it.

For one prompt with candidates y_1 … y_N, base policy π₀ and proxy reward r,
the maximiser of E_π[r] − β·KL(π ‖ π₀) over distributions on the pool is the
tilted policy (Korbak et al. 2022; Rafailov et al. 2023, eq. 4)

    π_β(y) = π₀(y)·exp(r(y)/β) / Z_β,    Z_β = Σ_y π₀(y)·exp(r(y)/β).

π₀ is uniform over the pool, or exp(logprob) renormalised over the pool when
the generator's log-probabilities are known. Everything is exact sums over the
pool: E_{π_β}[gold], E_{π_β}[r] and KL(π_β ‖ π₀) = Σ π_β log(π_β/π₀), averaged
over prompts. β → ∞ gives π₀ (KL = 0); β → 0 gives the argmax of r (ties share
in proportion to π₀); KL grows monotonically as β falls (dKL/dβ =
−Var_{π_β}(r)/β³ ≤ 0).

Best-of-n on the same pool (Gao et al. 2023; Beirami et al. 2024, "Theoretical
guarantees on the best-of-n alignment policy"): n i.i.d. draws from π₀, keep
the highest proxy. With the candidates sorted by proxy into tie blocks
b = 1 … B (ascending) of π₀-mass m_b and cumulative mass F_b = Σ_{c≤b} m_c,

    P(pick in block b) = F_b^n − F_{b−1}^n,

split inside a block in proportion to π₀ (a uniformly chosen draw among the
tied ones is distributed as π₀ restricted to the block). Its KL to π₀ is exact
on the pool, and below the continuous bound log n − (n−1)/n.

Pools of different sizes are padded to a (P, N_max) matrix with a mask; padded
entries carry probability 0 (log-probability −∞).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import logsumexp


@dataclass(frozen=True)
class PaddedPools:
    """Flat per-candidate columns laid out as (P prompts, N_max) matrices.

    Attributes:
        mask: True where a candidate exists.
        index: flat row of each (prompt, slot), −1 on padding.
    """

    mask: np.ndarray
    index: np.ndarray

    @classmethod
    def from_prompts(cls, prompts: Sequence[str]) -> PaddedPools:
        """Prompts in order of first appearance, candidates in input order."""
        rows: dict[str, list[int]] = {}
        for i, prompt in enumerate(prompts):
            rows.setdefault(prompt, []).append(i)
        if not rows:
            raise ValueError("field 'prompts': the pool is empty")
        width = max(len(r) for r in rows.values())
        index = np.full((len(rows), width), -1, dtype=np.int64)
        for p, flat in enumerate(rows.values()):
            index[p, : len(flat)] = flat
        return cls(index >= 0, index)

    def matrix(self, column: np.ndarray, fill: float = 0.0) -> np.ndarray:
        """A flat column as a (P, N_max) matrix, ``fill`` on padding."""
        column = np.asarray(column, dtype=np.float64).reshape(-1)
        if column.size != int(self.mask.sum()):
            raise ValueError(f"field 'column': {column.size} values for {self.mask.sum()} rows")
        return np.where(self.mask, column[np.where(self.mask, self.index, 0)], fill)


def base_log_policy(mask: np.ndarray, logprob: np.ndarray | None = None) -> np.ndarray:
    """log π₀ per prompt: uniform over the pool, or ``logprob`` renormalised over it."""
    mask = np.asarray(mask, dtype=bool)
    scores = np.zeros(mask.shape) if logprob is None else np.asarray(logprob, dtype=np.float64)
    if scores.shape != mask.shape:
        raise ValueError(f"field 'logprob': shape {scores.shape} does not match {mask.shape}")
    if not np.all(np.isfinite(scores[mask])):
        raise ValueError("field 'logprob': log-probabilities must be finite")
    scores = np.where(mask, scores, -np.inf)
    return scores - logsumexp(scores, axis=1, keepdims=True)


def tilted_log_policy(log_pi0: np.ndarray, reward: np.ndarray, beta: float) -> np.ndarray:
    """log π_β = log π₀ + r/β − log Z_β per prompt; β = ∞ gives π₀ and β = 0 the
    argmax of r (ties in proportion to π₀)."""
    if not beta >= 0:
        raise ValueError(f"field 'beta': expected β >= 0, got {beta!r}")
    finite = np.isfinite(log_pi0)
    if np.isinf(beta):
        return log_pi0.copy()
    if beta == 0:
        best = np.max(np.where(finite, reward, -np.inf), axis=1, keepdims=True)
        logits = np.where(finite & (reward == best), log_pi0, -np.inf)
    else:
        logits = np.where(finite, log_pi0 + np.where(finite, reward, 0.0) / beta, -np.inf)
    return logits - logsumexp(logits, axis=1, keepdims=True)


def policy_stats(
    log_pi: np.ndarray, log_pi0: np.ndarray, reward: np.ndarray, gold: np.ndarray
) -> dict[str, float]:
    """Exact KL(π ‖ π₀), E_π[proxy] and E_π[gold], each averaged over prompts."""
    pi = np.exp(log_pi)
    live = pi > 0
    log_ratio = np.where(live, log_pi - np.where(live, log_pi0, 0.0), 0.0)
    kl = np.sum(pi * log_ratio, axis=1)
    return {
        "kl": float(np.mean(np.maximum(kl, 0.0))),
        "proxy": float(np.mean(np.sum(pi * np.where(live, reward, 0.0), axis=1))),
        "gold": float(np.mean(np.sum(pi * np.where(live, gold, 0.0), axis=1))),
    }


def kl_optimum_curve(
    log_pi0: np.ndarray, reward: np.ndarray, gold: np.ndarray, betas: Sequence[float]
) -> list[dict[str, Any]]:
    """``{beta, kl, proxy, gold}`` of π_β for each β (in the order given)."""
    return [
        {"beta": float(b), **policy_stats(tilted_log_policy(log_pi0, reward, b), log_pi0,
                                          reward, gold)}
        for b in betas
    ]


def bon_log_policy(log_pi0: np.ndarray, reward: np.ndarray, n: int) -> np.ndarray:
    """log-probability of each candidate being the best-of-n pick (n draws from π₀)."""
    if int(n) != n or n < 1:
        raise ValueError(f"field 'n': expected a positive integer, got {n!r}")
    rows, width = log_pi0.shape
    finite = np.isfinite(log_pi0)
    keyed = np.where(finite, reward, -np.inf)
    order = np.argsort(keyed, axis=1, kind="stable")
    mass = np.take_along_axis(np.exp(log_pi0), order, axis=1)
    ordered = np.take_along_axis(keyed, order, axis=1)
    new_block = np.concatenate(
        [np.ones((rows, 1), bool), ordered[:, 1:] != ordered[:, :-1]], axis=1
    )
    block = np.cumsum(new_block, axis=1) - 1 + width * np.arange(rows)[:, None]
    block_mass = np.bincount(block.ravel(), weights=mass.ravel(), minlength=rows * width)
    upper = np.cumsum(block_mass.reshape(rows, width), axis=1)
    lower = upper - block_mass.reshape(rows, width)
    pick = np.clip(upper, 0.0, 1.0) ** n - np.clip(lower, 0.0, 1.0) ** n
    share = np.divide(
        mass, block_mass[block], out=np.zeros_like(mass), where=block_mass[block] > 0
    )
    sorted_prob = pick.ravel()[block.ravel()].reshape(rows, width) * share
    prob = np.empty_like(sorted_prob)
    np.put_along_axis(prob, order, sorted_prob, axis=1)
    with np.errstate(divide="ignore"):
        return np.where(finite & (prob > 0), np.log(prob), -np.inf)


def bon_pool_curve(
    log_pi0: np.ndarray, reward: np.ndarray, gold: np.ndarray, ns: Sequence[int]
) -> list[dict[str, Any]]:
    """``{n, kl, proxy, gold}`` of the exact best-of-n policy on the pool for each n."""
    return [
        {"n": int(n), **policy_stats(bon_log_policy(log_pi0, reward, n), log_pi0, reward, gold)}
        for n in ns
    ]


def at_kl(points: Sequence[dict[str, Any]], kl: float, key: str = "gold") -> float | None:
    """``key`` at ``kl``, linear between the two points around it on a curve taken in
    order of increasing KL; ``None`` when ``kl`` is outside the curve's range."""
    xs = np.array([p["kl"] for p in points], dtype=np.float64)
    ys = np.array([p[key] for p in points], dtype=np.float64)
    order = np.argsort(xs, kind="stable")
    xs, ys = xs[order], ys[order]
    if xs.size == 0 or kl < xs[0] or kl > xs[-1]:
        return None
    return float(np.interp(kl, xs, ys))


def beta_grid(low: float, high: float, count: int) -> list[float]:
    """``count`` values of β spaced evenly in log from ``high`` down to ``low``."""
    if not 0 < low < high or count < 2:
        raise ValueError(
            f"field 'betas': need 0 < low < high and at least 2 values, got {low}, {high}, {count}"
        )
    return np.geomspace(high, low, count).tolist()
