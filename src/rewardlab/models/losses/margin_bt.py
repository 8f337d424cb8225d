"""Margin Bradley-Terry loss (Wang et al., "HelpSteer2-Preference:
Complementing Ratings with Preferences", 2024, §3; Touvron et al., Llama 2, 2023).

    L = −log σ(r(x, y⁺) − r(x, y⁻) − m)

with m the pair's preference strength (``Comparison.strength``): the chosen
reward must exceed the rejected one by at least about m. Every pair must
carry a strength; plain ``bt`` ignores strengths unless asked (``use_margin``).
"""

from __future__ import annotations

import torch
from torch.nn.functional import logsigmoid

from rewardlab.models.losses.base import LOSSES, PAIR_PARAMS, Objective, PairBatch


def margin_bt_loss(batch: PairBatch) -> torch.Tensor:
    """Mean −log σ(Δ − m) per member, shape (K,)."""
    if batch.margin is None:
        raise ValueError("margin-bt needs a strength m per pair (Comparison.strength)")
    return -logsigmoid(batch.delta - batch.margin).mean(dim=1)


LOSSES.add("margin-bt", Objective(margin_bt_loss, needs_margin=True, unit_params=PAIR_PARAMS))
