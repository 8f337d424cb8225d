"""The ``conv`` image backbone's features in torch, differentiable in the pixels.

:class:`~rewardlab.features.image_conv.ConvImageBackbone` computes its features
from decoded ``uint8`` images with PIL resizes and numpy;
:func:`conv_pixel_features` computes the same features from a pixel tensor
x ∈ [0, 1]^{N×H×W×3} (``x = uint8 / 255``) with torch operations only, so a
head trained on them is differentiable in the pixels (gradient attacks,
AlignProp). Step by step, as the numpy path:

* the ``size``×``size`` image: x itself when H = W = size; otherwise torch's
  antialiased bilinear resize, which follows PIL's triangle filter but keeps
  floats where PIL rounds to ``uint8`` (about one grey level apart);
* the random convolutions, rectified both ways and averaged over the grid;
* the luma thumbnail: PIL's BOX resize of the float luma image is a linear map
  A · Y · Bᵀ, separable by rows and columns; A and B are read from PIL itself
  once per image shape (the BOX resize of row and column indicator images), so
  this step equals the numpy path to float rounding for every shape;
* the mean R, G, B and the population std of the resized luma, the prompt's
  hashed words crossed with the thumbnail's shape (centered, unit norm; zero
  for a flat thumbnail), and log(1 + H·W) (a constant of x).

Equal to ``encode`` to 1e-5 when the images are ``size``×``size``
(``tests/test_pixel_attack.py``).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from rewardlab.data.images import LUMA


@lru_cache(maxsize=64)
def box_matrix(length: int, out: int, axis: int) -> np.ndarray:
    """The (out × length) matrix of PIL's BOX resize along one axis of a float image:
    row j holds the weights of the input pixels that make output pixel j."""
    from PIL import Image

    matrix = np.zeros((out, length), np.float64)
    for k in range(length):
        indicator = np.zeros((length, 1) if axis == 0 else (1, length), np.float32)
        indicator.flat[k] = 1.0
        size = (1, out) if axis == 0 else (out, 1)
        resized = Image.fromarray(indicator, mode="F").resize(size, Image.BOX)
        matrix[:, k] = np.asarray(resized, np.float64).reshape(-1)
    return matrix


def conv_pixel_features(backbone: Any, words: np.ndarray, pixels: Any) -> Any:
    """The features of ``backbone.encode`` (a ConvImageBackbone) for N×H×W×3 pixels in
    [0, 1] whose prompts have the hashed words ``words`` (N, buckets), (N, dim) float32,
    differentiable in ``pixels``."""
    import torch
    import torch.nn.functional as F

    n, height, width = pixels.shape[:3]
    x = pixels.float().permute(0, 3, 1, 2)
    size = backbone.size
    if (height, width) != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False,
                          antialias=True)
    weights = torch.from_numpy(backbone._weights).to(x.device)
    z = F.conv2d(x, weights, padding=weights.shape[-1] // 2)
    z = torch.cat([torch.relu(z), torch.relu(-z)], dim=1)
    pooled = F.adaptive_avg_pool2d(z, backbone.grid).flatten(1)
    luma_weights = torch.tensor(LUMA, dtype=torch.float32, device=x.device)
    luma = pixels.float() @ luma_weights  # (N, H, W) of the original image
    rows = torch.from_numpy(box_matrix(height, backbone.thumbnail, 0)).float().to(x.device)
    cols = torch.from_numpy(box_matrix(width, backbone.thumbnail, 1)).float().to(x.device)
    thumbs = (rows @ luma @ cols.T).reshape(n, -1)
    resized_luma = x.permute(0, 2, 3, 1) @ luma_weights
    stats = torch.cat([x.mean(dim=(2, 3)),
                       resized_luma.reshape(n, -1).std(dim=1, unbiased=False)[:, None]], dim=1)
    centered = thumbs - thumbs.mean(dim=1, keepdim=True)
    norms = torch.linalg.vector_norm(centered, dim=1, keepdim=True)
    shape = torch.where(norms > 0, centered / norms.clamp_min(1e-30), torch.zeros_like(centered))
    crossed = (torch.from_numpy(words).to(x.device)[:, :, None] * shape[:, None, :]).reshape(n, -1)
    length = torch.full((n, 1), float(np.log1p(height * width)), device=x.device)
    return torch.cat([pooled, thumbs, stats, crossed, length], dim=1)
