"""The contract every structured model family meets, and the registry that holds them.

A structured model does not fit the batched-head contract (features (K, B, d)
→ rewards (K, B)): a GPM outputs embeddings, PAL needs annotators, DMoE
categories, a PRM steps. What they share is how they are trained, saved and
loaded:

    train(records, backbone, options=None, val_records=(), on_epoch=None) -> model
    save(model, directory) -> directory
    load(directory, backbone=None) -> model

``options`` is a dataclass extending :class:`~rewardlab.models.training.config.LoopOptions`
(the shared epochs, batch size, learning rate, weight decay, patience and seed,
plus the family's own fields); ``val_records`` select the parameters by
validation loss (early stopping), and ``on_epoch(epoch, log)`` receives each
epoch's ``train_loss`` (and ``val_loss``, ``val_accuracy`` with validation
records). Each model module ends with one ``STRUCTURED.add(name, StructuredFamily(...))``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rewardlab.models.training.config import LoopOptions
from rewardlab.options import from_mapping
from rewardlab.registry import Registry

NEEDS = ("rankings", "annotators", "categories", "steps", "segments", "labelled_states")
"""What a family learns from: ranked responses; rankings with the record's
``annotator``; rankings with its ``category``; per-step labels; ranked trajectory
segments (responses that are :class:`~rewardlab.data.trajectory.Trajectory`);
trajectories with a 0/1 ``step_labels`` entry per observation."""


@dataclass(frozen=True)
class StructuredFamily:
    """How to train, save and load one structured model family.

    ``options`` is the family's options dataclass (a :class:`LoopOptions`
    subclass), ``format`` the ``config.json`` "format" its saved directories
    carry, ``needs`` one of :data:`NEEDS`, ``summary`` one line for help texts.
    """

    options: type
    train: Callable[..., Any]
    save: Callable[[Any, str | Path], Path]
    load: Callable[..., Any]
    format: str
    needs: str
    summary: str

    def __post_init__(self) -> None:
        if not (dataclasses.is_dataclass(self.options) and issubclass(self.options, LoopOptions)):
            raise TypeError(f"{self.options!r} must be a dataclass extending LoopOptions")
        if self.needs not in NEEDS:
            raise ValueError(f"needs must be one of {NEEDS}, got {self.needs!r}")

    def option_names(self) -> list[str]:
        return [f.name for f in dataclasses.fields(self.options)]

    def parse_options(self, name: str, options: Mapping[str, Any]) -> Any:
        """``options`` as the family's dataclass; an unknown key, a value of the wrong type
        or out of its range is one :class:`~rewardlab.options.OptionError` naming the option."""
        return from_mapping(self.options, options, f"structured model {name!r}")


STRUCTURED: Registry[StructuredFamily] = Registry("structured model")
"""``--head gpm|pal|dmoe|prm``: every structured model family by name."""
