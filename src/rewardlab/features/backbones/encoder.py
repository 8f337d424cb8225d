"""``encoder[:PATH_OR_NAME]``: a frozen sentence encoder (:mod:`rewardlab.features.encoder`)."""

from __future__ import annotations

from typing import Any

from rewardlab.features.backbones.base import BACKBONES, BackboneKind
from rewardlab.features.base import Backbone


def _build(argument: str, **options: Any) -> Backbone:
    from rewardlab.features.encoder import EncoderBackbone

    return EncoderBackbone(model=argument or None, **options)


def _from_config(config: dict[str, Any]) -> Backbone:
    from rewardlab.features.encoder import EncoderBackbone

    config.pop("model_id", None)
    config.setdefault("layers", [-1])  # saved before layers were configurable
    return EncoderBackbone(**config)


BACKBONES.add(
    "encoder",
    BackboneKind(
        _build,
        _from_config,
        "a frozen sentence encoder (default the bundled all-MiniLM-L6-v2; encoder:PATH_OR_NAME)",
        default=True,
        argument="PATH_OR_NAME",
    ),
)
