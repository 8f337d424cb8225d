"""Per-component normalization inside a recipe.

With x the component's values on a batch (population standard deviations;
a zero deviation gives 0 for every sample):

- ``none``:    x.
- ``batch``:   (x − mean(x)) / std(x) over the batch.
- ``group``:   (x − mean_g) / std_g within each group of samples that share a
  prompt: the group-relative advantage of GRPO (Shao et al., 2024,
  "DeepSeekMath: Pushing the Limits of Mathematical Reasoning in Open Language
  Models"). A prompt with one sample gets 0.
- ``running``: (x − μ) / σ with μ, σ² the running mean and variance of every
  value seen so far, this batch included (Welford's update, merged per batch
  as in Chan et al., 1979), so scales stay comparable across batches.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

NORMALIZERS = ("none", "batch", "group", "running")


def _z(x: np.ndarray, mean: float | np.ndarray, std: float | np.ndarray) -> np.ndarray:
    std = np.asarray(std, dtype=np.float64)
    safe = np.where(std > 0, std, 1.0)
    return np.where(std > 0, (x - mean) / safe, 0.0)


def batch_z(values: np.ndarray) -> np.ndarray:
    """(x − mean) / std over the batch."""
    x = np.asarray(values, dtype=np.float64)
    return _z(x, x.mean(), x.std()) if x.size else x


def group_z(values: np.ndarray, prompts: Sequence[str]) -> np.ndarray:
    """(x − mean_g) / std_g within each prompt's group (GRPO)."""
    x = np.asarray(values, dtype=np.float64)
    _, group = np.unique(np.asarray(prompts, dtype=object), return_inverse=True)
    counts = np.bincount(group)
    mean = np.bincount(group, weights=x) / counts
    var = np.bincount(group, weights=(x - mean[group]) ** 2) / counts
    return _z(x, mean[group], np.sqrt(var)[group])


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
        std = np.sqrt(self.m2_ / self.count_) if self.count_ else 0.0
        return _z(x, self.mean_, std)


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
