"""Features of a trajectory's transitions, for the reward models of decision-making agents.

A trajectory reward model sees each step t as a vector

    f_t = [flatten(o_t), enc(a_t), flatten(o_{t+1})]

with ``enc`` the one-hot of a discrete action (``n_actions`` > 0) or the
flattened action of a continuous space; the action part is left out when
``use_actions`` is false (a state classifier) and the next observation is
included only with ``next_observation``. The encoder is inferred from the
training trajectories (a 1-D integer action array is discrete, with
``max + 1`` actions unless given) and saved in the model's config.

:class:`SegmentTable` stacks the features of distinct segments into one
matrix (M, d) with a padded index (S, L_max) of their rows (−1 past a
segment's end), so a minibatch of segment pairs is one gather.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from rewardlab.data.trajectory import Trajectory


@dataclass(frozen=True)
class TransitionEncoder:
    """How (o_t, a_t[, o_{t+1}]) becomes a float32 vector."""

    obs_shape: tuple[int, ...]
    action_shape: tuple[int, ...]
    n_actions: int
    use_actions: bool = True
    next_observation: bool = False

    @classmethod
    def infer(
        cls, trajectories: Sequence[Trajectory], n_actions: int = 0, use_actions: bool = True,
        next_observation: bool = False,
    ) -> TransitionEncoder:
        """The encoder of ``trajectories``' spaces (all must share them)."""
        first = trajectories[0]
        discrete = first.actions.ndim == 1 and first.actions.dtype.kind in "iub"
        if discrete and n_actions <= 0:
            n_actions = int(max(int(t.actions.max()) for t in trajectories)) + 1
        encoder = cls(
            tuple(first.observations.shape[1:]), tuple(first.actions.shape[1:]),
            n_actions if discrete else 0, use_actions, next_observation,
        )
        for trajectory in trajectories:
            encoder.check(trajectory.observations, trajectory.actions,
                          trajectory.next_observations)
        return encoder

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> TransitionEncoder:
        return cls(
            tuple(config["obs_shape"]), tuple(config["action_shape"]), int(config["n_actions"]),
            bool(config["use_actions"]), bool(config["next_observation"]),
        )

    def config(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @property
    def obs_dim(self) -> int:
        return int(np.prod(self.obs_shape, dtype=np.int64))

    @property
    def dim(self) -> int:
        """Feature width: observation, action (one-hot or flattened) and next observation."""
        action = (self.n_actions or int(np.prod(self.action_shape, dtype=np.int64)))
        return self.obs_dim * (2 if self.next_observation else 1) + (
            action if self.use_actions else 0
        )

    def check(
        self, observations: np.ndarray, actions: np.ndarray | None,
        next_observations: np.ndarray | None,
    ) -> None:
        """``ValueError`` naming the field whose shape or values this encoder cannot take."""
        if tuple(observations.shape[1:]) != self.obs_shape:
            raise ValueError(f"field 'observations': expected steps of shape {self.obs_shape}, "
                             f"got {tuple(observations.shape[1:])}")
        if self.next_observation:
            if next_observations is None:
                raise ValueError("field 'next_observations': this reward model needs them")
            if next_observations.shape != observations.shape:
                raise ValueError("field 'next_observations': expected the observations' shape")
        if not self.use_actions:
            return
        if actions is None or len(actions) != len(observations):
            raise ValueError("field 'actions': expected one action per observation")
        if self.n_actions:
            if actions.ndim != 1 or actions.dtype.kind not in "iub":
                raise ValueError(f"field 'actions': expected integer actions, got dtype "
                                 f"{actions.dtype} and shape {actions.shape}")
            if len(actions) and (actions.min() < 0 or actions.max() >= self.n_actions):
                raise ValueError(f"field 'actions': expected actions in [0, {self.n_actions}), "
                                 f"got {int(actions.min())}..{int(actions.max())}")
        elif tuple(actions.shape[1:]) != self.action_shape:
            raise ValueError(f"field 'actions': expected steps of shape {self.action_shape}, "
                             f"got {tuple(actions.shape[1:])}")

    def encode_arrays(
        self, observations: np.ndarray, actions: np.ndarray | None = None,
        next_observations: np.ndarray | None = None,
    ) -> np.ndarray:
        """Features (T, dim) of T transitions given as arrays."""
        observations = np.asarray(observations)
        actions = None if actions is None else np.asarray(actions)
        next_observations = None if next_observations is None else np.asarray(next_observations)
        self.check(observations, actions, next_observations)
        steps = len(observations)
        parts = [observations.reshape(steps, -1).astype(np.float32)]
        if self.use_actions:
            if self.n_actions:
                one_hot = np.zeros((steps, self.n_actions), np.float32)
                one_hot[np.arange(steps), actions.astype(np.int64)] = 1.0
                parts.append(one_hot)
            else:
                parts.append(actions.reshape(steps, -1).astype(np.float32))
        if self.next_observation:
            parts.append(next_observations.reshape(steps, -1).astype(np.float32))
        return np.concatenate(parts, axis=1)

    def encode(self, trajectory: Trajectory) -> np.ndarray:
        """Features (T, dim) of a trajectory's steps."""
        return self.encode_arrays(
            trajectory.observations, trajectory.actions, trajectory.next_observations
        )

    def encode_many(self, trajectories: Sequence[Trajectory]) -> tuple[np.ndarray, np.ndarray]:
        """``(features (ΣT, dim), lengths (n,))`` of several trajectories, concatenated."""
        lengths = np.array([len(t) for t in trajectories], dtype=np.int64)
        if not len(trajectories):
            return np.zeros((0, self.dim), np.float32), lengths
        return np.concatenate([self.encode(t) for t in trajectories]), lengths


def sum_by_length(values: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Per-trajectory sums of per-step values (…, ΣT) cut by ``lengths`` → (…, n)."""
    if not len(lengths):
        return np.zeros((*values.shape[:-1], 0))
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    return np.add.reduceat(values, starts, axis=-1)


class SegmentTable:
    """Distinct segments' features in one matrix and a padded row index.

    ``features`` (M, d) stacks every segment's transitions; ``index`` (S, L)
    holds segment s's rows, −1 after its last step; ``position[id(segment)]``
    is s. Segments are told apart by identity (the same object once).
    """

    def __init__(self, encoder: TransitionEncoder, segments: Sequence[Trajectory]) -> None:
        unique: list[Trajectory] = []
        self.position: dict[int, int] = {}
        for segment in segments:
            if id(segment) not in self.position:
                self.position[id(segment)] = len(unique)
                unique.append(segment)
        self.segments = unique
        self.features, lengths = encoder.encode_many(unique)
        width = int(lengths.max()) if len(lengths) else 1
        self.lengths = lengths
        index = np.full((len(unique), width), -1, dtype=np.int64)
        start = 0
        for s, length in enumerate(lengths):
            index[s, :length] = np.arange(start, start + length)
            start += length
        self.index = torch.from_numpy(index)

    def rows(self, segments: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Row indices (…, L) of segment numbers (…) with −1 clamped to 0, and the mask."""
        rows = self.index[segments]
        return rows.clamp(min=0), rows >= 0
