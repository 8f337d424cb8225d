"""Reward heads: modules mapping features (K, B, d) to rewards (K, B).

Every head is batched over K ensemble members (K = 1 for a single model), so
an ensemble's heads train together in one forward/backward pass. A head is
built as ``HEADS.get(name)(in_dim, n_members, **params)``; every
parameter and buffer has the member axis first (early stopping and ensembles
slice on it).
"""

from rewardlab.models.heads.linear import LinearHead
from rewardlab.models.heads.mlp import MLPHead
from rewardlab.registry import Registry

HEADS: Registry = Registry("head")
HEADS.add("linear", LinearHead)
HEADS.add("mlp", MLPHead)

__all__ = ["HEADS", "LinearHead", "MLPHead"]
