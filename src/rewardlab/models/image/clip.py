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

Inputs: the prompt through the folder's tokenizer (padded, cut to the text
tower's ``max_position_embeddings``, 77 for CLIP); the image decoded by
:mod:`rewardlab.data.images` and prepared by the folder's own image processor
(its PIL backend: resize, center crop, rescale, normalize), as the published
scorers do. :meth:`ClipTower.image_features_pixels` is the same tower on a
torch-preprocessed pixel tensor (:mod:`rewardlab.features.pixels`), which
makes the reward differentiable in the pixels (``score_pixels``).

The folder is read locally and never downloaded: weights must be safetensors
(a ``pytorch_model.bin`` or ``.pth`` is a pickle, refused with one line).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rewardlab.data.modality import decode_responses, modality_of_all
from rewardlab.features.pixels import PixelSpec, preprocess
from rewardlab.models.lm.hub import HubModelOptions, read_hf_config, resolve_device
from rewardlab.protocols import Response, check_lengths

PICKLE_SUFFIXES = (".bin", ".pth", ".pt", ".ckpt", ".pkl")


def refuse_pickles(folder: Path, what: str) -> None:
    """``ValueError`` (one line) unless ``folder`` holds safetensors model weights
    (``model.safetensors`` or a sharded index); a folder with only pickled weights is
    named with the way out."""
    if (folder / "model.safetensors").is_file() or (
        folder / "model.safetensors.index.json"
    ).is_file():
        return
    pickled = sorted((p.name for p in folder.iterdir() if p.suffix in PICKLE_SUFFIXES),
                     key=lambda name: (not name.startswith(("pytorch_model", "model")), name))
    if pickled:
        raise ValueError(
            f"{what} {folder}: weights {pickled[0]} are a pickle, which rewardlab never loads; "
            "save them as safetensors (model.save_pretrained(folder, safe_serialization=True))"
        )
    raise ValueError(f"{what} {folder}: no *.safetensors weights in the folder")


def image_responses(responses: Sequence[Response], who: str) -> list[np.ndarray]:
    """The canonical ``H×W×3`` ``uint8`` images of ``responses``; ``ValueError`` naming
    ``who`` when they are not images."""
    if responses and modality_of_all(responses).name != "image":
        raise ValueError(
            f"{who} scores image responses; these are {modality_of_all(responses).name}"
        )
    return decode_responses(responses)


def _image_processor(folder: Path) -> Any:
    """The folder's image processor on its PIL backend (the published scorers' resize)."""
    import transformers
    from transformers import AutoImageProcessor

    if int(transformers.__version__.split(".")[0]) >= 5:
        return AutoImageProcessor.from_pretrained(str(folder), backend="pil")
    return AutoImageProcessor.from_pretrained(str(folder), use_fast=False)


class ClipTower:
    """A loaded ``CLIPModel`` with its tokenizer and image processor: normalized text and
    image embeddings, from decoded images or from a pixel tensor."""

    def __init__(self, model: Any, tokenizer: Any, processor: Any, batch_size: int = 32) -> None:
        self.model = model.eval().requires_grad_(False)  # gradients flow to pixels only
        self.tokenizer = tokenizer
        self.processor = processor
        self.spec = PixelSpec.from_processor(processor)
        self.batch_size = batch_size
        self.max_length = int(model.config.text_config.max_position_embeddings)

    @property
    def device(self) -> Any:
        return next(self.model.parameters()).device

    @property
    def scale(self) -> Any:
        """s = exp(logit_scale)."""
        return self.model.logit_scale.exp()

    def text_features(self, prompts: Sequence[str]) -> Any:
        """t(x)/‖t(x)‖ for each prompt, (n, d); each distinct prompt is encoded once."""
        import torch

        distinct = list(dict.fromkeys(prompts))
        batch = self.tokenizer(distinct, padding=True, truncation=True,
                               max_length=self.max_length, return_tensors="pt")
        out = self.model.text_model(input_ids=batch["input_ids"].to(self.device),
                                    attention_mask=batch["attention_mask"].to(self.device))
        features = self.model.text_projection(out.pooler_output)
        features = features / torch.linalg.vector_norm(features, dim=-1, keepdim=True)
        where = {p: i for i, p in enumerate(distinct)}
        return features[[where[p] for p in prompts]]

    def image_features_values(self, pixel_values: Any) -> Any:
        """v(y)/‖v(y)‖ of the tower's input tensor (N, 3, h, w)."""
        import torch

        out = self.model.vision_model(pixel_values=pixel_values.to(self.device, self.dtype))
        features = self.model.visual_projection(out.pooler_output)
        return features / torch.linalg.vector_norm(features, dim=-1, keepdim=True)

    @property
    def dtype(self) -> Any:
        return next(self.model.parameters()).dtype

    def image_features(self, images: Sequence[np.ndarray]) -> Any:
        """Normalized image embeddings of decoded images through the folder's processor."""
        import torch

        parts = []
        for start in range(0, len(images), self.batch_size):
            chunk = list(images[start : start + self.batch_size])
            values = self.processor(images=chunk, return_tensors="pt")["pixel_values"]
            parts.append(self.image_features_values(values))
        return torch.cat(parts)

    def image_features_pixels(self, pixels: Any) -> Any:
        """Normalized image embeddings of N×H×W×3 pixels in [0, 1], differentiable."""
        return self.image_features_values(preprocess(pixels.to(self.device), self.spec))


def load_clip_tower(folder: str | Path, options: HubModelOptions | None = None,
                    what: str = "clip model") -> ClipTower:
    """A ``CLIPModel`` folder (config, safetensors weights, tokenizer, image processor)."""
    from transformers import AutoTokenizer, CLIPModel

    folder = Path(folder)
    options = options or HubModelOptions()
    if not folder.is_dir():
        raise ValueError(f"{what} {folder}: no such folder")
    config = read_hf_config(folder)
    if config.get("model_type") != "clip":
        raise ValueError(
            f"{folder / 'config.json'}: model_type is {config.get('model_type')!r}, expected "
            "'clip' (a Hugging Face CLIPModel folder)"
        )
    refuse_pickles(folder, what)
    for needed in ("preprocessor_config.json", "tokenizer_config.json"):
        if not (folder / needed).is_file():
            raise ValueError(
                f"{what} {folder}: no {needed}; a CLIP folder needs its image processor and "
                "tokenizer (PickScore_v1 ships neither: copy those of "
                "laion/CLIP-ViT-H-14-laion2B-s32B-b79K into it)"
            )
    device = resolve_device(options.device)
    dtype = _dtype(options.dtype, device)
    model = CLIPModel.from_pretrained(str(folder), dtype=dtype, use_safetensors=True)
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    return ClipTower(model.to(device), tokenizer, _image_processor(folder))


def _dtype(name: str, device: Any) -> Any:
    from rewardlab.models.lm.hub import resolve_dtype

    return resolve_dtype(name, device)


class ClipScoreModel:
    """``RewardModel`` and ``PixelRewardModel``: r = exp(logit_scale) · cos(text, image)."""

    form = "clip"

    def __init__(self, tower: ClipTower, name: str) -> None:
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
