"""The backbone registry and what each kind declares (see :mod:`rewardlab.features.backbones`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rewardlab.features.base import Backbone
from rewardlab.registry import Registry

FINE_TUNED = "transformer"
"""The spec kind of a transformer fine-tuned end to end (``transformer:PATH``)."""


@dataclass(frozen=True)
class BackboneKind:
    """How to build one kind of backbone from a spec argument and from its config."""

    build: Callable[..., Backbone]
    """``build(argument, **options)``; ``argument`` is the text after ``KIND:`` or ''."""
    from_config: Callable[[dict[str, Any]], Backbone]
    summary: str
    modality: str = "text"
    """The responses it featurizes (a name of :data:`rewardlab.data.modality.MODALITIES`)."""
    default: bool = False
    """The backbone used for its modality when none is named (:func:`default_backbone`)."""
    argument: str = ""
    """What ``KIND:ARGUMENT`` takes (``PATH``), ``""`` for a kind that takes none."""
    argument_required: bool = False
    """Whether the kind needs its argument (``clip-vision:PATH``) or has a default."""

    def forms(self, name: str) -> list[str]:
        """The spec forms of the kind registered as ``name``: ``encoder``,
        ``encoder:PATH_OR_NAME``; ``clip-vision:PATH``; ``hashing``."""
        with_argument = [f"{name}:{self.argument}"] if self.argument else []
        return with_argument if self.argument_required else [name, *with_argument]


BACKBONES: Registry[BackboneKind] = Registry("backbone")
"""Every backbone kind by name; each module of this package registers one."""


def no_argument(kind: str, argument: str) -> None:
    """``ValueError`` when a kind that takes no ``KIND:ARGUMENT`` was given one."""
    if argument:
        raise ValueError(f"backbone {kind!r} takes no argument, got '{kind}:{argument}'")
