"""The optimization axis of a forecast and each prompt's expected gold along it.

A forecast follows one optimizer from no optimization to the pool's reach:

- ``bon``: best-of-n for n on a quarter-octave grid 1 = n_0 < n_1 < … < n_K = N
  (n_k = round(2^{k/4}), duplicates dropped, N the smallest pool; 4 points per
  doubling, so "within a factor 2" spans 8 grid steps). A prompt's expected
  gold of the pick is the unbiased estimate from its pool
  (:func:`rewardlab.optimize.bon.expected_best_of_n`; Nakano et al. 2021,
  Coste et al. 2024, App. B). Gao et al.'s distance is d = √KL_bon(n) with the
  bound KL_bon(n) = log n − (n − 1)/n (:func:`rewardlab.optimize.bon.kl_bon`).
- ``kl``: the exact KL-regularized optimum π_β ∝ π₀·exp(r/β) of each prompt's
  pool, π₀ uniform, for β = ∞ (π₀ itself) then 40 values log-spaced from 30·s
  down to 0.01·s, s the proxy's scale (:mod:`rewardlab.lab.overopt.kl_optimum`
  and :func:`rewardlab.lab.overopt.rl_curves.reward_scale`, the lab's sweep).
  The axis value is KL(π_β ‖ π₀) averaged over *all* prompts (it needs no
  gold), d = √KL.

The axis needs only the proxy; the gold curve of a prompt needs that prompt's
gold. Both are per prompt, so a forecast can resample prompts (bootstrap) at
the cost of an average.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from rewardlab.lab.overopt.kl_optimum import beta_grid, tilted_log_policy
from rewardlab.lab.overopt.rl_curves import RLConfig, reward_scale
from rewardlab.optimize.bon import expected_best_of_n, kl_bon
from rewardlab.optimize.pool import PromptPool

OPTIMIZERS = ("bon", "kl")
STEPS_PER_DOUBLING = 4
ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class Axis:
    """The grid of one optimizer, ascending from no optimization.

    Attributes:
        optimizer: "bon" or "kl".
        x: n (bon) or the mean KL in nats (kl); x[0] is 1 or 0.
        d: Gao et al.'s distance √KL at each point (bound KL_bon for bon).
        u: the coordinate the peak is interpolated in: log n (bon) or √KL (kl).
        betas: β of each point (kl; ∞ first), else ``None``.
    """

    optimizer: str
    x: np.ndarray
    d: np.ndarray
    u: np.ndarray
    betas: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.x.size)

    @property
    def reach(self) -> float:
        """The largest x the pool can show."""
        return float(self.x[-1])

    def last_index_within(self, limit: float) -> int:
        """Index of the largest grid point with x ≤ ``limit`` (0 when none is above x[0])."""
        return max(0, int(np.searchsorted(self.x, limit, side="right")) - 1)


def n_grid(max_n: int) -> list[int]:
    """round(2^{k/4}) for k = 0, 1, … up to ``max_n``, duplicates dropped, ``max_n`` last."""
    if max_n < 2:
        raise ValueError(f"field 'max_n': the forecast needs pools of at least 2, got {max_n}")
    values = {1, max_n}
    k = 1
    while (n := round(2 ** (k / STEPS_PER_DOUBLING))) < max_n:
        values.add(n)
        k += 1
    return sorted(values)


def bon_axis(max_n: int) -> Axis:
    """The best-of-n axis up to ``max_n``."""
    ns = np.array(n_grid(max_n), dtype=np.float64)
    return Axis("bon", ns, np.sqrt(np.asarray(kl_bon(ns))), np.log(ns))


def bon_gold_curves(
    pools: Sequence[PromptPool], axis: Axis, progress: ProgressCallback | None = None
) -> np.ndarray:
    """(P, K) unbiased expected gold of the best-of-n pick, per prompt and grid n;
    ``progress(done, P)``: 0 first, then after each prompt."""
    out = np.empty((len(pools), len(axis)), dtype=np.float64)
    if progress is not None:
        progress(0, len(pools))
    for p, pool in enumerate(pools):
        if pool.gold is None:
            raise ValueError(f"field 'gold': prompt {p} has no gold scores")
        for k, n in enumerate(axis.x):
            out[p, k] = expected_best_of_n(pool.scores, int(n), pool.gold)
        if progress is not None:
            progress(p + 1, len(pools))
    return out


def padded(pools: Sequence[PromptPool], values: Sequence[np.ndarray | None]) -> np.ndarray:
    """Per-prompt arrays as a (P, N_max) matrix, 0 on padding."""
    width = max(len(pool) for pool in pools)
    out = np.zeros((len(pools), width), dtype=np.float64)
    for p, row in enumerate(values):
        if row is not None:
            out[p, : len(row)] = row
    return out


def _uniform_log_pi0(pools: Sequence[PromptPool]) -> np.ndarray:
    width = max(len(pool) for pool in pools)
    sizes = np.array([len(pool) for pool in pools])
    columns = np.arange(width)[None, :]
    return np.where(columns < sizes[:, None], -np.log(sizes)[:, None], -np.inf)


@dataclass(frozen=True)
class KLSweep:
    """The tilted policies of every prompt along the β sweep (kl axis)."""

    axis: Axis
    log_policies: np.ndarray  # (K, P, N_max)


def kl_sweep(pools: Sequence[PromptPool], config: RLConfig | None = None) -> KLSweep:
    """π_β of every prompt for β = ∞ then the lab's sweep (units of the proxy's scale);
    the axis is the mean KL over all prompts, sorted ascending (β descending)."""
    config = config or RLConfig()
    log_pi0 = _uniform_log_pi0(pools)
    reward = padded(pools, [pool.scores for pool in pools])
    scale = reward_scale(log_pi0, reward)
    betas = [np.inf, *beta_grid(config.beta_low, config.beta_high, config.n_betas)]
    policies = np.stack([tilted_log_policy(log_pi0, reward / scale, b) for b in betas])
    live = np.isfinite(policies)
    pi = np.exp(np.where(live, policies, -np.inf))
    ratio = np.where(live, policies - np.where(np.isfinite(log_pi0), log_pi0, 0.0), 0.0)
    kl = np.maximum(np.sum(pi * ratio, axis=2), 0.0).mean(axis=1)
    kl = np.maximum.accumulate(kl)  # monotone in β up to rounding
    axis = Axis("kl", kl, np.sqrt(kl), np.sqrt(kl), np.array(betas) * scale)
    return KLSweep(axis, policies)


def kl_gold_curves(sweep: KLSweep, pools: Sequence[PromptPool], rows: Sequence[int]) -> np.ndarray:
    """(len(rows), K) E_{π_β}[gold] of the prompts ``rows`` (which must have gold)."""
    rows = list(rows)
    for p in rows:
        if pools[p].gold is None:
            raise ValueError(f"field 'gold': prompt {p} has no gold scores")
    gold = padded([pools[p] for p in rows], [pools[p].gold for p in rows])
    pi = np.exp(sweep.log_policies[:, rows, : gold.shape[1]])
    return np.einsum("kpn,pn->pk", pi, gold)
