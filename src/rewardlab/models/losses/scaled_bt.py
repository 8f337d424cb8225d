"""Scaled Bradley-Terry loss (Wang et al., "HelpSteer2-Preference:
Complementing Ratings with Preferences", 2024, §3).

    L = −m · log σ(r(x, y⁺) − r(x, y⁻))

where m > 0 is the pair's preference strength (``Comparison.strength``, e.g.
HelpSteer2's preference magnitude 1–3, or |judge gap| from ratings with
``strength_from``): strongly preferred pairs weigh more, as if repeated m times.
"""

from __future__ import annotations

import torch
from torch.nn.functional import logsigmoid

from rewardlab.models.losses.base import LOSSES, PAIR_PARAMS, Objective, PairBatch


def scaled_bt_loss(batch: PairBatch) -> torch.Tensor:
    """Mean −m·log σ(Δ) per member, shape (K,)."""
    if batch.margin is None:
        raise ValueError("scaled-bt needs a strength m per pair (Comparison.strength)")
    return -(batch.margin * logsigmoid(batch.delta)).mean(dim=1)


LOSSES.add("scaled-bt", Objective(scaled_bt_loss, needs_margin=True, unit_params=PAIR_PARAMS))
