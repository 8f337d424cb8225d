"""Label-smoothed Bradley-Terry loss (Wang et al., "Secrets of RLHF in Large
Language Models Part II: Reward Modeling", 2024, §3.3).

    L = −[(1 − α) log σ(Δ) + α log σ(−Δ)],   Δ = r(x, y⁺) − r(x, y⁻)

Each label is trusted with probability 1 − α, which bounds how far the loss
pushes Δ (its minimum is at Δ = log((1 − α)/α)) and so softens the effect of
mislabeled pairs. α = 0 is plain BT.
"""

from __future__ import annotations

import torch
from torch.nn.functional import logsigmoid

from rewardlab.models.losses.base import LOSSES, PAIR_PARAMS, Objective, PairBatch


def label_smoothing_loss(batch: PairBatch, alpha: float = 0.1) -> torch.Tensor:
    """Mean −[(1−α) log σ(Δ) + α log σ(−Δ)] per member, shape (K,)."""
    if not 0.0 <= alpha < 0.5:
        raise ValueError(f"label-smoothing alpha must be in [0, 0.5), got {alpha}")
    delta = batch.delta
    return -((1 - alpha) * logsigmoid(delta) + alpha * logsigmoid(-delta)).mean(dim=1)


LOSSES.add("label-smoothing", Objective(label_smoothing_loss, unit_params=PAIR_PARAMS))
