"""Minibatch AdamW with early stopping, for the structured models' small heads.

Each epoch visits the ``n`` training items in a seeded random order in
minibatches, minimizing ``batch_loss(indices)``; then ``evaluate()`` returns a
log with ``train_loss`` and, when there is validation data, ``val_loss``. The
parameters of the epoch with the lowest monitored loss (validation if present,
else training) are kept; training stops after ``patience`` epochs without an
improvement of at least 1e-4.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

EpochLog = Callable[[int, dict[str, float]], None]


def fit_with_early_stopping(
    module: torch.nn.Module,
    batch_loss: Callable[[torch.Tensor], torch.Tensor],
    evaluate: Callable[[], dict[str, float]],
    n: int,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    weight_decay: float,
    patience: int,
    seed: int,
    on_epoch: EpochLog | None = None,
) -> torch.nn.Module:
    """Train ``module`` in place; it ends in eval mode holding its best parameters."""
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(module.parameters(), lr=lr, weight_decay=weight_decay)
    best, stale = float("inf"), 0
    best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
    for epoch in range(1, epochs + 1):
        module.train()
        order = torch.randperm(n, generator=generator)
        for start in range(0, n, batch_size):
            optimizer.zero_grad(set_to_none=True)
            batch_loss(order[start : start + batch_size]).backward()
            optimizer.step()
        module.eval()
        with torch.no_grad():
            log = evaluate()
        if on_epoch is not None:
            on_epoch(epoch, log)
        monitor = log.get("val_loss", log["train_loss"])
        if monitor < best - 1e-4:
            best, stale = monitor, 0
            best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
        else:
            stale += 1
            if stale >= patience:
                break
    module.load_state_dict(best_state)
    return module.eval()
