"""``clip-vision:PATH``: frozen CLIP image embeddings (:mod:`rewardlab.features.clip_vision`)."""

from __future__ import annotations

from typing import Any

from rewardlab.features.backbones.base import BACKBONES, BackboneKind
from rewardlab.features.base import Backbone


def _build(argument: str, **options: Any) -> Backbone:
    from rewardlab.features.clip_vision import ClipVisionBackbone

    return ClipVisionBackbone(model=argument, **options)


def _from_config(config: dict[str, Any]) -> Backbone:
    from rewardlab.features.clip_vision import ClipVisionBackbone

    config.pop("model_id", None)
    return ClipVisionBackbone(**config)


BACKBONES.add(
    "clip-vision",
    BackboneKind(
        _build,
        _from_config,
        "images: frozen CLIP image embeddings (and their product with the prompt's text "
        "embedding) from a local CLIPModel or CLIPVisionModel folder: clip-vision:PATH",
        modality="image",
        argument="PATH",
        argument_required=True,
    ),
)
