"""Per-feature standardization of frozen backbone features, saved with every model."""

from __future__ import annotations

import numpy as np
import torch


class Normalizer(torch.nn.Module):
    """Per-feature standardization fitted on training features.

    x̂ = (x − μ) / max(σ, σ̄) where σ̄ is the mean per-feature std: the floor
    keeps nearly-constant features (rare hashed n-grams) from being blown up.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("scale", torch.ones(dim))

    def fit(self, features: np.ndarray) -> Normalizer:
        x = torch.from_numpy(features).float()
        std = x.std(dim=0)
        self.mean.copy_(x.mean(dim=0))
        self.scale.copy_(torch.maximum(std, std.mean().clamp(min=1e-8)))
        return self

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return (features - self.mean) / self.scale

    def transform(self, features: np.ndarray) -> torch.Tensor:
        """x̂ of backbone features (n, d) given as an array: float32, no autograd graph."""
        with torch.no_grad():
            return self(torch.from_numpy(np.asarray(features, np.float32)))
