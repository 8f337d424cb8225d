"""Early stopping: the epoch loop every trainer of rewardlab runs.

:func:`run_epochs` calls ``run_epoch(epoch)`` (one pass over the training
units, returning the epoch's log) up to ``epochs`` times, reads the monitored
loss of each of K members from the log (validation loss when there is
validation data, else training loss), and keeps, for each member, the
parameters of its lowest loss; it stops when no member improved by at least
1e-4 for ``patience`` epochs. With ``per_member`` the members are slices of
one batched model (dimension 0 of every tensor, as in the K-member heads of
``rewardlab.models.training.loop``); otherwise the model is one member.

:func:`fit_with_early_stopping` is that loop with minibatch AdamW for a single
module, as the structured models train: each epoch visits the ``n`` training
items in a seeded random order, minimizing ``batch_loss(indices)``; then
``evaluate()`` returns a log with ``train_loss`` and, with validation data,
``val_loss``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from rewardlab.models.training.config import LoopOptions

EpochLog = Callable[[int, dict[str, float]], None]

IMPROVEMENT = 1e-4
"""The least decrease of the monitored loss that counts as an improvement."""


@dataclass
class Stopped:
    """The best parameters (a state dict), each member's best epoch and every epoch's log."""

    best_state: dict[str, torch.Tensor]
    best_epoch: list[int]
    history: list[dict[str, Any]]


def run_epochs(
    run_epoch: Callable[[int], dict[str, Any]],
    monitor: Callable[[dict[str, Any]], torch.Tensor],
    state: Callable[[], dict[str, torch.Tensor]],
    *,
    epochs: int,
    patience: int,
    per_member: bool,
    after_epoch: Callable[[int, dict[str, Any]], None] | None = None,
    keep_on: str | None = None,
) -> Stopped:
    """Run up to ``epochs`` epochs with early stopping; ``monitor(log)`` is the loss (K,)
    to minimize and ``state()`` the live tensors to keep (member axis first when
    ``per_member``), copied to ``keep_on`` (a device; None: beside the live tensors,
    ``"cpu"`` keeps a large model's copy out of GPU memory). The caller loads
    ``best_state`` back into its model."""
    best_state = _clone(state(), keep_on)
    best_loss: torch.Tensor | None = None
    best_epoch: list[int] = []
    history: list[dict[str, Any]] = []
    stale = 0
    for epoch in range(1, epochs + 1):
        log = run_epoch(epoch)
        current = monitor(log)
        if best_loss is None:
            best_loss = torch.full_like(current, float("inf"))
            best_epoch = [0] * len(current)
        improved = current < best_loss - IMPROVEMENT
        if improved.any():
            if per_member:
                for name, value in state().items():
                    best_state[name][improved] = value.detach()[improved].to(
                        best_state[name].device)
            else:
                best_state = _clone(state(), keep_on)
            best_loss = torch.where(improved, current, best_loss)
            best_epoch = [epoch if improved[m] else best_epoch[m] for m in range(len(current))]
            stale = 0
        else:
            stale += 1
        history.append(log)
        if after_epoch is not None:
            after_epoch(epoch, log)
        if stale >= patience:
            break
    return Stopped(best_state, best_epoch, history)


def _clone(state: dict[str, torch.Tensor], device: str | None) -> dict[str, torch.Tensor]:
    return {name: value.detach().to(device or value.device, copy=True)
            for name, value in state.items()}


def monitored_loss(log: dict[str, Any]) -> torch.Tensor:
    """The loss early stopping watches in an epoch's log: ``val_loss`` when there is
    validation data, else ``train_loss``, shape (1,)."""
    return torch.tensor([log.get("val_loss", log["train_loss"])], dtype=torch.float64)


def fit_with_early_stopping(
    module: torch.nn.Module,
    batch_loss: Callable[[torch.Tensor], torch.Tensor],
    evaluate: Callable[[], dict[str, float]],
    n: int,
    options: LoopOptions,
    on_epoch: EpochLog | None = None,
) -> torch.nn.Module:
    """Train ``module`` in place with ``options`` (epochs, batch size, learning rate,
    weight decay, patience, seed); it ends in eval mode holding its best parameters."""
    generator = torch.Generator().manual_seed(options.seed)
    optimizer = torch.optim.AdamW(
        module.parameters(), lr=options.lr, weight_decay=options.weight_decay
    )
    batch_size = options.batch_size

    def run_epoch(epoch: int) -> dict[str, float]:
        module.train()
        order = torch.randperm(n, generator=generator)
        for start in range(0, n, batch_size):
            optimizer.zero_grad(set_to_none=True)
            batch_loss(order[start : start + batch_size]).backward()
            optimizer.step()
        module.eval()
        with torch.no_grad():
            return evaluate()

    stopped = run_epochs(
        run_epoch, monitored_loss, module.state_dict, epochs=options.epochs,
        patience=options.patience, per_member=False, after_epoch=on_epoch,
    )
    module.load_state_dict(stopped.best_state)
    return module.eval()
