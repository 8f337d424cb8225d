"""Combining several reward models r_1 … r_m into one reward.

- :class:`WeightedSum`:    R = Σ_i w_i r_i.
- :class:`LogSigmoidSum`:  R = Σ_i log σ(r_i − r_ref,i(x)) — the sum of
  log-sigmoid centered rewards is the log-probability that the response beats
  the reference on every property at once, the "logical AND" reading of Wang et
  al. (2024), "Transforming and Combining Rewards for Aligning Large Language
  Models". r_ref,i(x) is the q-quantile of reward i on the prompt's reference
  samples (see :class:`~rewardlab.robust.transforms.LogSigmoidCentered`).
- :class:`HarmonicMean`:   R = 1 / Σ_i (w_i / r_i), weights normalized to sum to
  1, rewards required in (0, 1]. With two rewards and weights (λ, 1 − λ) this
  is the λ-Harmonic reward of Miao et al. (2024), "Subject-driven Text-to-Image
  Generation via Preference-based Reinforcement Learning" (NeurIPS 2024),
  R = 1 / (λ / r_image + (1 − λ) / r_text): a response must do well on every
  reward, since one small r_i drags R towards 0.
- Constrained combination (Moskovitz et al., 2024, "Confronting Reward Model
  Overoptimization with Constrained RLHF", ICLR 2024). Component i is only a
  useful proxy up to a threshold θ_i (its "proxy point"); past it, more of r_i
  means worse true quality. The weights of the components are Lagrange
  multipliers squashed into (0, 1) by a sigmoid, learned so that each
  component ends at its threshold:

      reward:       R_λ = Σ_i σ(λ_i) r_i
      multipliers:  min_λ Σ_i σ(λ_i) (E[r_i] − θ_i), by gradient descent from the
                    batch mean r̄_i:  λ_i ← λ_i − η σ'(λ_i) (r̄_i − θ_i),
                    σ' = σ (1 − σ).

  A component below its threshold gains weight and one above it loses weight,
  but no weight ever leaves (0, 1): R_λ never rewards making a component
  worse. This is the paper's sigmoid-multiplier form (its PPO mixes
  advantages as (1 − σ(λ)) A_task + σ(λ) A_constraint and descends
  σ(λ)(E[G_c] − θ), SGD lr 0.05); the RL trainer's KL penalty plays the task
  (the paper's μ-PPO), as in :mod:`rewardlab.lab.overopt.constrained`.
  (The earlier form here, Σ_i (1 − λ_i) r_i + λ_i θ_i with λ_i ≥ 0 unbounded,
  gave component i a negative weight once λ_i > 1.) :class:`ConstrainedCombiner`
  holds λ for an RL loop. :class:`ThresholdedSum` is the static form for
  best-of-n, where there is no training loop: R = Σ_i w_i min(r_i, θ_i), each
  component counting only up to its threshold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from rewardlab.protocols import RewardModel, check_lengths
from rewardlab.robust.transforms import LogSigmoidCentered


def _models(models: Sequence[RewardModel]) -> tuple[RewardModel, ...]:
    if len(models) == 0:
        raise ValueError("models: need at least one reward model to combine")
    return tuple(models)


def _per_model(name: str, values: Sequence[float] | None, m: int, default: float) -> np.ndarray:
    if values is None:
        return np.full(m, default, dtype=np.float64)
    arr = np.asarray(values, dtype=np.float64)
    if arr.shape != (m,):
        raise ValueError(f"{name} must have one value per model ({m}), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite")
    return arr


def component_scores(
    models: Sequence[RewardModel], prompts: Sequence[str], responses: Sequence[str]
) -> np.ndarray:
    """Each model's rewards, one row per model: ``(m, n)``."""
    n = check_lengths(prompts, responses)
    rows = []
    for i, model in enumerate(models):
        row = np.asarray(model.score(prompts, responses), dtype=np.float64)
        if row.shape != (n,):
            raise ValueError(f"models[{i}].score returned shape {row.shape}, expected ({n},)")
        rows.append(row)
    return np.stack(rows)


class WeightedSum:
    """R = Σ_i w_i r_i (weights default to 1)."""

    def __init__(
        self, models: Sequence[RewardModel], weights: Sequence[float] | None = None
    ) -> None:
        self.models = _models(models)
        self.weights = _per_model("weights", weights, len(self.models), 1.0)

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        return self.weights @ component_scores(self.models, prompts, responses)


