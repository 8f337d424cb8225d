"""Unbiased best-of-n estimates from a pool of candidates.

Best-of-n (BoN) sampling draws n responses and keeps the one the proxy reward
ranks highest. Given a larger pool of N ≥ n i.i.d. samples for one prompt,
sorted ascending by proxy score S_1 ≤ … ≤ S_N, the expected value of the
candidate BoN picks is estimated without bias by averaging over all C(N, n)
subsets (Nakano et al. 2021, "WebGPT", App.; Coste et al. 2024, "Reward Model
Ensembles Help Mitigate Overoptimization", App. B):

    E[v(best of n)] = Σ_{i=n}^{N} C(i−1, n−1) / C(N, n) · v_(i),

since the i-th smallest is the subset's maximum exactly when the subset holds
it and n−1 of the i−1 smaller ones. ``v`` is the proxy score itself or any
gold column. Weights are computed in log space with ``gammaln``, so N in the
thousands is exact to rounding; they sum to one (hockey-stick identity).

Ties in the proxy: BoN breaks them uniformly at random, so each member of a
block of tied scores is picked with the mean weight of the block's positions.
This is the exact expectation under random tie-breaking, and unlike a stable
sort it does not depend on the pool's order.

The KL divergence between the BoN policy and the sampling policy is
(Stiennon et al. 2020; Coste et al. 2024) KL_bon(n) = log n − (n − 1)/n.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.special import gammaln, xlogy

from rewardlab.optimize.pool import PromptPool


def kl_bon(n: int | np.ndarray) -> float | np.ndarray:
    """The upper bound log n − (n − 1)/n on KL(best-of-n ‖ base policy), for n ≥ 1
    (exact only for a base policy without atoms; Beirami et al. 2024)."""
    n_arr = np.asarray(n, dtype=np.float64)
    if np.any(n_arr < 1):
        raise ValueError(f"field 'n': best-of-n needs n >= 1, got {n}")
    kl = np.log(n_arr) - (n_arr - 1.0) / n_arr
    return float(kl) if kl.ndim == 0 else kl


def bon_weights(pool_size: int, n: int) -> np.ndarray:
    """Weight of each ascending rank (0-based) in the unbiased BoN estimate, shape (N,).

    w_i = C(i−1, n−1) / C(N, n) for 1-based rank i ≥ n, else 0.
    """
    if not 1 <= n <= pool_size:
        raise ValueError(f"field 'n': need 1 <= n <= pool size {pool_size}, got {n}")
    ranks = np.arange(n, pool_size + 1, dtype=np.float64)  # 1-based ranks i = n … N
    log_num = gammaln(ranks) - gammaln(n) - gammaln(ranks - n + 1)  # log C(i-1, n-1)
    log_den = gammaln(pool_size + 1) - gammaln(n + 1) - gammaln(pool_size - n + 1)
    weights = np.zeros(pool_size, dtype=np.float64)
    weights[n - 1 :] = np.exp(log_num - log_den)
    return weights


def bon_weights_with_replacement(pool_size: int, n: int) -> np.ndarray:
    """P(best of n i.i.d. uniform draws from the pool has ascending rank i), shape (N,).

    p_i = (i/N)^n − ((i−1)/N)^n for 1-based ranks i = 1 … N; any n ≥ 1.
    """
    if pool_size < 1 or n < 1:
        raise ValueError(f"field 'n': need n >= 1 and a non-empty pool, got n={n}, N={pool_size}")
    if n == 1:  # 1/N exactly, where the differences below round
        return np.full(pool_size, 1.0 / pool_size)
    cumulative = (np.arange(pool_size + 1, dtype=np.float64) / pool_size) ** n
    return np.diff(cumulative)


def _kl_from_uniform(weights: np.ndarray) -> np.ndarray:
    """Σ_i p_i log(N p_i) per row of a (G, N) matrix of pick probabilities: exactly 0
    for a uniform row, and never below 0 (a KL is ≥ 0; rounding of p_i ≈ 1/N would
    otherwise leave ±1e-14)."""
    kl = xlogy(weights, weights.shape[-1] * weights).sum(axis=-1)
    uniform = np.ptp(weights, axis=-1) == 0
    return np.where(uniform, 0.0, np.maximum(kl, 0.0))


def kl_bon_exact(proxy: np.ndarray, n: int, replace: bool = False) -> float:
    """Exact KL(best-of-n ‖ uniform) over one prompt's pool (see the module docstring).

    ``replace=False``: n distinct candidates, the unbiased estimator's policy;
    ``replace=True``: n i.i.d. draws from the pool. Proxy ties share their
    block's mean pick probability.
    """
    proxy = np.asarray(proxy, dtype=np.float64).reshape(1, -1)
    _, blocks = _sorted_with_blocks(proxy)
    size = proxy.shape[1]
    weights = bon_weights_with_replacement(size, n) if replace else bon_weights(size, n)
    return float(_kl_from_uniform(_tie_averaged(weights, blocks, 1))[0])


def _sorted_with_blocks(proxy: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Row-wise ascending sort order of a (G, N) matrix and, when any row has
    ties, a flat tie-block id per sorted position (unique across rows)."""
    order = np.argsort(proxy, axis=1, kind="stable")
    ordered = np.take_along_axis(proxy, order, axis=1)
    new_block = ordered[:, 1:] != ordered[:, :-1]
    if new_block.all():
        return order, None
    rows, size = proxy.shape
    block = np.concatenate([np.zeros((rows, 1), dtype=np.int64), np.cumsum(new_block, axis=1)], 1)
    return order, (block + size * np.arange(rows)[:, None]).ravel()


