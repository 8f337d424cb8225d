"""Rao-Kupper tie model: a Bradley-Terry extension with a threshold for ties
(Rao & Kupper, "Ties in paired-comparison experiments: a generalization of the
Bradley-Terry model", JASA 1967).

With strengths π = exp(r) and a threshold θ ≥ 1:

    P(i ≻ j) = π_i / (π_i + θ π_j)                              = σ(Δ − log θ)
    P(j ≻ i) = π_j / (θ π_i + π_j)                              = σ(−Δ − log θ)
    P(tie)   = (θ² − 1) π_i π_j / ((π_i + θ π_j)(θ π_i + π_j))

with Δ = r_i − r_j; the three sum to 1. A preference is observed only when
the reward gap clears log θ, so ties are most likely at Δ = 0, where
P(tie) = (θ − 1)/(θ + 1). θ = 1 is plain Bradley-Terry (no ties). Unlike
Davidson's model, where a tie's probability decays like e^{−|Δ|/2}, here it
decays like e^{−|Δ|}.

θ is learned, one per ensemble member, as θ = 1 + exp(η) so that θ > 1
always; η starts at 0 (θ = 2, P(tie | Δ = 0) = 1/3, as Davidson's ν = 1).
Dividing numerator and denominator by π_i π_j, in log space:

    log P(tie) = log(θ − 1) + log(θ + 1)
                 − logaddexp(Δ/2, log θ − Δ/2) − logaddexp(log θ + Δ/2, −Δ/2).

The loss is the negative log-likelihood of the observed outcome: −log P(y⁺ ≻ y⁻)
for a preference, −log P(tie) for a tie (``Comparison.tie``; the order within
a tie pair does not matter, P(tie) is symmetric in Δ).
"""

from __future__ import annotations

import math

import torch
from torch.nn.functional import logsigmoid, softplus

from rewardlab.models.losses.base import LOSSES, PAIR_PARAMS, Objective, PairBatch


def rao_kupper_log_probs(
    delta: torch.Tensor, log_theta_minus_one: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(log P(i ≻ j), log P(j ≻ i), log P(tie)) for Δ (K, B) and η = log(θ − 1) (K,)."""
    eta = log_theta_minus_one[:, None].expand_as(delta)
    log_theta = softplus(eta)  # log(1 + e^η)
    log_theta_plus_one = torch.logaddexp(eta, torch.full_like(eta, math.log(2.0)))
    half = delta / 2
    log_tie = (
        eta
        + log_theta_plus_one
        - torch.logaddexp(half, log_theta - half)
        - torch.logaddexp(log_theta + half, -half)
    )
    return logsigmoid(delta - log_theta), logsigmoid(-delta - log_theta), log_tie


def rao_kupper_loss(batch: PairBatch, log_theta_minus_one: torch.Tensor) -> torch.Tensor:
    """Mean negative log-likelihood of preferences and ties per member, shape (K,)."""
    win, _, tie = rao_kupper_log_probs(batch.delta, log_theta_minus_one)
    return batch.nll_with_ties(win, tie)


def initial_log_theta_minus_one(n_members: int) -> dict[str, torch.Tensor]:
    """η = log(θ − 1) = 0 (θ = 2) for every member."""
    return {"log_theta_minus_one": torch.zeros(n_members)}


LOSSES.add("rao-kupper", Objective(rao_kupper_loss, units="ties", unit_params=PAIR_PARAMS, learned=initial_log_theta_minus_one ))