class LogSigmoidSum:
    """R = Σ_i log σ(r_i − r_ref,i(x)), with one reference mapping shared by all models."""

    def __init__(
        self,
        models: Sequence[RewardModel],
        references: Mapping[str, str | Sequence[str]],
        quantile: float = 0.85,
    ) -> None:
        self.models = _models(models)
        self.references = references
        self.quantile = quantile
        self._transformed = [LogSigmoidCentered(m, references, quantile) for m in self.models]

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        return np.sum([t.score(prompts, responses) for t in self._transformed], axis=0)


class HarmonicMean:
    """R = 1 / Σ_i (w_i / r_i) with Σ w_i = 1; every r_i must lie in (0, 1]."""

    def __init__(
        self, models: Sequence[RewardModel], weights: Sequence[float] | None = None
    ) -> None:
        self.models = _models(models)
        raw = _per_model("weights", weights, len(self.models), 1.0)
        if np.any(raw < 0) or raw.sum() <= 0:
            raise ValueError("weights must be >= 0 with a positive sum")
        self.weights = raw / raw.sum()

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        scores = component_scores(self.models, prompts, responses)
        bad = np.argwhere(~((scores > 0) & (scores <= 1)))
        if bad.size:
            i, j = bad[0]
            raise ValueError(
                f"models[{i}] gave reward {scores[i, j]} for sample {j}; the harmonic mean "
                "needs rewards in (0, 1] (wrap the model in a bounded transform first)"
            )
        return 1.0 / (self.weights @ (1.0 / scores))


class ThresholdedSum:
    """Static constrained combination for best-of-n: R = Σ_i w_i min(r_i, θ_i)."""

    def __init__(
        self,
        models: Sequence[RewardModel],
        thresholds: Sequence[float],
        weights: Sequence[float] | None = None,
    ) -> None:
        self.models = _models(models)
        self.thresholds = _per_model("thresholds", thresholds, len(self.models), 0.0)
        self.weights = _per_model("weights", weights, len(self.models), 1.0)

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        scores = component_scores(self.models, prompts, responses)
        return self.weights @ np.minimum(scores, self.thresholds[:, None])


class ConstrainedCombiner:
    """Sigmoid-multiplier combination with multipliers learned from RL batches.

    ``score`` gives R_λ = Σ_i σ(λ_i) r_i with the current λ (``weights``);
    ``update`` takes the components' rewards on a batch, ``(m, batch)``, and
    applies λ_i ← λ_i − lr·σ'(λ_i)·(mean_i − θ_i).

    Args:
        models: the component reward models.
        thresholds: θ_i, one per model.
        lr: the multiplier step size η (the paper's 0.05).
        initial_multiplier: λ_i before the first update (σ(0) = ½).
    """

    def __init__(
        self,
        models: Sequence[RewardModel],
        thresholds: Sequence[float],
        lr: float = 0.05,
        initial_multiplier: float = 0.0,
    ) -> None:
        if not lr > 0:
            raise ValueError(f"lr must be > 0, got {lr}")
        if not np.isfinite(initial_multiplier):
            raise ValueError(f"initial_multiplier must be finite, got {initial_multiplier}")
        self.models = _models(models)
        self.thresholds = _per_model("thresholds", thresholds, len(self.models), 0.0)
        self.lr = lr
        self.multipliers_ = np.full(len(self.models), float(initial_multiplier))

    @property
    def weights(self) -> np.ndarray:
        """σ(λ_i), each in (0, 1)."""
        return 1.0 / (1.0 + np.exp(-self.multipliers_))

    def component_scores(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        """Each component's rewards, ``(m, n)`` — what :meth:`update` expects."""
        return component_scores(self.models, prompts, responses)

    def combine(self, component_rewards: np.ndarray) -> np.ndarray:
        """R_λ = Σ_i σ(λ_i) r_i from component rewards ``(m, n)``."""
        return self.weights @ self._check(component_rewards)

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        return self.combine(self.component_scores(prompts, responses))

    def update(self, component_rewards: np.ndarray) -> np.ndarray:
        """One gradient step on λ from a batch ``(m, batch)``; returns the new λ."""
        rewards = self._check(component_rewards)
        if rewards.shape[1] == 0:
            raise ValueError("component_rewards: the batch is empty")
        sigma = self.weights
        gap = rewards.mean(axis=1) - self.thresholds
        self.multipliers_ = self.multipliers_ - self.lr * sigma * (1.0 - sigma) * gap
        return self.multipliers_.copy()

    def _check(self, component_rewards: np.ndarray) -> np.ndarray:
        rewards = np.asarray(component_rewards, dtype=np.float64)
        m = len(self.models)
        if rewards.ndim != 2 or rewards.shape[0] != m:
            raise ValueError(
                f"component_rewards must have shape ({m} components, batch), got {rewards.shape}"
            )
        if not np.all(np.isfinite(rewards)):
            raise ValueError("component_rewards contains NaN or infinite values")
        return rewards
