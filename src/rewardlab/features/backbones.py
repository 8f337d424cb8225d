"""Backbones by name: the ``--backbone`` spec strings and saved configs' ``kind``.

A spec is ``KIND`` or ``KIND:ARGUMENT``: ``hashing``, ``encoder`` (the bundled
all-MiniLM-L6-v2) or ``encoder:PATH_OR_HUB_NAME`` for text; ``conv`` (random
convolutions, no download) or ``clip-vision:PATH`` (a local CLIP folder) for
images. Each kind declares the modality it featurizes; :func:`default_backbone`
picks the default of the responses' modality and :func:`check_modality`
refuses a backbone given responses it cannot featurize. Each kind registers how to
build it from a spec and how to rebuild it from the ``config()`` a saved model
holds; the implementations are imported only when built, so naming a backbone
costs no torch import. ``transformer:PATH`` is not a frozen backbone but a
model fine-tuned end to end (``rewardlab.models.lm``); :func:`parse_spec`
knows the name so that every command gives the same error for a typo.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rewardlab.data.modality import modality_of_all
from rewardlab.features.base import Backbone
from rewardlab.protocols import Response
from rewardlab.registry import Registry, UnknownNameError

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


def _hashing(argument: str, **options: Any) -> Backbone:
    from rewardlab.features.hashing import HashingBackbone

    if argument:
        raise ValueError(f"backbone 'hashing' takes no argument, got 'hashing:{argument}'")
    return HashingBackbone(**options)


def _hashing_from_config(config: dict[str, Any]) -> Backbone:
    from rewardlab.features.hashing import HashingBackbone

    return HashingBackbone(**config)


def _encoder(argument: str, **options: Any) -> Backbone:
    from rewardlab.features.encoder import EncoderBackbone

    return EncoderBackbone(model=argument or None, **options)


def _encoder_from_config(config: dict[str, Any]) -> Backbone:
    from rewardlab.features.encoder import EncoderBackbone

    config.pop("model_id", None)
    config.setdefault("layers", [-1])  # saved before layers were configurable
    return EncoderBackbone(**config)


def _conv(argument: str, **options: Any) -> Backbone:
    from rewardlab.features.image_conv import ConvImageBackbone

    if argument:
        raise ValueError(f"backbone 'conv' takes no argument, got 'conv:{argument}'")
    return ConvImageBackbone(**options)


def _conv_from_config(config: dict[str, Any]) -> Backbone:
    from rewardlab.features.image_conv import ConvImageBackbone

    return ConvImageBackbone(**config)


def _clip_vision(argument: str, **options: Any) -> Backbone:
    from rewardlab.features.clip_vision import ClipVisionBackbone

    return ClipVisionBackbone(model=argument, **options)


def _clip_vision_from_config(config: dict[str, Any]) -> Backbone:
    from rewardlab.features.clip_vision import ClipVisionBackbone

    config.pop("model_id", None)
    return ClipVisionBackbone(**config)


BACKBONES: Registry[BackboneKind] = Registry("backbone")
BACKBONES.add(
    "hashing",
    BackboneKind(_hashing, _hashing_from_config, "hashed word n-grams plus log length; no model"),
)
BACKBONES.add(
    "encoder",
    BackboneKind(
        _encoder,
        _encoder_from_config,
        "a frozen sentence encoder (default the bundled all-MiniLM-L6-v2; encoder:PATH_OR_NAME)",
        default=True,
    ),
)
BACKBONES.add(
    "conv",
    BackboneKind(
        _conv,
        _conv_from_config,
        "images: fixed random convolutions and a thumbnail crossed with the prompt's hashed "
        "words; no model, no download",
        modality="image",
        default=True,
    ),
)
BACKBONES.add(
    "clip-vision",
    BackboneKind(
        _clip_vision,
        _clip_vision_from_config,
        "images: frozen CLIP image embeddings (and their product with the prompt's text "
        "embedding) from a local CLIPModel or CLIPVisionModel folder: clip-vision:PATH",
        modality="image",
    ),
)


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
                f"{err} in {spec!r}; specs: hashing, encoder, encoder:PATH_OR_NAME, "
                "transformer:PATH_OR_NAME, conv, clip-vision:PATH"
            ) from None
    return kind, argument


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
