"""The one loader of CLIP folders: image and text towers, normalized embeddings.

Every CLIP model rewardlab reads goes through :func:`load_clip`: the
``clip-vision:PATH`` backbone (:mod:`rewardlab.features.clip_vision`), the CLIP
score / PickScore reward and the aesthetic MLP's tower
(:mod:`rewardlab.models.image`). Radford et al., "Learning Transferable Visual
Models From Natural Language Supervision", ICML 2021.

A folder holds a Hugging Face ``CLIPModel`` (image and text towers: OpenAI CLIP,
LAION's OpenCLIP conversions, PickScore) or a ``CLIPVisionModel`` /
``CLIPVisionModelWithProjection`` (image tower only), its
``preprocessor_config.json`` and, with a text tower, its tokenizer. It is read
locally and never downloaded; weights must be safetensors (a ``pytorch_model.bin``
or ``.pth`` is a pickle, refused with one line), and the checks of
:func:`rewardlab.features.hf_load.load_pretrained` apply (weights complete and
finite, tokenizer belonging to the model).

Embeddings (:class:`ClipTowers`), each L2-normalized:

- image: the vision tower's pooled output, through ``visual_projection`` when the
  folder has one, of the image prepared by the folder's own image processor on its
  PIL backend (resize, center crop, rescale, normalize), as the published scorers
  do; or of a pixel tensor prepared in torch (:mod:`rewardlab.features.pixels`),
  differentiable in the pixels;
- text: the text tower's pooled output (the EOS state) through ``text_projection``,
  of the prompt tokenized, padded and cut to the tower's
  ``max_position_embeddings`` (77 for CLIP).

``device`` and ``dtype`` follow :mod:`rewardlab.features.device`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rewardlab.features.pixels import PixelSpec, preprocess

PICKLE_SUFFIXES = (".bin", ".pth", ".pt", ".ckpt", ".pkl")
MODEL_TYPES = ("clip", "clip_vision_model")


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


def image_processor(folder: Path) -> Any:
    """The folder's image processor on its PIL backend (the published scorers' resize)."""
    import transformers
    from transformers import AutoImageProcessor

    if int(transformers.__version__.split(".")[0]) >= 5:
        return AutoImageProcessor.from_pretrained(str(folder), backend="pil")
    return AutoImageProcessor.from_pretrained(str(folder), use_fast=False)


class ClipTowers:
    """A loaded CLIP model, its image processor and (with a text tower) its tokenizer:
    normalized image and text embeddings as torch tensors (module doc)."""

    def __init__(self, model: Any, processor: Any, tokenizer: Any = None,
                 batch_size: int = 32) -> None:
        self.model = model.eval().requires_grad_(False)  # gradients flow to pixels only
        self.processor = processor
        self.spec = PixelSpec.from_processor(processor)
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.vision = model.vision_model
        self.visual_projection = getattr(model, "visual_projection", None)
        self.text = getattr(model, "text_model", None)
        self.text_projection = getattr(model, "text_projection", None)

    @property
    def has_text(self) -> bool:
        return self.text is not None

    @property
    def dim(self) -> int:
        """The embedding width (the projection's, else the vision tower's)."""
        if self.visual_projection is not None:
            return int(self.visual_projection.out_features)
        return int(self.vision.config.hidden_size)

    @property
    def image_size(self) -> int:
        return int(max(np.atleast_1d(self.vision.config.image_size)))

    @property
    def device(self) -> Any:
        return next(self.model.parameters()).device

    @property
    def dtype(self) -> Any:
        return next(self.model.parameters()).dtype

    @property
    def scale(self) -> Any:
        """s = exp(logit_scale) of a ``CLIPModel``."""
        return self.model.logit_scale.exp()

    def text_features(self, prompts: Sequence[str]) -> Any:
        """t(x)/‖t(x)‖ for each prompt, (n, d); each distinct prompt is encoded once."""
        import torch

        distinct = list(dict.fromkeys(prompts))
        batch = self.tokenizer(distinct, padding=True, truncation=True,
                               max_length=int(self.text.config.max_position_embeddings),
                               return_tensors="pt")
        out = self.text(input_ids=batch["input_ids"].to(self.device),
                        attention_mask=batch["attention_mask"].to(self.device))
        features = self.text_projection(out.pooler_output)
        features = features / torch.linalg.vector_norm(features, dim=-1, keepdim=True)
        where = {p: i for i, p in enumerate(distinct)}
        return features[[where[p] for p in prompts]]

    def image_features_values(self, pixel_values: Any) -> Any:
        """v(y)/‖v(y)‖ of the tower's input tensor (N, 3, h, w)."""
        import torch

        pooled = self.vision(pixel_values=pixel_values.to(self.device, self.dtype)).pooler_output
        if self.visual_projection is not None:
            pooled = self.visual_projection(pooled)
        return pooled / torch.linalg.vector_norm(pooled, dim=-1, keepdim=True)

    def image_features(self, images: Sequence[np.ndarray]) -> Any:
        """Normalized embeddings of decoded images through the folder's processor, in
        batches of ``batch_size``."""
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


def load_clip(folder: str | Path, device: str | None = None, dtype: str = "auto",
              what: str = "clip model", text: bool = False) -> ClipTowers:
    """The CLIP folder ``folder`` on ``device`` in ``dtype``; ``text`` requires a text tower
    (a ``CLIPModel``). Errors name the folder as ``what``."""
    from transformers import (
        AutoTokenizer,
        CLIPModel,
        CLIPVisionModel,
        CLIPVisionModelWithProjection,
    )

    from rewardlab.data.io import read_json_object
    from rewardlab.features.device import resolve_device, resolve_dtype
    from rewardlab.features.hf_load import load_pretrained

    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{what} {folder}: no such folder")
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(f"{what} {folder} has no config.json (a local CLIPModel or "
                                "CLIPVisionModel folder is needed)")
    config = read_json_object(folder / "config.json")
    model_type = config.get("model_type")
    wanted = MODEL_TYPES[:1] if text else MODEL_TYPES
    if model_type not in wanted:
        raise ValueError(f"{folder / 'config.json'}: model_type is {model_type!r}, expected "
                         + " or ".join(repr(t) for t in wanted) + " (a Hugging Face "
                         + ("CLIPModel" if text else "CLIPModel or CLIPVisionModel") + " folder)")
    refuse_pickles(folder, what)
    needed = ["preprocessor_config.json"] + (["tokenizer_config.json"] if model_type == "clip"
                                             else [])
    for name in needed:
        if not (folder / name).is_file():
            raise ValueError(
                f"{what} {folder}: no {name}; a CLIP folder needs its image processor and "
                "tokenizer (PickScore_v1 ships neither: copy those of "
                "laion/CLIP-ViT-H-14-laion2B-s32B-b79K into it)"
            )
    tokenizer = AutoTokenizer.from_pretrained(str(folder)) if model_type == "clip" else None
    if model_type == "clip":
        auto = CLIPModel
    elif "CLIPVisionModelWithProjection" in (config.get("architectures") or []):
        auto = CLIPVisionModelWithProjection
    else:
        auto = CLIPVisionModel
    place = resolve_device(device)
    model = load_pretrained(auto, folder, tokenizer, dtype=resolve_dtype(dtype, place),
                            use_safetensors=True)
    return ClipTowers(model.to(place), image_processor(folder), tokenizer)
