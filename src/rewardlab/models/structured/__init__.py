"""Structured reward models by name: GPM, PAL, DMoE and process reward models.

Every module of this package that defines a model family registers it in
:data:`STRUCTURED` (``rewardlab.models.structured.base``) with one line at its
end; importing the package imports them all, so adding a structured model is
its module plus its test. :func:`train_structured` trains one by name, and
:func:`loader_for_format` finds the loader of a saved directory's ``format``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from rewardlab.data.record import Comparison
from rewardlab.features.base import Backbone
from rewardlab.models.structured.base import NEEDS, STRUCTURED, StructuredFamily
from rewardlab.models.training.early_stopping import EpochLog
from rewardlab.registry import import_modules

import_modules(__name__, __path__)


def train_structured(
    name: str,
    records: Sequence[Comparison],
    backbone: Backbone,
    options: Mapping[str, Any] | None = None,
    val_records: Sequence[Comparison] = (),
    on_epoch: EpochLog | None = None,
) -> Any:
    """Train the structured model ``name`` with ``options`` (fields of its options
    dataclass). An unknown name (did-you-mean) or option fails before any training."""
    family = STRUCTURED.get(name)
    parsed = family.parse_options(name, options or {})
    return family.train(records, backbone, parsed, val_records, on_epoch)


def loader_for_format(fmt: object) -> Callable[..., Any] | None:
    """The ``load(directory, backbone=None)`` of the family saving ``format`` ``fmt``,
    or None when no structured model saves that format."""
    for name in STRUCTURED:
        family = STRUCTURED.get(name)
        if family.format == fmt:
            return family.load
    return None


def structured_formats() -> list[str]:
    """The ``format`` of every registered structured model, sorted."""
    return sorted(STRUCTURED.get(name).format for name in STRUCTURED)


__all__ = [
    "NEEDS",
    "STRUCTURED",
    "StructuredFamily",
    "loader_for_format",
    "structured_formats",
    "train_structured",
]
