"""The batch every pairwise loss receives."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class PairBatch:
    """Rewards (K, B) of chosen and rejected responses and per-pair margins (K, B)."""

    chosen: torch.Tensor
    rejected: torch.Tensor
    margin: torch.Tensor | None = None

    @property
    def delta(self) -> torch.Tensor:
        """Δ = r(x, y⁺) − r(x, y⁻), shape (K, B)."""
        return self.chosen - self.rejected
