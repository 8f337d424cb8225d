"""Multi-attribute head: one base head per rated attribute, reward r = Σ_a w_a r_a.

Wang et al., "HelpSteer2: Open-source dataset for training top-performing
reward models", 2024. Default weights: for HelpSteer2's five attributes the
ones NVIDIA recommends for Nemotron-4-340B-Reward (model card,
huggingface.co/nvidia/Nemotron-4-340B-Reward): helpfulness 0.3, correctness
0.74, coherence 0.46, complexity 0.47, verbosity −0.33; for any other
attribute set, equal weights 1/A (the mean).

:class:`MultiAttributeHead` holds one base head (linear, mlp, …) of K members
per attribute, so every parameter keeps the member axis first; ``forward``
gives the scalar reward (K, B) like any head, ``attribute_rewards`` (K, B, A).
``rewardlab.models.losses.regression`` trains it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from rewardlab.models.heads.base import HEADS

HELPSTEER2_WEIGHTS = {
    "helpfulness": 0.3,
    "correctness": 0.74,
    "coherence": 0.46,
    "complexity": 0.47,
    "verbosity": -0.33,
}


def attribute_weights(
    attributes: Sequence[str], weights: Mapping[str, float] | Sequence[float] | None = None
) -> tuple[float, ...]:
    """w_a per attribute: given (by name or in order), HelpSteer2's, or 1/A."""
    attributes = tuple(attributes)
    if not attributes:
        raise ValueError("regression needs at least one attribute")
    if weights is None:
        if set(attributes) <= set(HELPSTEER2_WEIGHTS):
            return tuple(HELPSTEER2_WEIGHTS[a] for a in attributes)
        return tuple(1.0 / len(attributes) for _ in attributes)
    if isinstance(weights, Mapping):
        missing = [a for a in attributes if a not in weights]
        if missing:
            raise ValueError(f"field 'weights': no weight for attribute(s) {missing}")
        return tuple(float(weights[a]) for a in attributes)
    if len(weights) != len(attributes):
        raise ValueError(
            f"field 'weights': {len(weights)} weights for {len(attributes)} attributes"
        )
    return tuple(float(w) for w in weights)


class MultiAttributeHead(nn.Module):
    """One base head per attribute; reward = Σ_a w_a r_a."""

    def __init__(
        self,
        in_dim: int,
        n_members: int = 1,
        attributes: Sequence[str] = ("rating",),
        weights: Mapping[str, float] | Sequence[float] | None = None,
        base: str = "linear",
        base_params: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.attributes = tuple(attributes)
        self.weights = attribute_weights(self.attributes, weights)
        self.base, self.base_params = base, dict(base_params or {})
        self.heads = nn.ModuleList(
            HEADS.get(base)(in_dim, n_members, **self.base_params) for _ in self.attributes
        )

    def params(self) -> dict[str, Any]:
        """Constructor options (besides in_dim, n_members), for the saved config."""
        return {
            "attributes": list(self.attributes),
            "weights": list(self.weights),
            "base": self.base,
            "base_params": self.base_params,
        }

    def attribute_rewards(self, features: torch.Tensor) -> torch.Tensor:
        """features (K, B, d) → per-attribute outputs (K, B, A)."""
        return torch.stack([head(features) for head in self.heads], dim=-1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """features (K, B, d) → scalar rewards Σ_a w_a r_a, (K, B)."""
        weights = torch.tensor(self.weights, dtype=features.dtype)
        return self.attribute_rewards(features) @ weights


HEADS.add("multi-attribute", MultiAttributeHead)
