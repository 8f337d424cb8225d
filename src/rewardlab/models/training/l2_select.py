"""Choose the L2 penalty of a reward head by K-fold cross-validation.

A head trained on frozen features minimizes

    L(w) = E[loss(r⁺, r⁻)] + λ·‖w‖²

(a Gaussian prior on the weights; the length coefficient is left free, see
``rewardlab.models.training.loop``). With a few thousand pairs and thousands of
features, λ decides whether the head learns the labels or their noise, and the
best λ differs tenfold between datasets (HH-RLHF harmless wants more than
AlpacaEval). So λ is chosen the way a GLM's penalty is (Hastie, Tibshirani &
Friedman, *The Elements of Statistical Learning*, §7.10): the training units
are cut into K folds by prompt group (no prompt in two folds), a head per λ of
the grid is fitted on K − 1 folds and scored on the held-out one, and the λ
with the lowest mean held-out loss wins. All λ of a fold train together, as
the members of one batched head, so a fold costs one pass.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from rewardlab.models.training.units import Units


@dataclass
class L2Selection:
    """The chosen penalty and the cross-validated loss and accuracy of each grid value."""

    selected: float
    grid: list[float]
    cv_loss: list[float]
    cv_accuracy: list[float] | None

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def fold_of_units(groups: np.ndarray, n_folds: int, seed: int) -> np.ndarray:
    """Fold index of each unit: distinct groups shuffled by ``seed``, dealt round-robin.

    With fewer groups than folds (e.g. one prompt compared many ways) each unit
    is its own group.
    """
    distinct, inverse = np.unique(groups, return_inverse=True)
    if len(distinct) < n_folds:
        distinct, inverse = np.arange(len(groups)), np.arange(len(groups))
    if len(distinct) < n_folds:
        raise ValueError(f"{n_folds}-fold cross-validation needs {n_folds} units, got {len(groups)}")
    order = np.random.default_rng(seed).permutation(len(distinct))
    fold_of_group = np.empty(len(distinct), dtype=np.int64)
    fold_of_group[order] = np.arange(len(distinct)) % n_folds
    return fold_of_group[inverse]


def subset_units(units: Units, keep: np.ndarray) -> Units:
    """The units selected by the boolean mask ``keep`` (feature rows untouched)."""

    def pick(values):
        return None if values is None else values[keep]

    return Units(
        units.kind, units.index[keep], pick(units.margin), pick(units.tie),
        pick(units.n_ranked), pick(units.target),
    )


FoldFit = Callable[[np.ndarray, np.ndarray, list[float]], tuple[np.ndarray, np.ndarray | None]]
"""``fit(train_mask, held_out_mask, grid)`` → per-λ best held-out loss (G,) and
accuracy (G,) or None."""


def select_l2(
    groups: np.ndarray, grid: Sequence[float], n_folds: int, seed: int, fit: FoldFit,
    progress: Callable[[int, int], None] | None = None,
) -> L2Selection:
    """Cross-validate every λ of ``grid`` over ``n_folds`` prompt-grouped folds.

    The winner has the lowest mean held-out loss; among grid values within
    one standard error of it, the largest λ is taken (the one-standard-error
    rule of Breiman et al., 1984; ESL §7.10), which favours the simpler head
    when the folds cannot tell the two apart. ``progress(folds done, n_folds)`` after each.
    """
    grid = [float(x) for x in grid]
    if not grid:
        raise ValueError("the L2 grid is empty")
    folds = fold_of_units(groups, n_folds, seed)
    losses, accuracies = [], []
    for fold in range(n_folds):
        held_out = folds == fold
        loss, accuracy = fit(~held_out, held_out, grid)
        losses.append(loss)
        if accuracy is not None:
            accuracies.append(accuracy)
        if progress is not None:
            progress(fold + 1, n_folds)
    losses = np.asarray(losses)
    mean = losses.mean(axis=0)
    stderr = losses.std(axis=0, ddof=1) / np.sqrt(n_folds) if n_folds > 1 else np.zeros_like(mean)
    best = int(np.argmin(mean))
    within = [g for g in range(len(grid)) if mean[g] <= mean[best] + stderr[best]]
    chosen = max(within, key=lambda g: grid[g])
    return L2Selection(
        selected=grid[chosen],
        grid=grid,
        cv_loss=mean.tolist(),
        cv_accuracy=np.asarray(accuracies).mean(axis=0).tolist() if accuracies else None,
    )
