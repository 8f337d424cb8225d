"""What the diffusion optimizers maximize, and the trainable copy of a UNet they tune.

A :data:`PixelReward` is ``reward(prompts, pixels) -> (N,)`` with ``pixels`` an
N×H×W×3 tensor in [0, 1] (what :class:`~rewardlab.optimize.diffusion.pipeline.Denoiser`
decodes); a rewardlab :class:`~rewardlab.protocols.PixelRewardModel`'s
``score_pixels`` is one, differentiable in the pixels (DRaFT, AlignProp and ReNO
need that; best-of-n and DDPO only read the values).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import torch

PixelReward = Callable[[Sequence[str], torch.Tensor], torch.Tensor]


def trainable_copy(unet: torch.nn.Module) -> torch.nn.Module:
    """A deep copy of ``unet`` with every weight trainable, in train mode (the base stays as
    it is: the reference of the KL)."""
    tuned = copy.deepcopy(unet)
    tuned.requires_grad_(True)
    return tuned.train()


def as_tensor(rewards: object, n: int) -> torch.Tensor:
    """A reward function's output as a float tensor of shape (n,); one clear error otherwise."""
    values = torch.as_tensor(rewards)
    if values.shape != (n,):
        raise ValueError(f"the reward returned shape {tuple(values.shape)} for {n} images; "
                         f"expected ({n},)")
    return values.float()
