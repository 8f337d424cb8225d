"""Pairwise losses: ``loss(batch, **params) -> per-member loss (K,)``.

A loss sees a :class:`PairBatch` of chosen/rejected rewards for K members
and B pairs and returns one mean loss per member, so members of an ensemble
are trained independently in one backward pass.
"""

from rewardlab.models.losses.base import PairBatch
from rewardlab.models.losses.bradley_terry import bradley_terry_loss
from rewardlab.registry import Registry

LOSSES: Registry = Registry("loss")
LOSSES.add("bt", bradley_terry_loss)

__all__ = ["LOSSES", "PairBatch", "bradley_terry_loss"]
