"""Bradley-Terry loss (Bradley & Terry, 1952; Ouyang et al., InstructGPT, 2022).

    L = −log σ(r(x, y⁺) − r(x, y⁻))

Plain BT ignores any preference strength the pairs carry (``Comparison.strength``
or ``strength_from``): a margin changes the model, so it is never applied
silently. ``--loss-params '{"use_margin": true}'`` opts in to the margin form
−log σ(Δ − m) of Touvron et al. (Llama 2, 2023), the same loss as ``margin-bt``
except that pairs without a strength get m = 0 instead of an error. The
centering regularizer of Eisenstein et al. (2023), η·E[(r⁺ + r⁻)²], is added
by the training loop for every loss.
"""

from __future__ import annotations

import torch
from torch.nn.functional import logsigmoid

from rewardlab.models.losses.base import LOSSES, PAIR_PARAMS, Objective, PairBatch


def bradley_terry_loss(batch: PairBatch, use_margin: bool = False) -> torch.Tensor:
    """Mean −log σ(Δ) per member, shape (K,); −log σ(Δ − m) with ``use_margin``."""
    delta = batch.delta
    if use_margin:
        if batch.margin is None:
            raise ValueError(
                "loss param use_margin: the pairs carry no strength (Comparison.strength, "
                "or loss param strength_from=ATTRIBUTE)"
            )
        delta = delta - batch.margin
    return -logsigmoid(delta).mean(dim=1)


LOSSES.add("bt", Objective(bradley_terry_loss, unit_params=PAIR_PARAMS))
