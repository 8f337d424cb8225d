"""Reward transforms: wrappers that are reward models, and per-step reward refinements.

Wrappers around any :class:`~rewardlab.protocols.RewardModel`:

- :class:`LogSigmoidCentered`: u(x, y) = log σ(r(x, y) − r_ref(x)) (Wang et al.,
  2024, "Transforming and Combining Rewards for Aligning Large Language
  Models"). r_ref(x) is the q-quantile (default q = 0.85) of the rewards of
  reference samples for prompt x (e.g. base-policy samples), or the reward of a
  single reference response. The transform saturates above the reference, so
  the policy gains little from pushing an already-good response further and
  much from fixing a bad one.
- :class:`ZNormalized`: (r − μ_ref) / σ_ref with μ_ref, σ_ref the mean and
  population std of the model's rewards on a fixed reference set.
- :class:`Clipped`: min(max(r, lo), hi).

Step-reward refinements for process reward models (Gao et al., 2024, "On
Designing Effective RL Reward at Training Time for LLM Reasoning"), on the
rewards r_1 … r_K of one trajectory's K steps; both bound the return so that
repeating correct-looking steps cannot farm reward:

- :func:`clip_step_rewards`:  r̃_k = min(r_k − η, 0).
- :func:`delta_step_rewards`: r̃_k = r_k − r_{k+1}, so the return from step t,
  Σ_{k≥t} r̃_k, telescopes to r_t, the reward of step t itself: the whole sum
  is r_1, the first step's reward, however many steps follow. Gao et al. leave out the
  final (answer) step, which the success reward already judges (their Figure 2:
  the last step's process reward is discarded and the step before it keeps its
  own reward): with ``drop_last=True`` (default), r̃_{K−1} = r_{K−1},
  r̃_K = 0 and r̃_k = r_k − r_{k+1} for k < K − 1. With ``drop_last=False``
  the last step keeps r̃_K = r_K.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from rewardlab.protocols import RewardModel, check_lengths


def log_sigmoid(z: np.ndarray) -> np.ndarray:
    """log σ(z) = −log(1 + e^{−z}), computed without overflow."""
    return -np.logaddexp(0.0, -np.asarray(z, dtype=np.float64))


def _scores(model: RewardModel, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
    n = check_lengths(prompts, responses)
    scores = np.asarray(model.score(prompts, responses), dtype=np.float64)
    if scores.shape != (n,):
        raise ValueError(f"model.score returned shape {scores.shape}, expected ({n},)")
    return scores


class LogSigmoidCentered:
    """u = log σ(r − r_ref(x)); r_ref(x) is the q-quantile of reference rewards for x.

    Args:
        model: the reward model to transform.
        references: prompt → reference responses (a list or tuple, or one response of
            any modality: a string, an image). Each
            prompt's references are scored once, on first use, and cached.
        quantile: q in [0, 1] (numpy's linear interpolation between samples).
    """

    def __init__(
        self,
        model: RewardModel,
        references: Mapping[str, str | Sequence[str]],
        quantile: float = 0.85,
    ) -> None:
        if not 0.0 <= quantile <= 1.0:
            raise ValueError(f"quantile must be in [0, 1], got {quantile}")
        self.model = model
        self.references = references
        self.quantile = quantile
        self._ref_cache: dict[str, float] = {}

    def _reference_responses(self, prompt: str) -> tuple[str, ...]:
        if prompt not in self.references:
            raise ValueError(f"references: no reference responses for prompt {prompt[:80]!r}")
        refs = self.references[prompt]
        refs = tuple(refs) if isinstance(refs, list | tuple) else (refs,)
        if not refs:
            raise ValueError(f"references: empty reference list for prompt {prompt[:80]!r}")
        return refs

    def reference_rewards(self, prompts: Sequence[str]) -> np.ndarray:
        """r_ref(x) for each prompt; prompts not yet cached are scored in one batch."""
        missing = list(dict.fromkeys(p for p in prompts if p not in self._ref_cache))
        if missing:
            groups = [self._reference_responses(p) for p in missing]
            flat_prompts = [p for p, refs in zip(missing, groups, strict=True) for _ in refs]
            flat_refs = [r for refs in groups for r in refs]
            rewards = _scores(self.model, flat_prompts, flat_refs)
            start = 0
            for prompt, refs in zip(missing, groups, strict=True):
                chunk = rewards[start : start + len(refs)]
                self._ref_cache[prompt] = float(np.quantile(chunk, self.quantile))
                start += len(refs)
        return np.array([self._ref_cache[p] for p in prompts], dtype=np.float64)

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        rewards = _scores(self.model, prompts, responses)
        return log_sigmoid(rewards - self.reference_rewards(prompts))


class ZNormalized:
    """(r − μ_ref) / σ_ref over a reference set, σ_ref the population std (computed once)."""

    def __init__(
        self,
        model: RewardModel,
        reference_prompts: Sequence[str],
        reference_responses: Sequence[str],
    ) -> None:
        check_lengths(reference_prompts, reference_responses)
        if len(reference_prompts) == 0:
            raise ValueError("reference_prompts: the reference set is empty")
        self.model = model
        self.reference_prompts = reference_prompts
        self.reference_responses = reference_responses
        self._stats: tuple[float, float] | None = None

    def reference_stats(self) -> tuple[float, float]:
        """(μ_ref, σ_ref) of the model's rewards on the reference set."""
        if self._stats is None:
            ref = _scores(self.model, self.reference_prompts, self.reference_responses)
            std = float(ref.std(ddof=0))
            if std == 0.0:
                raise ValueError(
                    "reference_responses: the model gives every reference the same reward, "
                    "so the standard deviation is 0"
                )
            self._stats = (float(ref.mean()), std)
        return self._stats

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        mean, std = self.reference_stats()
        return (_scores(self.model, prompts, responses) - mean) / std


class Clipped:
    """min(max(r, lo), hi); use ``-inf``/``inf`` for a one-sided clip."""

    def __init__(self, model: RewardModel, lo: float, hi: float) -> None:
        if not lo < hi:
            raise ValueError(f"lo must be < hi, got lo={lo}, hi={hi}")
        self.model = model
        self.lo = lo
        self.hi = hi

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        return np.clip(_scores(self.model, prompts, responses), self.lo, self.hi)


def _step_array(step_rewards: Sequence[float] | np.ndarray) -> np.ndarray:
    rewards = np.asarray(step_rewards, dtype=np.float64)
    if rewards.ndim != 1 or rewards.size == 0:
        raise ValueError(
            f"step_rewards must be a non-empty 1-D array (one trajectory), got shape {rewards.shape}"
        )
    return rewards


def clip_step_rewards(step_rewards: Sequence[float] | np.ndarray, eta: float) -> np.ndarray:
    """Clip mechanism (Gao et al., 2024): r̃_k = min(r_k − η, 0)."""
    return np.minimum(_step_array(step_rewards) - eta, 0.0)


def delta_step_rewards(
    step_rewards: Sequence[float] | np.ndarray, drop_last: bool = True
) -> np.ndarray:
    """Delta mechanism (Gao et al., 2024): r̃_k = r_k − r_{k+1}; see the module docstring.

    ``drop_last=True`` discards the final step's reward (r̃_K = 0) and lets step
    K − 1 keep its own; ``drop_last=False`` keeps r̃_K = r_K.
    """
    rewards = _step_array(step_rewards)
    kept = rewards[:-1] if drop_last else rewards
    delta = np.zeros_like(rewards)
    if kept.size:
        delta[: kept.size - 1] = kept[:-1] - kept[1:]
        delta[kept.size - 1] = kept[-1]
    return delta
