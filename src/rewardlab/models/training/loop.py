"""The training loop: K heads on frozen features, trained together.

Objective per member k (Bradley & Terry, 1952; Eisenstein et al., 2023):

    L_k = loss(r_k(x, y⁺), r_k(x, y⁻)) + η·E[(r_k(x, y⁺) + r_k(x, y⁻))²]
          + λ₂·‖w_k‖²
          [+ λ·E‖∇_x r_k(x)‖²]   (optional, ``rewardlab.models.training.regularizers``)

minimized with AdamW. The L2 term penalizes the head's weights except the
coefficient of the backbone's length column (``free_columns``): length is one
strong, known covariate and keeps its own unshrunk coefficient, as in the
length-controlled GLM of Dubois et al. (2024). ``l2="auto"`` chooses λ₂ by
prompt-grouped cross-validation (``rewardlab.models.training.l2_select``); it applies
to fresh heads that define ``l2_penalty`` given at least two units per fold
(a head continued from another model, or a tiny set, trains unpenalized).
The loss is any registered :class:`Objective`; it
declares its training units (pairs, tie pairs, k-wise rankings, pointwise
targets) as rows of one feature matrix (one row per distinct text, see
``rewardlab.models.training.units``), gathered per minibatch. The centering term
applies to every unit with several responses as η·E[(2·r̄)²], r̄ the mean
reward of the unit's responses (= (r⁺ + r⁻)² for a pair); pointwise units
have absolute targets and no centering. With ``lat_eps > 0`` the features of
each batch are first moved adversarially (latent adversarial training).

Members differ by head initialization and, with ``bootstrap=True``, by a
bootstrap resample of the units, each member with its own data order. Without
bootstrap (and without the input-gradient regularizers, which need each
member's own inputs) all members see the same minibatch: its features are
gathered once and every head evaluates them in one matrix product, so an
ensemble of K costs little more than one model. The epochs run in the one
early-stopping loop of ``rewardlab.models.training.early_stopping``: it keeps,
for each member, the parameters of its best validation loss, and stops when no
member improved for ``patience`` epochs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch

from rewardlab.models.heads import HEADS
from rewardlab.models.losses import LOSSES, Objective, PairBatch, PointBatch, RankingBatch
from rewardlab.models.normalizer import Normalizer
from rewardlab.models.training.config import TrainConfig
from rewardlab.models.training.early_stopping import run_epochs
from rewardlab.models.training.l2_select import L2Selection, select_l2, subset_units
from rewardlab.models.training.regularizers import gradient_penalty, latent_adversarial_features
from rewardlab.models.training.units import Units


@dataclass
class UnitFeatures:
    """A feature matrix (M, d), one row per distinct text, and units indexing it;
    ``groups`` (N,) names each unit's prompt group for cross-validation."""

    features: np.ndarray
    units: Units
    groups: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.units)


@dataclass
class FitResult:
    head: torch.nn.Module
    normalizer: Normalizer
    history: list[dict[str, Any]]
    best_epoch: list[int]
    learned: dict[str, torch.Tensor] = field(default_factory=dict)
    l2_selection: L2Selection | None = None
    l2: float | list[float] = 0.0


EpochCallback = Callable[[int, int, dict[str, Any]], None]


