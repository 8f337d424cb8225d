"""Adaptive-margin loss (Wang et al., "Secrets of RLHF in Large Language
Models Part II: Reward Modeling", 2024, §3.2).

    L = −log σ(r(x, y⁺) − r(x, y⁻) − μ̂)

where μ̂ is the pair's preference strength measured by an ensemble of reward
models, μ̂ = (1/K) Σ_k [r_k(x, y⁺) − r_k(x, y⁻)] (``rewardlab.robust.strength``;
``rewardlab data strength --margins`` writes it as each row's ``strength``).
Confidently separable pairs must keep a wide gap; ambiguous ones (μ̂ ≈ 0) a
small one; suspected mislabels (μ̂ < 0) are pushed less hard.
"""

from __future__ import annotations

import torch
from torch.nn.functional import logsigmoid

from rewardlab.models.losses.base import LOSSES, PAIR_PARAMS, Objective, PairBatch


def adaptive_margin_loss(batch: PairBatch, scale: float = 1.0) -> torch.Tensor:
    """Mean −log σ(Δ − scale·μ̂) per member, shape (K,)."""
    if batch.margin is None:
        raise ValueError(
            "adaptive-margin needs μ̂ per pair in 'strength' "
            "(write it with `rewardlab data strength --margins`)"
        )
    return -logsigmoid(batch.delta - scale * batch.margin).mean(dim=1)


LOSSES.add("adaptive-margin", Objective(adaptive_margin_loss, needs_margin=True, unit_params=PAIR_PARAMS))
