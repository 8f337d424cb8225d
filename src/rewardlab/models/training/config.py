"""The shared training options of every reward-model family.

``LoopOptions`` holds what every trainer honours (epochs, minibatch size,
learning rate, AdamW weight decay, early-stopping patience, seed); each
family's options dataclass extends it (:class:`TrainConfig` for heads on
frozen features, the structured models' options, the transformer trainer's
config), so the CLI's shared options map onto every family the same way.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any


@dataclass
class LoopOptions:
    """Options every trainer takes: ``epochs`` passes over the training units in
    seeded random minibatches of ``batch_size``, AdamW with ``lr`` and
    ``weight_decay``, and early stopping after ``patience`` epochs without an
    improvement of the monitored loss (validation when given, else training)."""

    epochs: int = 40
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 0.05
    patience: int = 4
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


LOOP_OPTION_NAMES: tuple[str, ...] = tuple(f.name for f in fields(LoopOptions))
"""The shared option names (the CLI's ``--epochs``, ``--batch-size``, ``--lr``, …)."""


@dataclass
class TrainConfig(LoopOptions):
    """Hyper-parameters of head training; defaults suit frozen-encoder features."""

    head: str = "linear"
    head_params: dict[str, Any] = field(default_factory=dict)
    loss: str = "bt"
    loss_params: dict[str, Any] = field(default_factory=dict)
    n_members: int = 1
    bootstrap: bool = False
    center_weight: float = 0.01
    grad_penalty: float = 0.0
    lat_eps: float = 0.0
    lat_steps: int = 1
    l2: float | str | list[float] = "auto"
    l2_grid: tuple[float, ...] = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
    cv_folds: int = 5
