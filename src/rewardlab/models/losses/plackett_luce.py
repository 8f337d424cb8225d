"""Plackett-Luce loss for k-wise rankings (Plackett, "The analysis of
permutations", 1975; Luce, "Individual Choice Behavior", 1959; used for reward
models by Zhu et al., "Principled RLHF from pairwise or k-wise comparisons", 2023).

For a ranking σ of k responses (σ(1) best), the likelihood chooses the best
of the remaining responses at each step:

    L = −Σ_{i=1}^{n} log( exp(r_σ(i)) / Σ_{j ≥ i} exp(r_σ(j)) )

A partial (top-n) ranking ranks only its first n responses; the unranked ones
stay in every denominator (they are worse than all ranked ones, order
unknown). For k = 2 the single term is −log σ(r⁺ − r⁻): exactly BT. Rankings
of different lengths share a batch through a mask over padded positions.
"""

from __future__ import annotations

import torch

from rewardlab.models.losses.base import LOSSES, Objective, RankingBatch

PAD = -1e9  # reward put at padded positions: exp(PAD − r) underflows to 0


def plackett_luce_terms(batch: RankingBatch) -> torch.Tensor:
    """log-probability of each step's choice, (K, B, k); 0 after the ranked prefix."""
    rewards = batch.rewards.masked_fill(~batch.mask, PAD)
    # suffix log-sum-exp: position i holds log Σ_{j ≥ i} exp(r_j)
    suffix = torch.logcumsumexp(rewards.flip(-1), dim=-1).flip(-1)
    position = torch.arange(rewards.shape[-1], device=rewards.device)
    ranked = (position < batch.n_ranked[..., None]) & batch.mask
    return torch.where(ranked, rewards - suffix, torch.zeros_like(rewards))


def plackett_luce_loss(batch: RankingBatch) -> torch.Tensor:
    """Mean over rankings of −Σ_i log P(choice i), per member, shape (K,)."""
    return -plackett_luce_terms(batch).sum(dim=-1).mean(dim=1)


LOSSES.add("plackett-luce", Objective(plackett_luce_loss, units="rankings"))
