"""``hashing``: hashed word n-grams plus log length (:mod:`rewardlab.features.hashing`)."""

from __future__ import annotations

from typing import Any

from rewardlab.features.backbones.base import BACKBONES, BackboneKind, no_argument
from rewardlab.features.base import Backbone


def _build(argument: str, **options: Any) -> Backbone:
    from rewardlab.features.hashing import HashingBackbone

    no_argument("hashing", argument)
    return HashingBackbone(**options)


def _from_config(config: dict[str, Any]) -> Backbone:
    from rewardlab.features.hashing import HashingBackbone

    return HashingBackbone(**config)


BACKBONES.add(
    "hashing",
    BackboneKind(_build, _from_config, "hashed word n-grams plus log length; no model"),
)
