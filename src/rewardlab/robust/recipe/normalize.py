"""Per-component normalization inside a recipe.

With x the component's values on a batch, every z-score is

    z = (x − mean) / (std + ε),  std the sample standard deviation (n − 1), ε = 1e-6,

the convention of the trainers' GRPO advantages: verl
``verl/trainer/ppo/core_algos.py::compute_grpo_outcome_advantage`` (``torch.std``,
unbiased, + ``epsilon`` = 1e-6; volcengine/verl at b178a3c) and TRL
``trl/trainer/grpo_trainer.py`` (``nanstd`` with Bessel's correction, + 1e-4;
huggingface/trl at f2cd577). A population std would make every z larger by
√(n/(n−1)) (√2 for a pair). Values whose std is 0 (all equal, or a single
value) give 0 for every sample, as in TRL; verl instead passes a lone sample's
reward through unchanged (mean 0, std 1).

- ``none``:    x.
- ``batch``:   z over the batch (TRL's ``scale_rewards="batch"`` scale).
- ``group``:   z within each group of samples that share a prompt: the
  group-relative advantage of GRPO (Shao et al., 2024, "DeepSeekMath: Pushing
  the Limits of Mathematical Reasoning in Open Language Models"). A prompt
  with one sample gets 0.
- ``running``: z with the mean and sample variance of every value seen so far,
  this batch included (Welford's update, merged per batch as in Chan et al.,
  1979), so scales stay comparable across batches.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

NORMALIZERS = ("none", "batch", "group", "running")


EPS = 1e-6


def _z(x: np.ndarray, mean: float | np.ndarray, std: float | np.ndarray) -> np.ndarray:
    std = np.asarray(std, dtype=np.float64)
    return np.where(std > 0, (x - mean) / (std + EPS), 0.0)


def _sample_std(sum_sq: float | np.ndarray, count: int | np.ndarray) -> np.ndarray:
    """sqrt(Σ (x − mean)² / (n − 1)); 0 for n ≤ 1."""
    count = np.asarray(count, dtype=np.float64)
    return np.sqrt(np.asarray(sum_sq, dtype=np.float64) / np.maximum(count - 1, 1))


def batch_z(values: np.ndarray) -> np.ndarray:
    """(x − mean) / (std + ε) over the batch (sample std)."""
    x = np.asarray(values, dtype=np.float64)
    return _z(x, x.mean(), _sample_std(((x - x.mean()) ** 2).sum(), x.size)) if x.size else x


def group_z(values: np.ndarray, prompts: Sequence[str]) -> np.ndarray:
    """(x − mean_g) / (std_g + ε) within each prompt's group (GRPO; sample std)."""
    x = np.asarray(values, dtype=np.float64)
    _, group = np.unique(np.asarray(prompts, dtype=object), return_inverse=True)
    counts = np.bincount(group)
    mean = np.bincount(group, weights=x) / counts
    sum_sq = np.bincount(group, weights=(x - mean[group]) ** 2)
    return _z(x, mean[group], _sample_std(sum_sq, counts)[group])


class RunningZ:
    """Running-statistics z-score; ``count_``, ``mean_``, ``m2_`` are the Welford state."""

    def __init__(self) -> None:
        self.count_ = 0
        self.mean_ = 0.0
        self.m2_ = 0.0

    def __call__(self, values: np.ndarray, prompts: Sequence[str]) -> np.ndarray:
        x = np.asarray(values, dtype=np.float64)
        if x.size:
            n, mean, m2 = x.size, float(x.mean()), float(((x - x.mean()) ** 2).sum())
            total = self.count_ + n
            delta = mean - self.mean_
            self.mean_ += delta * n / total
            self.m2_ += m2 + delta**2 * self.count_ * n / total
            self.count_ = total
        return _z(x, self.mean_, _sample_std(self.m2_, self.count_))


def make_normalizer(name: str) -> Callable[[np.ndarray, Sequence[str]], np.ndarray]:
    """A function ``(values, prompts) → normalized`` (a fresh state for ``running``)."""
    if name == "none":
        return lambda x, prompts: np.asarray(x, dtype=np.float64)
    if name == "batch":
        return lambda x, prompts: batch_z(x)
    if name == "group":
        return group_z
    if name == "running":
        return RunningZ()
    raise ValueError(f"normalize must be one of {NORMALIZERS}, got {name!r}")
