"""Image reward spec kinds: ``clip:PATH``, ``aesthetic:PATH``, ``hpsv2:PATH``.

Each kind registers how to load its ``PATH`` in :data:`IMAGE_REWARDS` (a
registry, so a typo in a kind gets a did-you-mean); the loaders import torch,
transformers or open_clip only when called. A Hugging Face folder whose
``config.json`` says ``model_type: clip`` is also read as ``clip:`` when named
without a kind (:func:`is_clip_config`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rewardlab.models.lm.hub import HubModelOptions
from rewardlab.protocols import RewardModel
from rewardlab.registry import Registry


@dataclass(frozen=True)
class ImageRewardKind:
    """How to load one kind of image reward from the text after ``KIND:``, and which
    :class:`~rewardlab.models.lm.hub.HubModelOptions` its loader reads (any other one
    given is refused: :mod:`rewardlab.load.kinds`)."""

    load: Callable[[str, HubModelOptions | None], RewardModel]
    summary: str
    reads: frozenset[str] = frozenset()


def _clip(path: str, options: HubModelOptions | None) -> RewardModel:
    from rewardlab.models.image.clip import ClipScoreModel, load_clip_tower

    return ClipScoreModel(load_clip_tower(path, options), path)


def _aesthetic(path: str, options: HubModelOptions | None) -> RewardModel:
    from rewardlab.models.image.aesthetic import load_aesthetic

    return load_aesthetic(path, options)


def _hpsv2(path: str, options: HubModelOptions | None) -> RewardModel:
    from rewardlab.models.image.hpsv2 import load_hpsv2

    return load_hpsv2(path, options)


IMAGE_REWARDS: Registry[ImageRewardKind] = Registry("image reward kind")
IMAGE_REWARDS.add("clip", ImageRewardKind(
    _clip, "CLIP score / PickScore: exp(logit_scale) · cos(text, image) of a CLIPModel folder",
    frozenset({"device", "dtype"})))
IMAGE_REWARDS.add("aesthetic", ImageRewardKind(
    _aesthetic, "LAION aesthetic MLP (aesthetic.safetensors) on the CLIP folder it sits in",
    frozenset({"device", "dtype"})))
IMAGE_REWARDS.add("hpsv2", ImageRewardKind(
    _hpsv2, "HPSv2: cos(text, image) of an open_clip folder (needs open_clip)",
    frozenset({"device"})))


def load_image_reward(kind: str, path: str, options: HubModelOptions | None = None
                      ) -> RewardModel:
    """The image reward ``kind:path``; ``ValueError`` naming the spec when ``path`` is empty."""
    entry = IMAGE_REWARDS.get(kind)
    if not path:
        raise ValueError(f"model '{kind}:': give the folder, {kind}:PATH")
    return entry.load(path, options)


def is_clip_config(config: dict[str, Any]) -> bool:
    """A Hugging Face ``CLIPModel`` config (read as ``clip:`` when named without a kind)."""
    return config.get("model_type") == "clip"
