"""Davidson's tie model: a Bradley-Terry extension that learns from ties
(Davidson, "On extending the Bradley-Terry model to accommodate ties in paired
comparison experiments", JASA 1970).

With strengths π = exp(r) and tie propensity ν = exp(θ) (θ learned, one per
ensemble member, initialized at 0 so ν = 1):

    P(i ≻ j) = π_i / (π_i + π_j + ν √(π_i π_j))
    P(tie)   = ν √(π_i π_j) / (π_i + π_j + ν √(π_i π_j))

Dividing by √(π_i π_j), with Δ = r_i − r_j and Z = logsumexp(Δ/2, −Δ/2, θ):

    log P(i ≻ j) = Δ/2 − Z,   log P(j ≻ i) = −Δ/2 − Z,   log P(tie) = θ − Z,

and the three sum to 1. The loss is the negative log-likelihood of the
observed outcome: −log P(y⁺ ≻ y⁻) for a preference, −log P(tie) for a tie
(``Comparison.tie``; the order within a tie pair does not matter).
"""

from __future__ import annotations

import torch

from rewardlab.models.losses.base import LOSSES, PAIR_PARAMS, Objective, PairBatch


def davidson_log_probs(
    delta: torch.Tensor, log_nu: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(log P(i ≻ j), log P(j ≻ i), log P(tie)) for Δ (K, B) and θ = log ν (K,)."""
    theta = log_nu[:, None].expand_as(delta)
    z = torch.logsumexp(torch.stack([delta / 2, -delta / 2, theta]), dim=0)
    return delta / 2 - z, -delta / 2 - z, theta - z


def davidson_loss(batch: PairBatch, log_nu: torch.Tensor) -> torch.Tensor:
    """Mean negative log-likelihood of preferences and ties per member, shape (K,)."""
    win, _, tie = davidson_log_probs(batch.delta, log_nu)
    return batch.nll_with_ties(win, tie)


def initial_log_nu(n_members: int) -> dict[str, torch.Tensor]:
    """θ = log ν = 0 for every member."""
    return {"log_nu": torch.zeros(n_members)}


LOSSES.add("davidson", Objective(davidson_loss, units="ties", unit_params=PAIR_PARAMS, learned=initial_log_nu))
