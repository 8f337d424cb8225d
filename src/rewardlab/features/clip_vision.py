"""Frozen CLIP image embeddings as reward features (``clip-vision:PATH``).

PATH is a local Hugging Face folder of a ``CLIPModel`` (image and text towers,
as OpenAI CLIP, LAION's OpenCLIP conversions or PickScore's backbone) or of a
``CLIPVisionModel`` / ``CLIPVisionModelWithProjection`` (image tower only),
with its ``preprocessor_config.json``, loaded by the one CLIP loader
(:func:`rewardlab.features.clip_load.load_clip`, on the CPU in fp32). Radford et
al., "Learning Transferable Visual Models From Natural Language Supervision",
ICML 2021.

For an image y and a prompt x:

- v = the image embedding: the vision tower's pooled output, through
  ``visual_projection`` when the folder has one, L2-normalized;
- t = the prompt's text embedding the same way (``text_projection``), when the
  folder has a text tower;
- features = ``[v, v ⊙ t, log(1 + H·W)]``, or ``[v, log(1 + H·W)]`` without a
  text tower (then the prompt is not seen). A linear head on them computes
  u·v + Σᵢ wᵢ vᵢ tᵢ: with w = 1 that is the CLIP score cos(v, t), so the head
  learns a reweighted CLIP score plus a prompt-free image term (the form of
  the LAION aesthetic predictor's input, Schuhmann et al., 2022).

Images are preprocessed by the folder's own image processor (its PIL backend),
computed under ``torch.inference_mode`` in batches of ``batch_size``, and cached on disk like
the text encoder's embeddings (:class:`rewardlab.features.cache.EmbeddingCache`):
image embeddings keyed by the model and the image's pixel digest, text
embeddings by the model and the prompt, so a second run, a new head or an
ensemble embeds nothing again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rewardlab.data.images import decode_image
from rewardlab.features.base import ProgressCallback, log_length_feature
from rewardlab.features.cache import EmbeddingCache
from rewardlab.features.clip_load import ClipTowers, load_clip
from rewardlab.protocols import Response

TEXT_CACHE_LENGTH = 77
"""The text cache's length key: CLIP's text context."""


def clip_identity(folder: str) -> str:
    """Cache key of a CLIP folder: its config, preprocessor config and weight files
    (names and sizes), and the image processor's backend (PIL)."""
    path = Path(folder)
    digest = hashlib.sha256(b"processor=pil")
    for name in ("config.json", "preprocessor_config.json"):
        if (path / name).is_file():
            digest.update((path / name).read_bytes())
    for weights in sorted(path.glob("*.safetensors")) + sorted(path.glob("*.bin")):
        digest.update(f"{weights.name}:{weights.stat().st_size}".encode())
    return f"clip:{digest.hexdigest()[:24]}"


class ClipVisionBackbone:
    """``[v, v ⊙ t, log(1 + pixels)]`` from a local CLIP folder (module doc)."""

    def __init__(self, model: str, batch_size: int = 32, cache_dir: str | None = None) -> None:
        if not model:
            raise ValueError("backbone 'clip-vision' needs a folder: clip-vision:PATH")
        self.model = model
        self.batch_size = batch_size
        self.cache_dir = cache_dir
        self._towers: ClipTowers | None = None

    @property
    def towers(self) -> ClipTowers:
        if self._towers is None:
            self._towers = load_clip(self.model, device="cpu", dtype="fp32",
                                     what="clip-vision:")
            self._towers.batch_size = self.batch_size
        return self._towers

    @property
    def has_text(self) -> bool:
        return self.towers.has_text

    @property
    def dim(self) -> int:
        return (2 if self.has_text else 1) * self.towers.dim + 1

    @property
    def length_column(self) -> int:
        """The column holding log(1 + H·W)."""
        return self.dim - 1

    def _cache(self, part: str, length: int) -> EmbeddingCache:
        root = Path(self.cache_dir) if self.cache_dir else None
        return EmbeddingCache(f"{clip_identity(self.model)}|{part}", length, root)

    def _cached(self, cache: EmbeddingCache, items: Sequence[Any], embed,
                progress: ProgressCallback | None) -> np.ndarray:
        found, missing = cache.lookup(items)
        for start in range(0, len(missing), self.batch_size):
            rows = missing[start : start + self.batch_size]
            fresh = embed([items[i] for i in rows])
            cache.store([items[i] for i in rows], fresh)
            for i, vector in zip(rows, fresh, strict=True):
                found[i] = vector
            if progress is not None:
                progress(min(start + self.batch_size, len(missing)), len(missing))
        if not found:
            return np.zeros((0, self.towers.dim), np.float32)
        return np.stack(found).astype(np.float32)

    def encode(
        self,
        prompts: Sequence[str],
        responses: Sequence[Response],
        progress: ProgressCallback | None = None,
    ) -> np.ndarray:
        towers = self.towers
        images = [decode_image(r) for r in responses]
        v = self._cached(self._cache("image", towers.image_size), images,
                         lambda batch: _embedded(towers.image_features, batch), progress)
        blocks = [v]
        if self.has_text:
            distinct = list(dict.fromkeys(prompts))
            t = self._cached(self._cache("text", TEXT_CACHE_LENGTH), distinct,
                             lambda batch: _embedded(towers.text_features, batch), None)
            row = {p: i for i, p in enumerate(distinct)}
            blocks.append(v * t[[row[p] for p in prompts]])
        blocks.append(log_length_feature(images))
        return np.hstack(blocks).astype(np.float32)

    def encode_pixels(self, prompts: Sequence[str], pixels: Any) -> Any:
        """The features of :meth:`encode` from an N×H×W×3 pixel tensor in [0, 1], in torch and
        differentiable (:mod:`rewardlab.features.clip_vision_torch`)."""
        from rewardlab.features.clip_vision_torch import clip_pixel_features

        return clip_pixel_features(self, prompts, pixels)

    def config(self) -> dict[str, Any]:
        return {
            "kind": "clip-vision",
            "model": self.model,
            "model_id": clip_identity(self.model),
            "batch_size": self.batch_size,
        }


def _embedded(embed: Any, batch: Sequence[Any]) -> np.ndarray:
    """``embed(batch)`` computed under ``torch.inference_mode``, as float32 NumPy rows."""
    import torch

    with torch.inference_mode():
        return embed(batch).float().cpu().numpy()
