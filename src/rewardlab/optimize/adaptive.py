"""Adaptive best-of-n: stop sampling a prompt once another sample is unlikely to help.

Manvi et al. 2024 ("Adaptive Inference-Time Compute: LLMs Can Predict if They
Can Do Better, Even Mid-Generation") spend samples where they pay off: a
prompt gets another sample only while a better one is likely. Here the
prediction comes from the reward model itself. Candidates of a prompt are
drawn one at a time (from its pool, in a seeded random order); after draw k
(k ≥ ``min_n``), with B_k the best reward so far, sampling stops when

- B_k ≥ τ, a per-prompt threshold: the q-quantile of a reference reward
  distribution, either that prompt's own (``reference="prompt"``) or all
  prompts' rewards pooled (``"global"``), or thresholds the caller gives; or
- the predicted gain of one more draw is below ``min_gain``. The gain
  E[max(0, R − B_k)] is estimated leave-one-out on the k rewards seen so far:
  each seen reward in turn plays the "next draw" against the best of the
  others, (1/k) Σ_j max(0, r_j − max_{i≠j} r_i) = (B_k − B'_k) / k, with B'_k
  the second best (defined from k ≥ 2); or
- k reaches ``max_n`` (or the pool size).

The pick is the best drawn candidate. The comparison is fixed best-of-n at the
same average compute n̄: a policy using ⌊n̄⌋ or ⌈n̄⌉ samples with
probabilities making the mean n̄, whose expected reward is the linear
interpolation of the unbiased best-of-n estimates (:mod:`.bon`) at ⌊n̄⌋ and ⌈n̄⌉.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rewardlab.optimize.bon import expected_best_of_n
from rewardlab.optimize.pool import PromptPool


@dataclass(frozen=True)
class AdaptiveConfig:
    """Stopping rules of adaptive best-of-n.

    Attributes:
        max_n: most candidates drawn per prompt.
        min_n: draws before any stopping rule applies.
        quantile: q of the threshold rule; ``None`` turns the rule off.
        reference: ``"prompt"`` (each prompt's pool) or ``"global"`` (all pools).
        min_gain: stop when the predicted gain is below it; ``None`` turns it off.
        shuffle: draw in a random order (seeded); ``False`` keeps the pool order.
        seed: seeds the drawing order.
    """

    max_n: int = 16
    min_n: int = 1
    quantile: float | None = 0.9
    reference: str = "prompt"
    min_gain: float | None = None
    shuffle: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        if self.max_n < 1:
            raise ValueError(f"field 'max_n': must be at least 1, got {self.max_n}")
        if not 1 <= self.min_n <= self.max_n:
            raise ValueError(f"field 'min_n': need 1 <= min_n <= max_n, got {self.min_n}")
        if self.quantile is not None and not 0.0 <= self.quantile <= 1.0:
            raise ValueError(f"field 'quantile': must be in [0, 1], got {self.quantile}")
        if self.reference not in ("prompt", "global"):
            raise ValueError(f"field 'reference': 'prompt' or 'global', got {self.reference!r}")


@dataclass(frozen=True)
class AdaptiveResult:
    """Per prompt: samples used and the picked candidate; averages vs fixed n.

    ``reward``/``gold`` are the mean proxy/gold of the picks; ``fixed_reward``
    and ``fixed_gold`` are best-of-n at the same mean number of samples.
    """

    n_used: np.ndarray
    chosen: np.ndarray
    mean_n: float
    reward: float
    gold: float | None
    fixed_reward: float
    fixed_gold: float | None


def reference_thresholds(
    pools: Sequence[PromptPool], quantile: float, reference: str = "prompt"
) -> np.ndarray:
    """τ per prompt: the ``quantile`` of each pool's rewards, or of all rewards pooled."""
    if reference == "global":
        value = np.quantile(np.concatenate([pool.scores for pool in pools]), quantile)
        return np.full(len(pools), float(value))
    if reference == "prompt":
        return np.array([np.quantile(pool.scores, quantile) for pool in pools])
    raise ValueError(f"field 'reference': 'prompt' or 'global', got {reference!r}")


def predicted_gain(seen: np.ndarray) -> float:
    """Leave-one-out estimate of E[max(0, R − best)] for one more draw: (B − B')/k."""
    if seen.size < 2:
        return math.inf
    top_two = np.partition(seen, -2)[-2:]
    return float(top_two[1] - top_two[0]) / seen.size


def _draw(scores: np.ndarray, order: np.ndarray, config: AdaptiveConfig, tau: float) -> int:
    """Number of candidates drawn before a stopping rule fires."""
    limit = min(config.max_n, len(order))
    for k in range(1, limit + 1):
        if k < config.min_n:
            continue
        seen = scores[order[:k]]
        if seen.max() >= tau:
            return k
        if config.min_gain is not None and predicted_gain(seen) < config.min_gain:
            return k
    return limit


def _fixed(pools: Sequence[PromptPool], mean_n: float, gold: bool) -> float:
    low, high = math.floor(mean_n), math.ceil(mean_n)
    share_high = mean_n - low
    total = 0.0
    for pool in pools:
        values = pool.gold if gold else None
        low_value = expected_best_of_n(pool.scores, min(low, len(pool)), values)
        high_value = expected_best_of_n(pool.scores, min(high, len(pool)), values)
        total += (1.0 - share_high) * low_value + share_high * high_value
    return total / len(pools)


def adaptive_best_of_n(
    pools: Sequence[PromptPool],
    config: AdaptiveConfig | None = None,
    thresholds: np.ndarray | None = None,
) -> AdaptiveResult:
    """Run adaptive best-of-n over every pool (see the module docstring).

    ``thresholds`` (one per pool) replaces the quantile reference when given.
    """
    config = config or AdaptiveConfig()
    if not pools:
        raise ValueError("field 'pools': no pools given")
    if thresholds is not None:
        tau = np.asarray(thresholds, dtype=np.float64)
        if tau.shape != (len(pools),):
            raise ValueError(f"field 'thresholds': need {len(pools)} values, got {tau.shape}")
    elif config.quantile is not None:
        tau = reference_thresholds(pools, config.quantile, config.reference)
    else:
        tau = np.full(len(pools), math.inf)
    rng = np.random.default_rng(config.seed)
    n_used = np.empty(len(pools), dtype=np.int64)
    chosen = np.empty(len(pools), dtype=np.int64)
    for p, pool in enumerate(pools):
        order = rng.permutation(len(pool)) if config.shuffle else np.arange(len(pool))
        k = _draw(pool.scores, order, config, float(tau[p]))
        drawn = order[:k]
        n_used[p] = k
        chosen[p] = drawn[np.argmax(pool.scores[drawn])]
    with_gold = all(pool.gold is not None for pool in pools)
    mean_n = float(n_used.mean())
    return AdaptiveResult(
        n_used=n_used,
        chosen=chosen,
        mean_n=mean_n,
        reward=float(np.mean([pool.scores[c] for pool, c in zip(pools, chosen, strict=True)])),
        gold=(
            float(np.mean([pool.gold[c] for pool, c in zip(pools, chosen, strict=True)]))
            if with_gold
            else None
        ),
        fixed_reward=_fixed(pools, mean_n, gold=False),
        fixed_gold=_fixed(pools, mean_n, gold=True) if with_gold else None,
    )
