"""Structured reward models by name: GPM, PAL, DMoE and process reward models.

These do not fit the batched-head contract (features (K, B, d) → rewards
(K, B)): a GPM outputs embeddings, PAL needs annotators, DMoE categories, a
PRM steps. Each module provides ``train_<x>(records, backbone, options,
val_records)``, ``save_<x>`` and ``load_<x>``; this file maps the
``--head`` name to them for training, and a saved directory's ``format`` to
its loader.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rewardlab.data.record import Comparison
from rewardlab.features.base import Backbone
from rewardlab.models.structured import dmoe, gpm, pal, prm


@dataclass(frozen=True)
class StructuredModel:
    """How to train, save and load one structured model family."""

    options: type
    train: Callable[..., Any]
    save: Callable[[Any, Path], Path]
    load: Callable[[Path], Any]
    format: str


STRUCTURED: dict[str, StructuredModel] = {
    "gpm": StructuredModel(gpm.GPMOptions, gpm.train_gpm, gpm.save_gpm, gpm.load_gpm, gpm.FORMAT),
    "pal": StructuredModel(pal.PALOptions, pal.train_pal, pal.save_pal, pal.load_pal, pal.FORMAT),
    "dmoe": StructuredModel(
        dmoe.DMoEOptions, dmoe.train_dmoe, dmoe.save_dmoe, dmoe.load_dmoe, dmoe.FORMAT
    ),
    "prm": StructuredModel(prm.PRMOptions, prm.train_prm, prm.save_prm, prm.load_prm, prm.FORMAT),
}

LOADERS_BY_FORMAT: dict[str, Callable[[Path], Any]] = {m.format: m.load for m in STRUCTURED.values()}


def train_structured(
    name: str,
    records: Sequence[Comparison],
    backbone: Backbone,
    options: dict[str, Any],
    val_records: Sequence[Comparison] = (),
) -> Any:
    """Train the structured model ``name`` with ``options`` (its options dataclass fields)."""
    family = STRUCTURED[name]
    try:
        parsed = family.options(**options)
    except TypeError as err:
        raise ValueError(f"--head-params for {name!r}: {err}") from None
    return family.train(records, backbone, parsed, val_records)
