"""How ``lab diffusion`` reads its proxy ensemble: the reward each optimizer maximizes.

``single`` is member 0 (one reward model), the others reduce the K members' rewards
(K, N) → (N,) as :mod:`rewardlab.robust.aggregate` defines them (Coste et al. 2024):
``mean``; ``wco``, the minimum (worst-case optimization); ``uwo``, mean − λ·Var with
the population variance and λ = :class:`~rewardlab.robust.aggregate.UwoParams`'s
default. They are written here in torch so that DRaFT can differentiate them;
``tests/test_diffusion_lab.py`` checks them against the registry's functions.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from rewardlab.optimize.diffusion.rewards import PixelReward

READINGS = ("single", "mean", "wco", "uwo")


def read(members: torch.Tensor, name: str) -> torch.Tensor:
    """The reading ``name`` of member rewards (K, N)."""
    from rewardlab.robust.aggregate import UwoParams

    if name == "single":
        return members[0]
    if name == "mean":
        return members.mean(dim=0)
    if name == "wco":
        return members.min(dim=0).values
    if name == "uwo":
        mean = members.mean(dim=0)
        return mean - UwoParams().lam * ((members - mean) ** 2).mean(dim=0)
    raise ValueError(f"unknown reading {name!r} (known: {', '.join(READINGS)})")


def reading_reward(model, name: str) -> PixelReward:
    """``reward(prompts, pixels)``: the reading ``name`` of ``model``'s members (a model with
    ``score_members_pixels``)."""

    def reward(prompts: Sequence[str], pixels: torch.Tensor) -> torch.Tensor:
        return read(model.score_members_pixels(prompts, pixels), name)

    return reward
