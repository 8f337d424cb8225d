"""The HPSv2 form: an ``open_clip`` CLIP whose reward is the cosine of text and image.

    r(x, y) = cos(t(x), v(y)),

with t and v open_clip's ``encode_text`` / ``encode_image`` (normalized), as
HPSv2's own scorer computes it (Wu et al., 2023, "Human Preference Score v2";
``score.py`` of github.com/tgxs002/HPSv2: ``image_features @ text_features.T``,
its diagonal, no logit scale). The image is prepared as HPSv2's validation
transform does: the longest edge resized to the tower's image size (bicubic,
antialiased: :mod:`rewardlab.features.pixels`), padded with black to a
square (left/top get half the padding, rounded down), then normalized with the
tower's mean and std (OpenAI's by default). ``score`` and ``score_pixels``
share this torch path, so they agree exactly.

Spec ``hpsv2:PATH``: PATH is an open_clip folder as open_clip lays one out for
the hub (``open_clip_config.json`` with ``model_cfg``, e.g. ViT-H-14's, and
weights ``open_clip_model.safetensors``). The HPSv2 release is a ``.pt``
pickle, refused with one line; convert it once where you trust it. Needs
``open_clip`` (``pip install open_clip_torch``; not part of rewardlab's
extras because it requires torchvision); without it the spec is refused with
one line.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rewardlab.features.clip_load import PICKLE_SUFFIXES
from rewardlab.features.device import resolve_device
from rewardlab.features.pixels import pixel_tensor, shape_groups
from rewardlab.models.image.clip import image_responses
from rewardlab.models.lm.hub import HubModelOptions
from rewardlab.protocols import Response, check_lengths

WEIGHTS = "open_clip_model.safetensors"
CONFIG = "open_clip_config.json"
OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)


class MissingOpenClipError(ImportError, ValueError):
    """open_clip is not installed (a ``ValueError`` too, so the CLI prints its one line)."""


def require_open_clip() -> Any:
    """The ``open_clip`` module, or one :class:`MissingOpenClipError` line saying how to get it."""
    if importlib.util.find_spec("open_clip") is None:
        raise MissingOpenClipError(
            "hpsv2: models need open_clip, which is not installed: pip install open_clip_torch "
            "(it brings torchvision; install the one that matches your torch)"
        )
    import open_clip

    return open_clip


def resize_max_pad(pixels: Any, size: int) -> Any:
    """N×H×W×3 in [0, 1] → N×3×size×size: the longest edge resized to ``size`` (each edge
    ``round(edge · size / longest)``), then zero padding, half (rounded down) left/top."""
    import torch.nn.functional as F

    x = pixels.permute(0, 3, 1, 2)
    height, width = x.shape[-2:]
    scale = size / max(height, width)
    if scale != 1.0:
        new = (round(height * scale), round(width * scale))
        x = F.interpolate(x, size=new, mode="bicubic", align_corners=False, antialias=True)
        pad_h, pad_w = size - new[0], size - new[1]
        x = F.pad(x, (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2))
    return x


class HPSv2RewardModel:
    """``RewardModel`` and ``PixelRewardModel``: r = cos(open_clip text, open_clip image)."""

    form = "hpsv2"

    def __init__(self, model: Any, tokenizer: Any, name: str, batch_size: int = 16) -> None:
        self.model = model.eval().requires_grad_(False)
        self.tokenizer = tokenizer
        self.name = name
        self.batch_size = batch_size
        visual = model.visual
        size = visual.image_size
        self.image_size = int(size if isinstance(size, int) else size[0])
        self.mean = tuple(getattr(visual, "image_mean", None) or OPENAI_MEAN)
        self.std = tuple(getattr(visual, "image_std", None) or OPENAI_STD)

    @property
    def id(self) -> str:
        return f"hpsv2:{self.name}"

    @property
    def device(self) -> Any:
        return next(self.model.parameters()).device

    def score_pixels(self, prompts: Sequence[str], pixels: Any) -> Any:
        """r for N×H×W×3 pixels in [0, 1], differentiable in ``pixels``."""
        import torch

        check_lengths(prompts, pixels)
        x = resize_max_pad(pixels.to(self.device), self.image_size)
        mean = torch.tensor(self.mean, dtype=x.dtype, device=x.device)[None, :, None, None]
        std = torch.tensor(self.std, dtype=x.dtype, device=x.device)[None, :, None, None]
        image = self.model.encode_image((x - mean) / std, normalize=True)
        text = self.model.encode_text(self.tokenizer(list(prompts)).to(self.device),
                                      normalize=True)
        return (image * text).sum(dim=-1)

    def score(self, prompts: Sequence[str], responses: Sequence[Response]) -> np.ndarray:
        import torch

        n = check_lengths(prompts, responses)
        images = image_responses(responses, self.id)
        out = np.zeros(n)
        with torch.inference_mode():
            for idx in shape_groups(images).values():
                for start in range(0, len(idx), self.batch_size):
                    part = idx[start : start + self.batch_size]
                    pixels = pixel_tensor([images[i] for i in part], self.device)
                    rewards = self.score_pixels([prompts[i] for i in part], pixels)
                    out[part] = rewards.double().cpu().numpy()
        return out


def load_hpsv2(folder: str | Path, options: HubModelOptions | None = None) -> HPSv2RewardModel:
    """The open_clip folder of ``hpsv2:PATH`` (see the module doc)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"hpsv2:{folder}: no such folder")
    if not (folder / WEIGHTS).is_file():
        pickled = sorted(p.name for p in folder.iterdir() if p.suffix in PICKLE_SUFFIXES)
        if pickled:
            raise ValueError(
                f"hpsv2:{folder}: {pickled[0]} is a pickle, which rewardlab never loads; save "
                f"its state_dict as {WEIGHTS} (safetensors.torch.save_file) where you trust it"
            )
        raise ValueError(f"hpsv2:{folder}: no {WEIGHTS} in the folder")
    if not (folder / CONFIG).is_file():
        raise ValueError(f"hpsv2:{folder}: no {CONFIG} (open_clip's model_cfg) in the folder")
    open_clip = require_open_clip()
    options = options or HubModelOptions()
    model = open_clip.create_model(f"local-dir:{folder}", load_weights=False)
    open_clip.load_checkpoint(model, str(folder / WEIGHTS))
    tokenizer = open_clip.get_tokenizer(f"local-dir:{folder}")
    return HPSv2RewardModel(model.to(resolve_device(options.device)), tokenizer, str(folder))
