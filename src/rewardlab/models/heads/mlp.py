"""MLP head: r_k(x) = w2_k · GELU(W1_k x + b1_k) + b2_k for each member k.

Dropout before each layer also serves MC-dropout uncertainty (Gal &
Ghahramani, 2016; used for reward models in UP-RLHF / UPO).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from rewardlab.models.heads.base import HEADS


class MLPHead(nn.Module):
    """K independent one-hidden-layer MLP rewards."""

    def __init__(
        self, in_dim: int, n_members: int = 1, hidden: int = 256, dropout: float = 0.1
    ) -> None:
        super().__init__()
        b1, b2 = 1.0 / math.sqrt(in_dim), 1.0 / math.sqrt(hidden)
        self.w1 = nn.Parameter(torch.empty(n_members, in_dim, hidden).uniform_(-b1, b1))
        self.b1 = nn.Parameter(torch.zeros(n_members, hidden))
        self.w2 = nn.Parameter(torch.empty(n_members, hidden).uniform_(-b2, b2))
        self.b2 = nn.Parameter(torch.zeros(n_members))
        self.dropout = nn.Dropout(dropout)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """features (K, B, d), or (B, d) shared by all members, → rewards (K, B)."""
        x = self.dropout(features)
        if x.dim() == 2:
            k, d, h = self.w1.shape
            first = (x @ self.w1.permute(1, 0, 2).reshape(d, k * h)).reshape(-1, k, h)
            first = first.transpose(0, 1)
        else:
            first = torch.bmm(x, self.w1)
        hidden = torch.nn.functional.gelu(first + self.b1[:, None, :])
        return torch.einsum("kbh,kh->kb", self.dropout(hidden), self.w2) + self.b2[:, None]

    def l2_penalty(self, free_columns: tuple[int, ...] = ()) -> torch.Tensor:
        """‖W1_k‖² + ‖w2_k‖² per member (K,), without W1's rows of ``free_columns``."""
        squares = self.w1.square()
        if free_columns:
            squares = squares.clone()
            squares[:, list(free_columns), :] = 0
        return squares.sum(dim=(1, 2)) + self.w2.square().sum(dim=1)


HEADS.add("mlp", MLPHead)
