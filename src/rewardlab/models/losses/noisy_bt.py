"""Bradley-Terry with a share of random labels, ties as half preferences
(Christiano et al., "Deep reinforcement learning from human preferences", 2017, §2.2.3).

The labeller is assumed to answer uniformly at random with probability ε
(the paper takes ε = 0.1), so the modelled preference probability is

    P̂(y⁺ ≻ y⁻) = ε/2 + (1 − ε)·σ(Δ),   Δ = r(x, y⁺) − r(x, y⁻),

and the loss is the cross-entropy with the label distribution μ: a
preference has μ = (1, 0), a tie (``Comparison.tie``, "equally preferable")
μ = (½, ½):

    L = −log P̂(y⁺ ≻ y⁻)                          (a preference)
    L = −½ [log P̂(y⁺ ≻ y⁻) + log P̂(y⁻ ≻ y⁺)]     (a tie)

with log P̂ = logaddexp(log(ε/2), log(1 − ε) + log σ(Δ)). ε = 0 is plain BT
on the preferences. For trajectory segments, r is the segment's summed reward
Σ_t r̂(o_t, a_t), as in the paper.
"""

from __future__ import annotations

import math

import torch
from torch.nn.functional import logsigmoid

from rewardlab.models.losses.base import LOSSES, PAIR_PARAMS, Objective, PairBatch


def noisy_log_prob(delta: torch.Tensor, eps: float) -> torch.Tensor:
    """log(ε/2 + (1 − ε)·σ(Δ)), computed in log space."""
    if not 0.0 <= eps < 1.0:
        raise ValueError(f"noisy-bt eps must be in [0, 1), got {eps}")
    if eps == 0.0:
        return logsigmoid(delta)
    return torch.logaddexp(
        torch.full_like(delta, math.log(eps / 2)), math.log(1 - eps) + logsigmoid(delta)
    )


def noisy_bt_loss(batch: PairBatch, eps: float = 0.1) -> torch.Tensor:
    """Mean cross-entropy per member, shape (K,): −log P̂ on preferences, the mean of
    both orders' −log P̂ on ties."""
    win = noisy_log_prob(batch.delta, eps)
    tie = 0.5 * (win + noisy_log_prob(-batch.delta, eps))
    return batch.nll_with_ties(win, tie)


LOSSES.add("noisy-bt", Objective(noisy_bt_loss, units="ties", unit_params=PAIR_PARAMS))
