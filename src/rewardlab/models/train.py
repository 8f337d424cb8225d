"""The training loop: K heads on frozen features, trained together.

Objective per member k (Bradley & Terry, 1952; Eisenstein et al., 2023):

    L_k = loss(r_k(x, y⁺), r_k(x, y⁻)) + η·E[(r_k(x, y⁺) + r_k(x, y⁻))²]

minimized with AdamW. Members differ by head initialization and data order
(and, with ``bootstrap=True``, by a bootstrap resample of the pairs). All K
heads run in one batched forward/backward pass, so an ensemble costs little
more than one model. Early stopping keeps, for each member, the parameters of
its best validation loss; training stops when no member improved for
``patience`` epochs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from rewardlab.models.heads import HEADS
from rewardlab.models.losses import LOSSES, PairBatch


@dataclass
class TrainConfig:
    """Hyper-parameters of head training; defaults suit frozen-encoder features."""

    head: str = "linear"
    head_params: dict[str, Any] = field(default_factory=dict)
    loss: str = "bt"
    loss_params: dict[str, Any] = field(default_factory=dict)
    n_members: int = 1
    bootstrap: bool = False
    epochs: int = 40
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 0.05
    center_weight: float = 0.01
    patience: int = 4
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class PairFeatures:
    """Features of the chosen (N, d) and rejected (N, d) side of N pairs."""

    chosen: np.ndarray
    rejected: np.ndarray
    margin: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.chosen)


class Normalizer(torch.nn.Module):
    """Per-feature standardization fitted on training features.

    x̂ = (x − μ) / max(σ, σ̄) where σ̄ is the mean per-feature std: the floor
    keeps nearly-constant features (rare hashed n-grams) from being blown up.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("scale", torch.ones(dim))

    def fit(self, features: np.ndarray) -> Normalizer:
        x = torch.from_numpy(features).float()
        std = x.std(dim=0)
        self.mean.copy_(x.mean(dim=0))
        self.scale.copy_(torch.maximum(std, std.mean().clamp(min=1e-8)))
        return self

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return (features - self.mean) / self.scale


@dataclass
class FitResult:
    head: torch.nn.Module
    normalizer: Normalizer
    history: list[dict[str, Any]]
    best_epoch: list[int]


EpochCallback = Callable[[int, int, dict[str, Any]], None]


def _member_losses(head, loss_fn, loss_params, center_weight, xc, xr, margin) -> torch.Tensor:
    rc, rr = head(xc), head(xr)
    losses = loss_fn(PairBatch(rc, rr, margin), **loss_params)
    return losses + center_weight * ((rc + rr) ** 2).mean(dim=1)


def fit_heads(
    train: PairFeatures,
    val: PairFeatures | None,
    config: TrainConfig,
    on_epoch: EpochCallback | None = None,
) -> FitResult:
    """Train ``config.n_members`` heads on pair features; returns the best heads."""
    if len(train) == 0:
        raise ValueError("no training pairs")
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    k, n, dim = config.n_members, len(train), train.chosen.shape[1]
    normalizer = Normalizer(dim).fit(np.vstack([train.chosen, train.rejected]))
    with torch.no_grad():
        xc = normalizer(torch.from_numpy(train.chosen).float())
        xr = normalizer(torch.from_numpy(train.rejected).float())
    margin = None if train.margin is None else torch.from_numpy(train.margin).float()
    head = HEADS.get(config.head)(dim, k, **config.head_params)
    loss_fn = LOSSES.get(config.loss)
    optimizer = torch.optim.AdamW(head.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    sample = (
        torch.randint(0, n, (k, n), generator=generator)
        if config.bootstrap
        else torch.arange(n).expand(k, n)
    )
    val_tensors = _val_tensors(val, normalizer, k)
    best_loss = torch.full((k,), float("inf"))
    best_state = {name: p.detach().clone() for name, p in head.state_dict().items()}
    best_epoch = [0] * k
    history: list[dict[str, Any]] = []
    stale = 0
    for epoch in range(1, config.epochs + 1):
        head.train()
        order = torch.stack([sample[m, torch.randperm(n, generator=generator)] for m in range(k)])
        total = torch.zeros(k)
        for start in range(0, n, config.batch_size):
            idx = order[:, start : start + config.batch_size]
            batch_margin = None if margin is None else margin[idx]
            losses = _member_losses(
                head, loss_fn, config.loss_params, config.center_weight, xc[idx], xr[idx],
                batch_margin,
            )
            optimizer.zero_grad(set_to_none=True)
            losses.sum().backward()
            optimizer.step()
            total += losses.detach() * idx.shape[1]
        record: dict[str, Any] = {"epoch": epoch, "train_loss": (total / n).tolist()}
        monitor = total / n
        if val_tensors is not None:
            val_loss, val_acc = _validate(head, loss_fn, config, *val_tensors)
            record.update(val_loss=val_loss.tolist(), val_accuracy=val_acc.tolist())
            monitor = val_loss
        improved = monitor < best_loss - 1e-4
        if improved.any():
            _keep_best(head, best_state, improved)
            best_loss = torch.where(improved, monitor, best_loss)
            best_epoch = [epoch if improved[m] else best_epoch[m] for m in range(k)]
            stale = 0
        else:
            stale += 1
        history.append(record)
        if on_epoch is not None:
            on_epoch(epoch, config.epochs, record)
        if stale >= config.patience:
            break
    head.load_state_dict(best_state)
    head.eval()
    return FitResult(head, normalizer, history, best_epoch)


def _val_tensors(val: PairFeatures | None, normalizer: Normalizer, k: int):
    if val is None or len(val) == 0:
        return None
    with torch.no_grad():
        xc = normalizer(torch.from_numpy(val.chosen).float()).expand(k, -1, -1)
        xr = normalizer(torch.from_numpy(val.rejected).float()).expand(k, -1, -1)
    margin = None if val.margin is None else torch.from_numpy(val.margin).float().expand(k, -1)
    return xc, xr, margin


def _validate(head, loss_fn, config: TrainConfig, xc, xr, margin):
    head.eval()
    with torch.no_grad():
        rc, rr = head(xc), head(xr)
        losses = loss_fn(PairBatch(rc, rr, margin), **config.loss_params)
        accuracy = ((rc > rr).float() + 0.5 * (rc == rr).float()).mean(dim=1)
    return losses, accuracy


def _keep_best(head: torch.nn.Module, best_state: dict, improved: torch.Tensor) -> None:
    """Copy the improved members' slices (dim 0 is the member axis) into ``best_state``."""
    for name, value in head.state_dict().items():
        best_state[name][improved] = value.detach()[improved]
