"""The images of ``lab diffusion``: as the generator emits them, their gold, how many each
checkpoint keeps, and a checkpoint's numbers."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

GRID = 10
"""Images kept per checkpoint: the first ten evaluation prompts, digits 0–9."""


def uint8_images(pixels: torch.Tensor) -> np.ndarray:
    """N×H×W×3 pixels in [0, 1] as the ``uint8`` images the generator emits, round(255·x)."""
    return (pixels.detach() * 255.0).round().clamp(0, 255).to(torch.uint8).numpy()


def gold_of(prompts: Sequence[str], pixels: torch.Tensor) -> np.ndarray:
    """The gold of each image, G(d, y) = log P_clf(d | y): the data digits gold classifier's
    log-probability of the prompt's digit d on the ``uint8`` image
    (:func:`rewardlab.data.synthetic.digits.gold_rewards`)."""
    from rewardlab.data.synthetic.digits import gold_rewards

    return gold_rewards(list(prompts), list(uint8_images(pixels)))


def checkpoint(prompts: Sequence[str], pixels: torch.Tensor, kl: torch.Tensor,
               proxy: torch.Tensor) -> tuple[dict[str, float], np.ndarray]:
    """One curve point of the images ``pixels`` drawn for ``prompts`` (each with its ``kl``
    and ``proxy`` reward): the means of KL, proxy and gold, KL's and gold's standard
    errors (std/√N), and the first :data:`GRID` images."""
    gold = gold_of(prompts, pixels)
    kl_values = kl.detach().double().numpy()
    root_n = np.sqrt(len(gold))
    point = {"kl": float(kl_values.mean()), "kl_se": float(kl_values.std() / root_n),
             "proxy": float(proxy.detach().double().numpy().mean()),
             "gold": float(gold.mean()), "gold_se": float(gold.std() / root_n)}
    return point, uint8_images(pixels[:GRID])
