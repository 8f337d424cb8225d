"""The ``clip-vision`` backbone's features in torch, differentiable in the pixels.

:class:`~rewardlab.features.clip_vision.ClipVisionBackbone` embeds decoded
images through the folder's image processor (PIL); :func:`clip_pixel_features`
computes the same ``[v, v ⊙ t, log(1 + H·W)]`` from a pixel tensor
x ∈ [0, 1]^{N×H×W×3} with the torch preprocessing of
:mod:`rewardlab.features.pixels` (the processor's resize, center crop and
normalization), so a head trained on them is differentiable in the pixels.
The prompt embeddings t are constants of x. Equal to ``encode`` to 1e-5 when
no resampling happens (the image already has the processor's size); when it
does, torch's antialiased resize on floats and PIL's on ``uint8`` differ by
about one grey level.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rewardlab.features.pixels import PixelSpec, preprocess


def clip_pixel_features(backbone: Any, prompts: Sequence[str], pixels: Any) -> Any:
    """The features of ``backbone.encode`` (a ClipVisionBackbone) for N×H×W×3 pixels in
    [0, 1], (N, dim) float32, differentiable in ``pixels``."""
    import torch

    towers = backbone.towers
    towers.model.requires_grad_(False)
    values = preprocess(pixels.float(), PixelSpec.from_processor(towers.processor))
    pooled = towers.vision(pixel_values=values).pooler_output
    if towers.visual_projection is not None:
        pooled = towers.visual_projection(pooled)
    v = torch.nn.functional.normalize(pooled, dim=-1)
    blocks = [v]
    if backbone.has_text:
        distinct = list(dict.fromkeys(prompts))
        t = torch.from_numpy(towers.embed_texts(distinct)).to(v.device)
        row = {p: i for i, p in enumerate(distinct)}
        blocks.append(v * t[[row[p] for p in prompts]])
    height, width = pixels.shape[1:3]
    blocks.append(torch.full((len(v), 1), float(np.log1p(height * width)), device=v.device))
    return torch.cat(blocks, dim=1)
