"""Multi-attribute regression on ratings (Wang et al., "HelpSteer2: Open-source
dataset for training top-performing reward models", 2024).

The head predicts one value per attribute a (helpfulness, correctness,
coherence, complexity, verbosity, … or any rating column) and is trained
with the mean squared error over responses i and attributes a:

    L = (1 / (N·A)) Σ_i Σ_a (r_a(x_i, y_i) − t_{i,a})²

The scalar reward is a weighted sum r = Σ_a w_a r_a of the outputs of a
:class:`~rewardlab.models.heads.multi_attribute.MultiAttributeHead`.
"""

from __future__ import annotations

import torch

from rewardlab.models.losses.base import LOSSES, Objective, PointBatch


def regression_loss(batch: PointBatch) -> torch.Tensor:
    """Mean squared error over responses and attributes per member, shape (K,)."""
    return ((batch.rewards - batch.target) ** 2).mean(dim=(1, 2))


LOSSES.add("regression", Objective(regression_loss, units="points", outputs="attributes", unit_params=("attributes", "weights") ))
