"""Thurstone (probit) loss (Thurstone, 1927, "A law of comparative judgment", Case V;
Mosteller, 1951).

    P(y⁺ ≻ y⁻ | x) = Φ(r(x, y⁺) − r(x, y⁻)),      L = −log Φ(Δ)

Each response's perceived quality is its reward plus independent Gaussian
noise of one common variance (Case V); with that variance ½, the difference
has unit variance and the probability a pair is ordered this way is Φ(Δ).
Against Bradley-Terry's logistic link the probit's tails are thinner: a pair
labelled against a large Δ costs about Δ²/2 instead of Δ, so confidently
wrong pairs weigh more. ``torch.special.log_ndtr`` keeps log Φ finite far in
the tail.
"""

from __future__ import annotations

import torch

from rewardlab.models.losses.base import LOSSES, PAIR_PARAMS, Objective, PairBatch


def thurstone_loss(batch: PairBatch) -> torch.Tensor:
    """Mean −log Φ(Δ) per member, shape (K,)."""
    return -torch.special.log_ndtr(batch.delta).mean(dim=1)


LOSSES.add("thurstone", Objective(thurstone_loss, unit_params=PAIR_PARAMS))
