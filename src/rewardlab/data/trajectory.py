"""A trajectory of (observation, action) steps as a response, and its modality.

A decision-making agent's "response" to a task (the prompt: an environment id
or a task text) is what it did: a :class:`Trajectory` of T steps, each an
observation o_t, the action a_t taken there, and optionally the reward r_t the
environment paid, whether the episode terminated after the step (``dones``),
the observation reached (``next_observations``) and the step's info mapping.
A segment of an episode (Christiano et al., 2017, "Deep reinforcement learning
from human preferences") is a trajectory too, so a preference between two
segments is an ordinary :class:`~rewardlab.data.record.Comparison` whose
responses are trajectories; ensembles, aggregation, calibration and STARC take
them unchanged.

``dones[t]`` is gymnasium's ``terminated``: the episode reached a terminal
(absorbing) state after step t, so it can only be set on the last step. An
episode cut by a time limit (``truncated``) is not done: the environment could
have gone on, and nothing is known about what would have followed.

The ``"trajectory"`` modality (:mod:`rewardlab.data.modalities.trajectory`) keeps a trajectory as its own
canonical form, digests it from its arrays' dtypes, shapes and bytes (infos
are diagnostics and are not hashed), and reports ``{"steps": T}`` as its
trivial size statistic (the analogue of a text's length).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

ARRAY_FIELDS = ("observations", "actions", "rewards", "dones", "next_observations")
"""The array fields of a trajectory, in the order they are hashed and stored."""


def _frozen(value: Any, name: str) -> np.ndarray:
    """``value`` as a read-only array view with a numeric (or bool) dtype."""
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise ValueError(f"field {name!r}: expected numbers, got dtype {array.dtype}")
    view = array.view()
    view.flags.writeable = False
    return view


@dataclass(frozen=True, eq=False)
class Trajectory:
    """T steps of an agent in an environment (an episode or a segment of one).

    Attributes:
        observations: (T, *obs_shape) observation o_t before each action.
        actions: (T,) integer actions (a discrete space) or (T, *act_shape).
        rewards: (T,) the environment's reward r_t, or None when unknown.
        dones: (T,) bool, True only on a last step after which the episode
            terminated (gymnasium's ``terminated``; a truncation is not done).
        next_observations: (T, *obs_shape) the observation reached by each step.
        infos: one mapping per step (diagnostics; not hashed), or None.

    Equality is identity (arrays have no single truth value); compare
    :func:`trajectory_digest` to compare contents.
    """

    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray | None = None
    dones: np.ndarray | None = None
    next_observations: np.ndarray | None = None
    infos: tuple[Mapping[str, Any], ...] | None = None

    def __post_init__(self) -> None:
        obs = _frozen(self.observations, "observations")
        if obs.ndim < 2 or obs.shape[0] == 0:
            raise ValueError(
                f"field 'observations': expected shape (T, obs_dim) with T >= 1, got {obs.shape}"
            )
        if not np.all(np.isfinite(obs)):
            raise ValueError("field 'observations': contains NaN or infinite values")
        steps = obs.shape[0]
        object.__setattr__(self, "observations", obs)
        for name in ARRAY_FIELDS[1:]:
            value = getattr(self, name)
            if value is None:
                continue
            array = _frozen(value, name)
            expected = {"rewards": (steps,), "dones": (steps,),
                        "next_observations": obs.shape}.get(name)
            if array.shape[:1] != (steps,) or (expected is not None and array.shape != expected):
                want = expected if expected is not None else f"({steps}, ...)"
                raise ValueError(f"field {name!r}: expected shape {want}, got {array.shape}")
            if name != "dones" and not np.all(np.isfinite(array)):
                raise ValueError(f"field {name!r}: contains NaN or infinite values")
            object.__setattr__(self, name, array)
        if self.dones is not None:
            if self.dones.dtype != np.bool_ and not np.isin(self.dones, (0, 1)).all():
                raise ValueError("field 'dones': expected booleans (0 or 1)")
            object.__setattr__(self, "dones", _frozen(self.dones.astype(bool), "dones"))
            if self.dones[:-1].any():
                raise ValueError(
                    "field 'dones': only the last step can end the episode "
                    f"(step {int(np.argmax(self.dones))} of {steps} is done)"
                )
        if self.infos is not None:
            infos = tuple(self.infos)
            if len(infos) != steps or not all(isinstance(i, Mapping) for i in infos):
                raise ValueError(f"field 'infos': expected {steps} mappings, one per step")
            object.__setattr__(self, "infos", infos)

    def __len__(self) -> int:
        return int(self.observations.shape[0])

    @property
    def terminated(self) -> bool:
        """Whether the episode terminated after the last step (an absorbing state follows)."""
        return self.dones is not None and bool(self.dones[-1])

    def true_return(self) -> float:
        """Σ_t r_t of the environment's rewards; ``ValueError`` when they are unknown."""
        if self.rewards is None:
            raise ValueError("field 'rewards': this trajectory has no rewards")
        return float(np.sum(self.rewards, dtype=np.float64))

    def segment(self, start: int, stop: int) -> Trajectory:
        """Steps ``start`` to ``stop − 1``; a segment keeps ``dones`` (the episode's end
        is only in a segment that holds the last step)."""
        if not 0 <= start < stop <= len(self):
            raise ValueError(f"segment [{start}, {stop}) is not within {len(self)} steps")
        return Trajectory(
            self.observations[start:stop],
            self.actions[start:stop],
            None if self.rewards is None else self.rewards[start:stop],
            None if self.dones is None else self.dones[start:stop],
            None if self.next_observations is None else self.next_observations[start:stop],
            None if self.infos is None else self.infos[start:stop],
        )


def trajectory_bytes(trajectory: Trajectory) -> bytes:
    """What identifies a trajectory: a JSON header of each array field's dtype and shape
    (``null`` when absent), then each present array's C-order bytes."""
    header, body = {}, []
    for name in ARRAY_FIELDS:
        value = getattr(trajectory, name)
        if value is None:
            header[name] = None
            continue
        header[name] = [value.dtype.str, list(value.shape)]
        body.append(np.ascontiguousarray(value).tobytes())
    return json.dumps(header, sort_keys=True).encode("utf-8") + b"".join(body)


def trajectory_digest(trajectory: Trajectory) -> str:
    """sha256 hex digest of :func:`trajectory_bytes`."""
    return hashlib.sha256(trajectory_bytes(trajectory)).hexdigest()


def statistics(trajectory: Trajectory) -> Mapping[str, float]:
    """``{"steps": T}``: the trivial size of a trajectory (its length-only baseline)."""
    return {"steps": float(len(trajectory))}


def require_trajectories(responses: Sequence[Any], what: str = "responses") -> list[Trajectory]:
    """``responses`` as a list of trajectories; a ``ValueError`` (bad input, one line at the
    command line) naming the first that is not."""
    for i, response in enumerate(responses):
        if not isinstance(response, Trajectory):
            raise ValueError(
                f"{what}[{i}] is {type(response).__name__}; this reward model scores "
                "trajectories (rewardlab.data.trajectory.Trajectory)"
            )
    return list(responses)
