"""Backbones by name: the ``--backbone`` spec strings and saved configs' ``kind``.

A spec is ``KIND`` or ``KIND:ARGUMENT``: ``hashing``, ``encoder`` (the bundled
all-MiniLM-L6-v2) or ``encoder:PATH_OR_HUB_NAME`` for text; ``conv`` (random
convolutions, no download) or ``clip-vision:PATH`` (a local CLIP folder) for
images. Each kind declares the modality it featurizes; :func:`default_backbone`
picks the default of the responses' modality and :func:`check_modality`
refuses a backbone given responses it cannot featurize. Each kind registers how to
build it from a spec and how to rebuild it from the ``config()`` a saved model
holds; the implementations are imported only when built, so naming a backbone
costs no torch import. Each module of this package registers one kind
(``BACKBONES.add(name, BackboneKind(...))``) and the package imports every
module, so a new backbone is its module (and the implementation it builds) plus
its test. ``transformer:PATH`` is not a frozen backbone but a
model fine-tuned end to end (``rewardlab.models.lm``); :func:`parse_spec`
knows the name so that every command gives the same error for a typo.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rewardlab.data.modality import modality_of_all
from rewardlab.features.backbones.base import BACKBONES, FINE_TUNED, BackboneKind
from rewardlab.features.base import Backbone
from rewardlab.protocols import Response
from rewardlab.registry import UnknownNameError, import_modules

import_modules(__name__, __path__)

__all__ = [
    "BACKBONES",
    "FINE_TUNED",
    "BackboneKind",
    "backbone_from_config",
    "build_backbone",
    "check_modality",
    "default_backbone",
    "frozen_spec",
    "parse_spec",
]


def parse_spec(spec: str) -> tuple[str, str]:
    """``(kind, argument)`` of a backbone spec; an unknown kind is a ValueError with the
    registry's did-you-mean text."""
    kind, _, argument = spec.strip().partition(":")
    if kind == FINE_TUNED:
        if not argument:
            raise ValueError("backbone 'transformer' needs a model: transformer:PATH_OR_NAME")
        return kind, argument
    if kind not in BACKBONES:
        try:
            BACKBONES.get(kind)
        except UnknownNameError as err:
            raise ValueError(
                f"{err} in {spec!r}; specs: "
                + ", ".join([*(form for name in BACKBONES
                               for form in BACKBONES.get(name).forms(name)),
                             f"{FINE_TUNED}:PATH_OR_NAME"])
            ) from None
    return kind, argument


def frozen_spec(spec: str) -> str:
    """``spec`` when it names one frozen backbone, as a command that trains heads on one
    backbone reads ``--backbone`` (the demo, the labs' proxies); a comma list or
    ``transformer:PATH`` is a ``ValueError`` (so a parser refuses it before any work)."""
    if "," in spec:
        raise ValueError(f"one backbone, got the list {spec!r}")
    kind, _ = parse_spec(spec)
    if kind == FINE_TUNED:
        raise ValueError(f"{spec!r} is fine-tuned end to end, not a frozen backbone")
    return spec


def build_backbone(spec: str, **options: Any) -> Backbone:
    """Build a frozen backbone from a CLI spec such as ``hashing`` or ``encoder:PATH``."""
    kind, argument = parse_spec(spec)
    if kind == FINE_TUNED:
        raise ValueError(
            f"{spec!r} is fine-tuned end to end, not a frozen backbone; train it with "
            "`rewardlab train --backbone transformer:PATH`"
        )
    return BACKBONES.get(kind).build(argument, **options)


def backbone_from_config(config: dict[str, Any]) -> Backbone:
    """Rebuild the backbone that wrote ``config`` (its ``kind`` names the registry entry)."""
    config = dict(config)
    kind = config.pop("kind", None)
    if not isinstance(kind, str) or kind not in BACKBONES:
        raise ValueError(f"unknown backbone kind {kind!r} in model config")
    return BACKBONES.get(kind).from_config(config)


def default_backbone(responses: Sequence[Response]) -> str:
    """The spec of the default backbone for the modality of ``responses`` (text: ``encoder``,
    images: ``conv``): the registered kind marked ``default`` for that modality."""
    modality = modality_of_all(responses).name
    for name in BACKBONES:
        kind = BACKBONES.get(name)
        if kind.default and kind.modality == modality:
            return name
    raise ValueError(f"no default backbone for {modality} responses; name one with --backbone")


def check_modality(backbone: Backbone, responses: Sequence[Response]) -> None:
    """``ValueError`` when ``backbone`` does not featurize the modality of ``responses``
    (e.g. ``hashing`` given images), naming both and the backbones that do."""
    kind = backbone.config().get("kind")
    if not responses or kind not in BACKBONES:  # one built elsewhere knows its own inputs
        return
    modality = modality_of_all(responses).name
    wanted = BACKBONES.get(kind).modality
    if modality != wanted:
        fitting = [n for n in BACKBONES if BACKBONES.get(n).modality == modality]
        raise ValueError(
            f"backbone {kind!r} featurizes {wanted} responses, but these are {modality}; "
            f"backbones for {modality}: {', '.join(fitting) or 'none registered'}"
        )
