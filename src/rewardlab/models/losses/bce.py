"""Pointwise binary cross-entropy for success / verifiable-outcome rewards
(success detectors as in RoboFuME, Yang et al., 2023; outcome rewards as in
ARMAP, Chen et al., 2025).

Each response has a 0/1 label y (``ratings[i]["label"]``, or the attribute
named by ``label``); the reward r is a logit:

    L = −[y log σ(r) + (1 − y) log σ(−r)]

so σ(r) estimates the probability of success.
"""

from __future__ import annotations

import torch
from torch.nn.functional import logsigmoid

from rewardlab.models.losses.base import LOSSES, Objective, PointBatch


def bce_loss(batch: PointBatch) -> torch.Tensor:
    """Mean −[y log σ(r) + (1−y) log σ(−r)] per member, shape (K,)."""
    y = batch.target[..., 0]
    r = batch.rewards
    return -(y * logsigmoid(r) + (1 - y) * logsigmoid(-r)).mean(dim=1)


LOSSES.add("bce", Objective(bce_loss, units="points", unit_params=("label",)))
