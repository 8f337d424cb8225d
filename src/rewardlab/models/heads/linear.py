"""Linear head: r_k(x) = w_k · x + b_k for each member k."""

from __future__ import annotations

import math

import torch
from torch import nn

from rewardlab.models.heads.base import HEADS


class LinearHead(nn.Module):
    """K independent linear rewards on shared or per-member features."""

    def __init__(self, in_dim: int, n_members: int = 1, dropout: float = 0.0) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(in_dim)
        self.weight = nn.Parameter(torch.empty(n_members, in_dim).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.zeros(n_members))
        self.dropout = nn.Dropout(dropout)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """features (K, B, d), or (B, d) shared by all members, → rewards (K, B).

        Shared features take one (B, d)×(d, K) product instead of K
        matrix-vector products over K copies of the batch.
        """
        x = self.dropout(features)
        if x.dim() == 2:
            return (x @ self.weight.T).T + self.bias[:, None]
        return torch.einsum("kbd,kd->kb", x, self.weight) + self.bias[:, None]

    def l2_penalty(self, free_columns: tuple[int, ...] = ()) -> torch.Tensor:
        """‖w_k‖² per member (K,), without the weights of ``free_columns``."""
        squares = self.weight.square()
        if free_columns:
            squares = squares.clone()
            squares[:, list(free_columns)] = 0
        return squares.sum(dim=1)


HEADS.add("linear", LinearHead)
