"""Differentiable image preprocessing in torch, and the pixel tensors it starts from.

Image reward models score decoded images (:mod:`rewardlab.data.images`: ``H×W×3``
``uint8``). Gradient-based audits (the PGD attack of
:mod:`rewardlab.evaluate.adversarial`) and differentiable trainers (AlignProp)
need the reward as a function of the pixels themselves, ``x ∈ [0, 1]^{N×H×W×3}``;
this module is the torch path from ``x`` to a vision tower's input:

1. resize so that the shortest edge is ``s`` (the long edge becomes
   ``int(s · long / short)``, as Hugging Face's ``get_resize_output_image_size``),
   or to a fixed ``(height, width)``; bicubic (or bilinear) with antialiasing,
   which uses PIL's cubic kernel (a = −0.5);
2. center crop to ``(h, w)`` at ``top = (H − h) // 2``, ``left = (W − w) // 2``;
3. normalize per channel, ``(x − mean) / std``.

This matches Hugging Face's PIL image processor exactly when no resampling
happens (the image already has the resize target size). When it resamples, PIL
works on ``uint8`` and rounds after each of its two passes while torch keeps
floats, so the two inputs differ by about one grey level; the published score
(``score``) always uses the model's own processor, and an attack's success is
checked with ``score`` on the rounded image, never with this path alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

BICUBIC, BILINEAR = 3, 2
"""PIL's resample codes, as Hugging Face processor configs store them."""


@dataclass(frozen=True)
class PixelSpec:
    """What a vision tower expects: resize, crop and normalization (see the module doc).

    ``shortest_edge`` or ``size`` (height, width) gives the resize (neither: none);
    ``crop`` the center crop (None: none).
    """

    shortest_edge: int | None
    size: tuple[int, int] | None
    crop: tuple[int, int] | None
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    resample: int = BICUBIC

    @classmethod
    def from_processor(cls, processor: Any) -> PixelSpec:
        """The spec of a Hugging Face image processor (its ``size``, ``crop_size``,
        ``image_mean``, ``image_std``, ``resample``); refuses one it cannot follow."""
        rescale = getattr(processor, "rescale_factor", 1 / 255)
        if getattr(processor, "do_rescale", True) and abs(rescale - 1 / 255) > 1e-12:
            raise ValueError(f"image processor rescales by {rescale}, not 1/255")
        size = _size_dict(getattr(processor, "size", None)) if processor.do_resize else {}
        crop = _size_dict(getattr(processor, "crop_size", None))
        resample = int(getattr(processor, "resample", BICUBIC))
        if resample not in (BICUBIC, BILINEAR):
            raise ValueError(f"image processor resample {resample} is not bicubic or bilinear")
        return cls(
            shortest_edge=size.get("shortest_edge"),
            size=(size["height"], size["width"]) if "height" in size else None,
            crop=(crop["height"], crop["width"])
            if getattr(processor, "do_center_crop", False) and "height" in crop else None,
            mean=_triple(processor.image_mean) if processor.do_normalize else (0.0, 0.0, 0.0),
            std=_triple(processor.image_std) if processor.do_normalize else (1.0, 1.0, 1.0),
            resample=resample,
        )


def _size_dict(value: Any) -> dict[str, int]:
    if value is None:
        return {}
    if isinstance(value, int):
        return {"shortest_edge": value}
    items = value.items() if hasattr(value, "items") else vars(value).items()
    return {k: int(v) for k, v in items if v is not None}


def _triple(value: Any) -> tuple[float, float, float]:
    values = [float(v) for v in (value if isinstance(value, list | tuple) else [value] * 3)]
    return (values[0], values[1], values[2])


def shortest_edge_size(height: int, width: int, edge: int) -> tuple[int, int]:
    """(height, width) after resizing the shortest edge to ``edge`` (Hugging Face's rule:
    the long edge is ``int(edge · long / short)``)."""
    if width <= height:
        return int(edge * height / width), edge
    return edge, int(edge * width / height)


def preprocess(pixels: Any, spec: PixelSpec) -> Any:
    """``pixels`` (N×H×W×3 float in [0, 1], a torch tensor) → the tower's N×3×h×w input,
    differentiable in ``pixels``."""
    import torch
    import torch.nn.functional as F

    x = pixels.permute(0, 3, 1, 2)
    height, width = x.shape[-2:]
    target = None
    if spec.shortest_edge is not None:
        target = shortest_edge_size(height, width, spec.shortest_edge)
    elif spec.size is not None:
        target = spec.size
    if target is not None and tuple(target) != (height, width):
        mode = "bicubic" if spec.resample == BICUBIC else "bilinear"
        x = F.interpolate(x, size=target, mode=mode, align_corners=False, antialias=True)
    if spec.crop is not None:
        h, w = spec.crop
        height, width = x.shape[-2:]
        if h > height or w > width:
            raise ValueError(f"crop {h}×{w} is larger than the resized image {height}×{width}")
        top, left = (height - h) // 2, (width - w) // 2
        x = x[:, :, top : top + h, left : left + w]
    mean = torch.tensor(spec.mean, dtype=x.dtype, device=x.device)[None, :, None, None]
    std = torch.tensor(spec.std, dtype=x.dtype, device=x.device)[None, :, None, None]
    return (x - mean) / std


def pixel_tensor(images: Sequence[np.ndarray], device: Any = None) -> Any:
    """Canonical images of one shape (``H×W×3`` ``uint8``) as one N×H×W×3 float32
    tensor in [0, 1] (``x = uint8 / 255``)."""
    import torch

    stacked = np.stack([np.asarray(image) for image in images]).astype(np.float32) / 255.0
    return torch.from_numpy(stacked).to(device)


def shape_groups(images: Sequence[np.ndarray]) -> dict[tuple[int, int], list[int]]:
    """The indices of the images of each (height, width), in first-seen order: one tensor
    holds images of one shape."""
    groups: dict[tuple[int, int], list[int]] = {}
    for i, image in enumerate(images):
        groups.setdefault((int(image.shape[0]), int(image.shape[1])), []).append(i)
    return groups


def as_uint8(pixels: Any) -> np.ndarray:
    """N×H×W×3 pixels in [0, 1] (a tensor) rounded to the ``uint8`` images they encode:
    ``round(255 · x)``, clipped to [0, 255]."""
    values = pixels.detach().float().cpu().numpy()
    return np.clip(np.rint(values * 255.0), 0, 255).astype(np.uint8)
