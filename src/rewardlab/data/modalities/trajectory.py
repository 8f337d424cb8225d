"""The trajectory modality: (observation, action) steps (:mod:`rewardlab.data.trajectory`)."""

from __future__ import annotations

from rewardlab.data.modality import Modality, register_modality
from rewardlab.data.trajectory import Trajectory, statistics, trajectory_bytes

TRAJECTORY = register_modality(
    Modality(
        name="trajectory",
        accepts=lambda value: isinstance(value, Trajectory),
        decode=lambda value: value,
        digest=trajectory_bytes,
        statistics=statistics,
    )
)
