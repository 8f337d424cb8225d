"""``rewardlab train``'s checks of ``--head-params`` and ``--loss-params``, before any data
is read: a key the head or the loss does not take, or a value of the wrong kind, is one
bad-option line (exit 2) instead of an error after the texts are encoded.

* ``--head-params``: the head is built with them on PyTorch's ``meta`` device (no
  memory is allocated, so ``{"hidden": 1e12}`` costs nothing here), which runs the
  head's own argument checks.
* ``--loss-params``: the keys the loss takes are the keyword arguments of its
  function that have a default (``alpha`` of ``label-smoothing``, ``use_margin`` of
  ``bt``; arguments without a default, such as Davidson's ``log_nu``, are learned)
  and the keys read when the data becomes units (``strength_from``, ``attributes``,
  ``label``, ``weights``, :attr:`~rewardlab.models.losses.base.Objective.unit_params`).
  A value must have the kind of the default (a number for a float, true/false for a
  bool).
* ``--init-from``: the saved model must have the backbone and the member count of the
  run (:func:`check_init`), checked before the data is read.
* the data must hold something the loss trains on (:func:`check_trainable`: pairs,
  rankings, ties or rated points), checked before it is encoded.
"""

from __future__ import annotations

import inspect
from typing import Any

import typer

REFUSED = (TypeError, ValueError, RuntimeError, ArithmeticError)


def check_head_params(head: str, params: dict[str, Any], n_members: int) -> None:
    """Build ``head`` with ``params`` on the meta device; a failure names ``--head-params``."""
    import torch

    from rewardlab.models.heads import HEADS

    try:
        with torch.device("meta"):
            HEADS.get(head)(8, n_members, **params)
    except REFUSED as err:
        raise typer.BadParameter(
            f"the {head} head does not take {params}: {err}", param_hint="'--head-params'"
        ) from None


def loss_options(loss: str) -> dict[str, Any]:
    """``{key: default}`` of what ``--loss-params`` may set for ``loss`` (None: any value)."""
    from rewardlab.models.losses import LOSSES

    objective = LOSSES.get(loss)
    options: dict[str, Any] = dict.fromkeys(objective.unit_params)
    for name, parameter in list(inspect.signature(objective.fn).parameters.items())[1:]:
        if parameter.default is not inspect.Parameter.empty:
            options[name] = parameter.default
    return options


def check_loss_params(loss: str, params: dict[str, Any]) -> None:
    """Refuse a ``--loss-params`` key ``loss`` does not take, or a value of the wrong kind."""
    allowed = loss_options(loss)
    for key, value in params.items():
        if key not in allowed:
            takes = ", ".join(sorted(allowed)) or "none"
            raise typer.BadParameter(
                f"loss {loss!r} takes no {key!r} (it takes: {takes})", param_hint="'--loss-params'"
            )
        default = allowed[key]
        if isinstance(default, bool):
            wrong = not isinstance(value, bool)
        elif isinstance(default, int | float):
            wrong = isinstance(value, bool) or not isinstance(value, int | float)
        else:
            wrong = False
        if wrong:
            raise typer.BadParameter(
                f"{key!r} of loss {loss!r} must be a {type(default).__name__}, got {value!r}",
                param_hint="'--loss-params'",
            )


def check_init(init: Any, path: Any, backbone: Any, ensemble: int) -> None:
    """``ValueError`` naming ``--init-from`` when the saved model ``init`` cannot be continued
    with ``backbone`` and ``--ensemble``."""
    if init.backbone.config() != backbone.config():
        raise ValueError(
            f"--init-from {path}: its backbone {init.backbone.config()} is not the run's "
            f"{backbone.config()}; pass the --backbone it was trained with"
        )
    if init.n_members != ensemble:
        raise ValueError(
            f"--init-from {path}: it has {init.n_members} member(s); pass --ensemble "
            f"{init.n_members}"
        )


def check_trainable(records: Any, loss: str, params: dict[str, Any], data: str) -> None:
    """A :class:`~rewardlab.data.errors.DataError` naming ``data`` when ``records`` give
    ``loss`` nothing to train on (a candidate pool given as pairs, pairs to a rating loss)."""
    from rewardlab.data.errors import DataError
    from rewardlab.models.losses import LOSSES
    from rewardlab.models.training.fit import build_units

    objective = LOSSES.get(loss)
    table = build_units(records, objective, params, None)
    if len(table.units) == 0:
        raise DataError(
            f"nothing for --loss {loss} to train on: no {objective.units} in {len(records)} "
            f"training records ({table.skipped_ties} ties, {table.skipped_unranked} unranked, "
            f"{table.skipped_unrated} unrated)", path=str(data),
        )
