"""The ``clip-vision`` backbone's features in torch, differentiable in the pixels.

:class:`~rewardlab.features.clip_vision.ClipVisionBackbone` embeds decoded
images through the folder's image processor (PIL); :func:`clip_pixel_features`
computes the same ``[v, v ⊙ t, log(1 + H·W)]`` from a pixel tensor
x ∈ [0, 1]^{N×H×W×3} with the torch preprocessing of
:mod:`rewardlab.features.pixels` (the processor's resize, center crop and
normalization; :meth:`rewardlab.features.clip_load.ClipTowers.image_features_pixels`),
so a head trained on them is differentiable in the pixels.
The prompt embeddings t are constants of x. Equal to ``encode`` to 1e-5 when
no resampling happens (the image already has the processor's size); when it
does, torch's antialiased resize on floats and PIL's on ``uint8`` differ by
about one grey level.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def clip_pixel_features(backbone: Any, prompts: Sequence[str], pixels: Any) -> Any:
    """The features of ``backbone.encode`` (a ClipVisionBackbone) for N×H×W×3 pixels in
    [0, 1], (N, dim) float32, differentiable in ``pixels``."""
    import torch

    towers = backbone.towers
    v = towers.image_features_pixels(pixels.float())
    blocks = [v]
    if backbone.has_text:
        with torch.no_grad():  # the prompt embeddings are constants of the pixels
            t = towers.text_features(prompts)
        blocks.append(v * t.to(v.device))
    height, width = pixels.shape[1:3]
    blocks.append(torch.full((len(v), 1), float(np.log1p(height * width)), device=v.device))
    return torch.cat(blocks, dim=1)
