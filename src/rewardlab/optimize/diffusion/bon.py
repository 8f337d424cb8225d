"""Best-of-n for a diffusion generator: draw n images per prompt, keep the one the reward
ranks highest.

The policy of the pick is the base tilted by the reward's order; its KL from the base
is at most log n − (n − 1)/n (Stiennon et al. 2020; Beirami et al. 2024,
:func:`rewardlab.optimize.bon.kl_bon`), the x-axis of Gao et al.'s best-of-n curves.
Expected gold and proxy of the pick over many draws are best estimated without
bias from a larger pool (:func:`rewardlab.optimize.bon.expected_best_of_n`), as the
lab does; :func:`best_of_n` is the sampler a user runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from rewardlab.optimize.diffusion.pipeline import Denoiser
from rewardlab.optimize.diffusion.rewards import PixelReward, as_tensor
from rewardlab.optimize.diffusion.sampler import sample


@dataclass
class BestOfN:
    """The picked image per prompt, which of the n draws it was, and every draw's reward."""

    pixels: torch.Tensor
    latents: torch.Tensor
    index: torch.Tensor
    rewards: torch.Tensor


def best_of_n(
    denoiser: Denoiser, prompts: Sequence[str], n: int, reward: PixelReward, steps: int,
    eta: float = 1.0, generator: torch.Generator | None = None,
) -> BestOfN:
    """For each prompt, n images sampled from the base (all draws of one round for the
    prompts in order, round after round) and the one with the highest ``reward``; ties go
    to the first draw."""
    if n < 1:
        raise ValueError(f"field 'n': best-of-n needs n >= 1, got {n}")
    count = len(prompts)
    with torch.no_grad():
        run = sample(denoiser, list(prompts) * n, steps, eta, generator)
        rewards = as_tensor(reward(list(prompts) * n, run.pixels), count * n)
    table = rewards.reshape(n, count)
    index = table.argmax(dim=0)
    rows = index * count + torch.arange(count)
    return BestOfN(run.pixels[rows], run.latents[rows], index, table.T.contiguous())