def _tie_averaged(weights: np.ndarray, blocks: np.ndarray | None, rows: int) -> np.ndarray:
    """Broadcast rank weights to (rows, N), averaged within tie blocks."""
    size = weights.shape[0]
    if blocks is None:
        return np.broadcast_to(weights, (rows, size))
    flat = np.tile(weights, rows)
    sums = np.bincount(blocks, weights=flat, minlength=rows * size)
    counts = np.bincount(blocks, minlength=rows * size)
    return (sums[blocks] / counts[blocks]).reshape(rows, size)


def expected_best_of_n(proxy: np.ndarray, n: int, values: np.ndarray | None = None) -> float:
    """Unbiased E[value of the best-of-n pick] for one prompt's pool.

    ``proxy`` ranks the candidates; ``values`` (default: the proxy itself) is
    what is averaged, e.g. a gold score. Proxy ties are broken at random (see
    the module docstring).
    """
    proxy = np.asarray(proxy, dtype=np.float64).reshape(1, -1)
    values = proxy if values is None else np.asarray(values, dtype=np.float64).reshape(1, -1)
    if values.shape != proxy.shape:
        raise ValueError(
            f"field 'values': {values.shape[1]} values for {proxy.shape[1]} proxy scores"
        )
    order, blocks = _sorted_with_blocks(proxy)
    weights = _tie_averaged(bon_weights(proxy.shape[1], n), blocks, 1)
    return float((weights * np.take_along_axis(values, order, axis=1)).sum())


def best_of_n_curve(pool_groups: Sequence[PromptPool], ns: Sequence[int]) -> list[dict[str, Any]]:
    """Expected proxy and gold reward of best-of-n for each n, averaged over prompts.

    Returns one dict per n: ``{n, proxy, gold, kl, sqrt_kl, kl_exact,
    kl_exact_with_replacement, prompts, skipped}``; ``gold`` is ``None`` when
    the pools carry no gold, ``prompts`` is how many prompts were averaged and
    ``skipped`` how many had fewer than n candidates. ``kl`` is the upper bound
    log n − (n−1)/n; ``kl_exact`` the mean over prompts of the exact KL of
    best-of-n without replacement from each prompt's pool (the policy whose
    proxy and gold these are), ``kl_exact_with_replacement`` the same with
    replacement (≤ ``kl``); both ``None`` when no prompt has n candidates.
    Pools of equal size are processed as one matrix, so the cost is a sort per
    pool plus a few array operations per n.
    """
    if not pool_groups:
        raise ValueError("field 'pool_groups': no pools given")
    if not ns:
        raise ValueError("field 'ns': no values of n given")
    if any(int(n) != n or n < 1 for n in ns):
        raise ValueError(f"field 'ns': every n must be a positive integer, got {list(ns)}")
    has_gold = [pool.gold is not None for pool in pool_groups]
    if any(has_gold) and not all(has_gold):
        raise ValueError("field 'gold': some pools have gold scores and others do not")
    with_gold = all(has_gold)

    by_size: dict[int, list[PromptPool]] = {}
    for pool in pool_groups:
        by_size.setdefault(len(pool), []).append(pool)

    # proxy sum, gold sum, prompt count, exact KL sums without / with replacement
    totals = {int(n): np.zeros(5) for n in ns}
    for size, pools in by_size.items():
        proxy = np.stack([pool.scores for pool in pools])
        order, blocks = _sorted_with_blocks(proxy)
        proxy_sorted = np.take_along_axis(proxy, order, axis=1)
        gold_sorted = (
            np.take_along_axis(np.stack([pool.gold for pool in pools]), order, axis=1)
            if with_gold
            else None
        )
        for n in totals:
            if n > size:
                continue
            weights = _tie_averaged(bon_weights(size, n), blocks, len(pools))
            totals[n][0] += float((weights * proxy_sorted).sum())
            if gold_sorted is not None:
                totals[n][1] += float((weights * gold_sorted).sum())
            totals[n][2] += len(pools)
            totals[n][3] += float(_kl_from_uniform(weights).sum())
            drawn = _tie_averaged(bon_weights_with_replacement(size, n), blocks, len(pools))
            totals[n][4] += float(_kl_from_uniform(drawn).sum())

    curve = []
    for n in ns:
        proxy_sum, gold_sum, count, exact_sum, drawn_sum = (float(x) for x in totals[int(n)])
        kl = float(kl_bon(int(n)))
        curve.append(
            {
                "n": int(n),
                "proxy": proxy_sum / count if count else None,
                "gold": gold_sum / count if count and with_gold else None,
                "kl": kl,
                "sqrt_kl": float(np.sqrt(kl)),
                "kl_exact": exact_sum / count if count else None,
                "kl_exact_with_replacement": drawn_sum / count if count else None,
                "prompts": int(count),
                "skipped": len(pool_groups) - int(count),
            }
        )
    return curve
