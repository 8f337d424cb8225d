"""``conv``: fixed random convolutions of images (:mod:`rewardlab.features.image_conv`)."""

from __future__ import annotations

from typing import Any

from rewardlab.features.backbones.base import BACKBONES, BackboneKind, no_argument
from rewardlab.features.base import Backbone


def _build(argument: str, **options: Any) -> Backbone:
    from rewardlab.features.image_conv import ConvImageBackbone

    no_argument("conv", argument)
    return ConvImageBackbone(**options)


def _from_config(config: dict[str, Any]) -> Backbone:
    from rewardlab.features.image_conv import ConvImageBackbone

    return ConvImageBackbone(**config)


BACKBONES.add(
    "conv",
    BackboneKind(
        _build,
        _from_config,
        "images: fixed random convolutions and a thumbnail crossed with the prompt's hashed "
        "words; no model, no download",
        modality="image",
        default=True,
    ),
)
