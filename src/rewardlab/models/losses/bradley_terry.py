"""Bradley-Terry loss (Bradley & Terry, 1952; Ouyang et al., InstructGPT, 2022).

    L = −log σ(r(x, y⁺) − r(x, y⁻) − m)

with an optional per-pair margin m (Touvron et al., Llama 2, 2023), 0 when the
batch has none. The centering regularizer of Eisenstein et al. (2023),
η·E[(r⁺ + r⁻)²], is added by the training loop for every loss.
"""

from __future__ import annotations

import torch
from torch.nn.functional import logsigmoid

from rewardlab.models.losses.base import PairBatch


def bradley_terry_loss(batch: PairBatch, use_margin: bool = True) -> torch.Tensor:
    """Mean −log σ(Δ − m) per member, shape (K,)."""
    delta = batch.delta
    if use_margin and batch.margin is not None:
        delta = delta - batch.margin
    return -logsigmoid(delta).mean(dim=1)
