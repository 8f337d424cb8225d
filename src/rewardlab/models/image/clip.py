"""CLIP score and PickScore: a Hugging Face ``CLIPModel`` folder as an image reward.

For a prompt x and an image y,

    r(x, y) = s · cos(t(x), v(y)),   s = exp(logit_scale),

with t the projected text embedding (the pooled EOS state through
``text_projection``), v the projected image embedding (the pooled CLS state
through ``visual_projection``) and ``logit_scale`` the model's learned
temperature (stored as a log). This is CLIPModel's ``logits_per_image`` for the
pair, the form of PickScore (Kirstain et al., 2023, "Pick-a-Pic: An Open Dataset
of User Preferences for Text-to-Image Generation": ``logit_scale.exp() ·
text_embs @ image_embs.T`` with its own fine-tuned weights) and of the CLIP
score of Hessel et al. (2021, "CLIPScore"), which reports ``2.5 · max(cos, 0)``
instead (that rescaling is left to a transform).

The folder is loaded by the one CLIP loader,
:func:`rewardlab.features.clip_load.load_clip` (locally, safetensors only, on
``--device`` in ``--dtype``): the prompt through the folder's tokenizer (padded,
cut to the text tower's ``max_position_embeddings``, 77 for CLIP); the image
decoded by :mod:`rewardlab.data.images` and prepared by the folder's own image
processor (its PIL backend: resize, center crop, rescale, normalize), as the
published scorers do. :meth:`~rewardlab.features.clip_load.ClipTowers.image_features_pixels`
is the same tower on a torch-preprocessed pixel tensor
(:mod:`rewardlab.features.pixels`), which makes the reward differentiable in the
pixels (``score_pixels``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rewardlab.data.modality import decode_responses, modality_of_all
from rewardlab.features.clip_load import ClipTowers, load_clip
from rewardlab.models.lm.hub import HubModelOptions
from rewardlab.protocols import Response, check_lengths


def image_responses(responses: Sequence[Response], who: str) -> list[np.ndarray]:
    """The canonical ``H×W×3`` ``uint8`` images of ``responses``; ``ValueError`` naming
    ``who`` when they are not images."""
    if responses and modality_of_all(responses).name != "image":
        raise ValueError(
            f"{who} scores image responses; these are {modality_of_all(responses).name}"
        )
    return decode_responses(responses)


def load_clip_tower(folder: str | Path, options: HubModelOptions | None = None,
                    what: str = "clip model") -> ClipTowers:
    """A ``CLIPModel`` folder (config, safetensors weights, tokenizer, image processor) on
    the device and in the dtype of ``options``."""
    options = options or HubModelOptions()
    return load_clip(folder, options.device, options.dtype, what, text=True)


class ClipScoreModel:
    """``RewardModel`` and ``PixelRewardModel``: r = exp(logit_scale) · cos(text, image)."""

    form = "clip"

    def __init__(self, tower: ClipTowers, name: str) -> None:
        self.tower = tower
        self.name = name

    @property
    def id(self) -> str:
        return f"clip:{self.name}"

    def _rewards(self, prompts: Sequence[str], image_features: Any) -> Any:
        text = self.tower.text_features(prompts)
        return self.tower.scale * (text * image_features).sum(dim=-1)

    def score(self, prompts: Sequence[str], responses: Sequence[Response]) -> np.ndarray:
        import torch

        if check_lengths(prompts, responses) == 0:
            return np.zeros(0)
        images = image_responses(responses, self.id)
        with torch.inference_mode():
            rewards = self._rewards(prompts, self.tower.image_features(images))
        return rewards.double().cpu().numpy()

    def score_pixels(self, prompts: Sequence[str], pixels: Any) -> Any:
        """r for N×H×W×3 pixels in [0, 1], differentiable in ``pixels``."""
        check_lengths(prompts, pixels)
        return self._rewards(prompts, self.tower.image_features_pixels(pixels))
