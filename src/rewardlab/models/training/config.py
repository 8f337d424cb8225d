"""The training options of every reward-model family, each with its help and constraint.

``LoopOptions`` holds what every trainer honours (epochs, minibatch size,
learning rate, AdamW weight decay, early-stopping patience, seed);
``ObjectiveOptions`` adds what every trainer of a scalar reward honours (the
loss and its parameters, the member count and the centering term); each
family's options dataclass extends one of them (:class:`TrainConfig` for heads
on frozen features, the structured models' options, the transformer trainer's
config in :mod:`rewardlab.models.lm.transformer_config`), changing a default
with :func:`~rewardlab.options.redefault` and never restating a help text, so
``rewardlab train``'s flags are made once from these fields
(:mod:`rewardlab.cli.flags`). This module imports no torch: the CLI reads it to
build its flags.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from rewardlab.options import json_object, json_text, option


def _l2(text: str) -> float | str:
    """``--l2``: 'auto' or a number (its bounds are checked by :func:`check_l2`)."""
    if text == "auto":
        return text
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    check_l2(value)
    return value


def _names(kind: str) -> list[str]:
    """Registered ``loss`` names, imported when a value is checked."""
    from rewardlab.models.losses import LOSSES

    return LOSSES.names()


SEED_MAX = 2**32 - 1


@dataclass
class LoopOptions:
    """Options every trainer takes: ``epochs`` passes over the training units in
    seeded random minibatches of ``batch_size``, AdamW with ``lr`` and
    ``weight_decay``, and early stopping after ``patience`` epochs without an
    improvement of the monitored loss (validation when given, else training)."""

    epochs: int = option(40, "Maximum passes over the training units (early stopping on "
                         "validation).", min=1)
    batch_size: int = option(128, "Training units (pairs, rankings) per optimizer step.", min=1)
    lr: float = option(2e-3, "AdamW learning rate.", min=0.0, open_min=True)
    weight_decay: float = option(0.05, "AdamW weight decay.", min=0.0)
    patience: int = option(4, "Epochs without a better monitored loss before stopping.", min=1)
    seed: int = option(0, "Seed for splits, initialization and data order.", min=0,
                       max=SEED_MAX)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


LOOP_OPTION_NAMES: tuple[str, ...] = tuple(f.name for f in fields(LoopOptions))
"""The shared option names (the CLI's ``--epochs``, ``--batch-size``, ``--lr``, …)."""


@dataclass
class ObjectiveOptions(LoopOptions):
    """What every trainer of a scalar reward takes besides the loop: the loss (a name of
    :data:`rewardlab.models.losses.LOSSES`) with its parameters, K members trained
    together, and the centering term η·E[(r⁺+r⁻)²] (Eisenstein et al., 2023)."""

    loss: str = option("bt", "Loss: {losses}.", choices=lambda: _names("loss"), kind="loss")
    loss_params: dict[str, Any] = option(
        default_factory=dict,
        help='Loss options as JSON, e.g. \'{"alpha": 0.1}\', \'{"strength_from": "judge"}\', '
        '\'{"attributes": ["helpfulness"], "weights": [1.0]}\', \'{"label": "success"}\'.',
        parse=json_object, format=json_text, metavar="JSON",
    )
    n_members: int = option(1, "Ensemble members (heads or outputs trained together).",
                            flag="--ensemble", min=1)
    center_weight: float = option(0.01, "η of the centering term η·E[(r⁺+r⁻)²].", min=0.0)


@dataclass
class TrainConfig(ObjectiveOptions):
    """Hyper-parameters of head training on frozen features; defaults suit the encoder."""

    head: str = option("linear", "Head: {heads}.")
    head_params: dict[str, Any] = option(
        default_factory=dict, help='Head options as JSON, e.g. \'{"hidden": 64}\'.',
        parse=json_object, format=json_text, metavar="JSON",
    )
    bootstrap: bool = option(False, "Train each member on a bootstrap resample.")
    grad_penalty: float = option(0.0, "λ of the gradient penalty λ·E‖∇ₓr(x)‖² (0 = off).",
                                 min=0.0)
    lat_eps: float = option(0.0, "ε of latent adversarial training: L2 radius per feature "
                            "row (0 = off).", min=0.0)
    lat_steps: int = option(1, "PGD steps of latent adversarial training.", min=1)
    l2: float | str | list[float] = option(
        "auto", "λ₂ of the L2 penalty λ₂·‖w‖² on the head (the length coefficient stays "
        "free); 'auto' picks it from a grid by 5-fold cross-validation over prompts.",
        parse=_l2, format=str,
    )
    l2_grid: tuple[float, ...] = option(
        (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0),
        "The λ₂ values --l2 auto chooses from.", cli=False)
    cv_folds: int = option(5, "Folds of --l2 auto's cross-validation.", min=2, cli=False)

    def __post_init__(self) -> None:
        check_l2(self.l2)


def check_l2(value: Any) -> None:
    """``l2`` is 'auto', a finite number ≥ 0, or a list of them (one per member)."""
    import math

    values = value if isinstance(value, list) else [value]
    for item in values:
        if item == "auto" and not isinstance(value, list):
            continue
        if isinstance(item, bool) or not isinstance(item, int | float) or not (
            0 <= item < math.inf
        ):
            raise ValueError(f"--l2: must be 'auto' or a finite number >= 0, got {value!r}")
