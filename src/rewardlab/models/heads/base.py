"""The head registry: every head module registers its class here.

A head maps features (K, B, d) to rewards (K, B) for K ensemble members; it is
built as ``HEADS.get(name)(in_dim, n_members, **params)`` and keeps the member
axis first on every parameter and buffer (early stopping and ensembles slice
on it). A head that defines ``l2_penalty(free_columns)`` can be trained with
the cross-validated L2 penalty.
"""

from rewardlab.registry import Registry

HEADS: Registry = Registry("head")