class _Tensors:
    """A unit set as tensors, with the normalized feature matrix."""

    def __init__(self, data: UnitFeatures, normalizer: Normalizer) -> None:
        units = data.units
        self.x = normalizer.transform(data.features)
        self.index = torch.from_numpy(units.index)
        self.margin = None if units.margin is None else torch.from_numpy(units.margin).float()
        self.tie = None if units.tie is None else torch.from_numpy(units.tie)
        self.n_ranked = None if units.n_ranked is None else torch.from_numpy(units.n_ranked)
        self.target = None if units.target is None else torch.from_numpy(units.target).float()

    def gather(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Features and validity mask of units ``idx``: (K, b·w, d) and (K, b, w) for
        per-member ``idx`` (K, b); (b·w, d) and (b, w) for a shared ``idx`` (b,)."""
        rows = self.index[idx]
        mask = rows >= 0
        x = self.x[rows.clamp(min=0)]
        return x.reshape(*idx.shape[:-1], -1, x.shape[-1]), mask


def _outputs(head, objective: Objective, x: torch.Tensor, width: int) -> torch.Tensor:
    """Rewards (K, b, w), or per-attribute outputs (K, b, w, A)."""
    if objective.outputs == "attributes":
        if not hasattr(head, "attribute_rewards"):
            raise ValueError("a multi-attribute loss needs a multi-attribute head")
        out = head.attribute_rewards(x)
        return out.reshape(out.shape[0], -1, width, out.shape[-1])
    out = head(x)
    return out.reshape(out.shape[0], -1, width)


def _per_member(values: torch.Tensor | None, idx: torch.Tensor, k: int) -> torch.Tensor | None:
    """``values[idx]`` with the member axis first (a view when ``idx`` is shared)."""
    if values is None:
        return None
    picked = values[idx]
    return picked.expand(k, *picked.shape) if idx.dim() == 1 else picked


def _batch(objective: Objective, data: _Tensors, idx: torch.Tensor, out, mask):
    kind, k = objective.units, out.shape[0]
    if kind in ("pairs", "ties"):
        margin, tie = _per_member(data.margin, idx, k), _per_member(data.tie, idx, k)
        return PairBatch(out[..., 0], out[..., 1], margin, tie)
    if kind == "rankings":
        return RankingBatch(out, _members(mask, k), _per_member(data.n_ranked, idx, k))
    return PointBatch(out[:, :, 0], _per_member(data.target, idx, k))


def _members(mask: torch.Tensor, k: int) -> torch.Tensor:
    """A (b, w) mask of a shared batch as (K, b, w); per-member masks pass through."""
    return mask.expand(k, *mask.shape) if mask.dim() == 2 else mask


@dataclass
class _Bound:
    head: torch.nn.Module
    objective: Objective
    l2: torch.Tensor | None = None
    free_columns: tuple[int, ...] = ()


def _loss(bound: _Bound, params, learned, data: _Tensors, idx, x, mask, center_weight: float):
    """Objective loss (K,) on features ``x`` (+ centering for multi-response units)."""
    out = _outputs(bound.head, bound.objective, x, mask.shape[-1])
    return _loss_of_outputs(bound, params, learned, data, idx, out, mask, center_weight)


def _loss_of_outputs(bound: _Bound, params, learned, data: _Tensors, idx, out, mask,
                     center_weight: float):
    """Objective loss (K,) of head outputs ``out`` (+ centering for multi-response units)."""
    objective = bound.objective
    losses = objective(_batch(objective, data, idx, out, mask), **params, **learned)
    if objective.units != "points" and center_weight:
        valid = mask.to(out.dtype)
        width = valid.sum(dim=-1)
        total = (out * valid).sum(dim=-1)
        losses = losses + center_weight * ((4 / width**2) * total**2).mean(dim=1)
    return losses


def fit_units(
    train: UnitFeatures,
    val: UnitFeatures | None,
    config: TrainConfig,
    on_epoch: EpochCallback | None = None,
    head: torch.nn.Module | None = None,
    normalizer: Normalizer | None = None,
    free_columns: tuple[int, ...] = (),
    on_fold: Callable[[int, int], None] | None = None,
) -> FitResult:
    """Train ``config.n_members`` heads with ``config.loss`` on its units.

    ``head``/``normalizer`` continue from given (e.g. loaded) ones instead of
    a fresh ``config.head`` and a normalizer fitted on ``train.features``.
    ``free_columns`` are feature columns whose weights the L2 term leaves out.
    ``on_fold(done, folds)`` follows the cross-validation of ``l2="auto"``.
    """
    objective = LOSSES.get(config.loss)
    for name, data in (("train", train), ("val", val)):
        if data is not None and data.units.kind != objective.units:
            raise ValueError(
                f"loss {config.loss!r} trains on {objective.units} units, {name} has {data.units.kind}"
            )
    if len(train) == 0:
        raise ValueError(f"no training {objective.units}")
    params = objective.loss_params(config.loss_params)
    generator = torch.Generator().manual_seed(config.seed)
    k, n, dim = config.n_members, len(train), train.features.shape[1]
    normalizer = normalizer if normalizer is not None else Normalizer(dim).fit(train.features)
    selection = None
    if config.l2 == "auto":
        penalizable = head is None and hasattr(HEADS.get(config.head), "l2_penalty")
        if penalizable and n >= 2 * config.cv_folds:
            selection = _cross_validate_l2(train, config, normalizer, tuple(free_columns),
                                           on_fold)
        config = replace(config, l2=selection.selected if selection is not None else 0.0)
    torch.manual_seed(config.seed)
    data = _Tensors(train, normalizer)
    head = head if head is not None else HEADS.get(config.head)(dim, k, **config.head_params)
    l2 = _member_l2(config.l2, k)
    if l2 is not None and not hasattr(head, "l2_penalty"):
        raise ValueError(f"head {config.head!r} has no L2 penalty; train it with l2=0")
    learned = {name: torch.nn.Parameter(v) for name, v in objective.initial_learned(k).items()}
    bound = _Bound(head, objective, l2, tuple(free_columns))
    optimizer = torch.optim.AdamW(
        [{"params": list(head.parameters())},
         {"params": list(learned.values()), "weight_decay": 0.0}],
        lr=config.lr, weight_decay=config.weight_decay,
    )
    shared = not config.bootstrap and config.grad_penalty == 0 and config.lat_eps == 0
    sample = (
        torch.randint(0, n, (k, n), generator=generator)
        if config.bootstrap
        else torch.arange(n).expand(k, n)
    )
    val_data = None if val is None or len(val) == 0 else _Tensors(val, normalizer)

    def run_epoch(epoch: int) -> dict[str, Any]:
        head.train()
        if shared:
            order = torch.randperm(n, generator=generator)
        else:
            order = torch.stack(
                [sample[m, torch.randperm(n, generator=generator)] for m in range(k)]
            )
        total = torch.zeros(k)
        for start in range(0, n, config.batch_size):
            idx = order[..., start : start + config.batch_size]
            losses = _train_step_losses(bound, params, learned, data, idx, config)
            optimizer.zero_grad(set_to_none=True)
            losses.sum().backward()
            optimizer.step()
            total += losses.detach() * idx.shape[-1]
        record: dict[str, Any] = {"epoch": epoch, "train_loss": (total / n).tolist()}
        if val_data is not None:
            val_loss, val_acc = _validate(bound, params, learned, val_data, k)
            record["val_loss"] = val_loss.tolist()
            if val_acc is not None:
                record["val_accuracy"] = val_acc.tolist()
        return record

    def monitor(record: dict[str, Any]) -> torch.Tensor:
        return torch.tensor(record.get("val_loss", record["train_loss"]), dtype=torch.float32)

    stopped = run_epochs(
        run_epoch, monitor, lambda: _state(head, learned), epochs=config.epochs,
        patience=config.patience, per_member=True,
        after_epoch=None if on_epoch is None else lambda e, r: on_epoch(e, config.epochs, r),
    )
    best_state = stopped.best_state
    head.load_state_dict({n: v for n, v in best_state.items() if not n.startswith("learned.")})
    head.eval()
    final = {name: best_state[f"learned.{name}"] for name in learned}
    return FitResult(
        head, normalizer, stopped.history, stopped.best_epoch, final, selection, config.l2
    )


def _member_l2(value: float | str | list[float], k: int) -> torch.Tensor | None:
    """The L2 weight of each member (K,), or None when no member is penalized."""
    if isinstance(value, str):
        raise ValueError(f"l2 must be a number, a list of numbers or 'auto', got {value!r}")
    weights = torch.as_tensor(value, dtype=torch.float32).flatten()
    if weights.numel() == 1:
        weights = weights.expand(k)
    if weights.numel() != k or bool((weights < 0).any()):
        raise ValueError(f"l2 needs one non-negative weight or one per member ({k}), got {value}")
    return weights if bool((weights > 0).any()) else None


def _cross_validate_l2(
    train: UnitFeatures, config: TrainConfig, normalizer: Normalizer, free_columns: tuple[int, ...],
    on_fold: Callable[[int, int], None] | None = None,
) -> L2Selection:
    """λ₂ from ``config.l2_grid`` by prompt-grouped ``config.cv_folds``-fold CV."""
    groups = train.groups if train.groups is not None else np.arange(len(train))

    def fit(train_mask: np.ndarray, held_out: np.ndarray, grid: list[float]):
        fold_config = replace(config, l2=grid, n_members=len(grid), bootstrap=False)
        result = fit_units(
            UnitFeatures(train.features, subset_units(train.units, train_mask)),
            UnitFeatures(train.features, subset_units(train.units, held_out)),
            fold_config, normalizer=normalizer, free_columns=free_columns,
        )
        best = [result.history[e - 1] for e in result.best_epoch]
        loss = np.array([rec["val_loss"][m] for m, rec in enumerate(best)])
        if "val_accuracy" not in best[0]:
            return loss, None
        return loss, np.array([rec["val_accuracy"][m] for m, rec in enumerate(best)])

    return select_l2(groups, config.l2_grid, config.cv_folds, config.seed, fit, on_fold)


def _train_step_losses(bound: _Bound, params, learned, data: _Tensors, idx, config: TrainConfig):
    x, mask = data.gather(idx)
    if config.lat_eps > 0:
        x = latent_adversarial_features(
            x, lambda z: _loss(bound, params, learned, data, idx, z, mask, 0.0),
            config.lat_eps, config.lat_steps,
        )
    if config.grad_penalty > 0:
        x = x.detach().requires_grad_(True)
    losses = _loss(bound, params, learned, data, idx, x, mask, config.center_weight)
    if bound.l2 is not None:
        losses = losses + bound.l2 * bound.head.l2_penalty(bound.free_columns)
    if config.grad_penalty > 0:
        rewards = bound.head(x)
        losses = losses + config.grad_penalty * gradient_penalty(rewards, x, mask.flatten(1))
    return losses


def _validate(bound: _Bound, params, learned, data: _Tensors, k: int):
    """(val loss (K,), val accuracy (K,) or None when the loss has no notion of it)."""
    bound.head.eval()
    idx = torch.arange(len(data.index))
    with torch.no_grad():
        x, mask = data.gather(idx)
        out = _outputs(bound.head, bound.objective, x, mask.shape[-1])
        losses = _loss_of_outputs(bound, params, learned, data, idx, out, mask, 0.0)
    return losses, _accuracy(bound.objective, data, idx.expand(k, -1), out, _members(mask, k))


def _accuracy(objective: Objective, data: _Tensors, idx, out, mask) -> torch.Tensor | None:
    """Pairs: P(r⁺ > r⁻) with ties of reward ½ (tie labels left out); rankings:
    the share of ordered (ranked, lower) pairs in order; 0/1 points: sign agreement."""
    if objective.units in ("pairs", "ties"):
        delta = out[..., 0] - out[..., 1]
        right = (delta > 0).float() + 0.5 * (delta == 0).float()
        keep = torch.ones_like(right) if data.tie is None else (~data.tie[idx]).float()
        return (right * keep).sum(dim=1) / keep.sum(dim=1).clamp(min=1.0)
    if objective.units == "rankings":
        width = out.shape[-1]
        pos = torch.arange(width)
        ranked = pos[:, None] < data.n_ranked[idx][..., None, None]  # (K, b, w, 1) over i
        later = (pos[None, :] > pos[:, None]) & mask[..., None, :] & mask[..., :, None] & ranked
        diff = out[..., :, None] - out[..., None, :]
        right = ((diff > 0).float() + 0.5 * (diff == 0).float()) * later
        return right.sum(dim=(1, 2, 3)) / later.sum(dim=(1, 2, 3)).clamp(min=1)
    if objective.outputs == "reward":
        label = data.target[idx][..., 0] > 0.5
        return ((out[:, :, 0] > 0) == label).float().mean(dim=1)
    return None


def _state(head: torch.nn.Module, learned: dict) -> dict[str, torch.Tensor]:
    """The head's tensors and the loss's learned parameters (``learned.*``), live."""
    state = dict(head.state_dict())
    state.update({f"learned.{name}": p for name, p in learned.items()})
    return state
