"""Rollouts from Gymnasium environments, recorded as trajectories.

:class:`EpisodeRecorder` wraps an environment and appends every episode that
ends (terminated or truncated) to a list as a
:class:`~rewardlab.data.trajectory.Trajectory` with the environment's own
rewards, ``dones`` set on the last step only when it terminated, and the next
observations; an episode left unfinished by a ``reset`` is dropped. Put it
under any wrapper that changes the reward (a learned reward, Stable-Baselines3's
VecEnv) to record the true one. :func:`collect_rollouts` runs a policy, or
uniformly random actions, for some episodes.

Needs gymnasium: ``pip install 'rewardlab[agents]'``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from rewardlab.data.trajectory import Trajectory

try:
    import gymnasium as gym
except ImportError as err:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        f"rollouts need gymnasium: pip install 'rewardlab[agents]' ({err})"
    ) from None

Policy = Callable[[np.ndarray], Any]
"""An observation → an action."""


class EpisodeRecorder(gym.Wrapper):
    """Records each finished episode as a :class:`Trajectory` in ``episodes``."""

    def __init__(self, env: gym.Env, episodes: list[Trajectory] | None = None) -> None:
        super().__init__(env)
        self.episodes: list[Trajectory] = [] if episodes is None else episodes
        self._steps: list[tuple[np.ndarray, Any, float, np.ndarray]] = []
        self._obs: np.ndarray | None = None

    def reset(self, **kwargs: Any) -> tuple[Any, dict]:
        obs, info = self.env.reset(**kwargs)
        self._steps = []
        self._obs = np.array(obs, copy=True)
        return obs, info

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        if self._obs is None:
            raise RuntimeError("EpisodeRecorder: step() before reset()")
        after = np.array(obs, copy=True)
        self._steps.append((self._obs, np.array(action, copy=True), float(reward), after))
        self._obs = after
        if terminated or truncated:
            self.episodes.append(self._finish(bool(terminated)))
        return obs, reward, terminated, truncated, info

    def _finish(self, terminated: bool) -> Trajectory:
        obs, actions, rewards, after = zip(*self._steps, strict=True)
        dones = np.zeros(len(obs), dtype=bool)
        dones[-1] = terminated
        self._steps = []
        return Trajectory(np.stack(obs), np.stack(actions), np.asarray(rewards, np.float64),
                          dones, np.stack(after))


def collect_rollouts(
    env: gym.Env | str, n_episodes: int, policy: Policy | None = None, seed: int = 0
) -> list[Trajectory]:
    """``n_episodes`` episodes of ``policy`` (uniformly random actions when None) in
    ``env`` (an environment or a registered id); episode i is reset with seed
    ``seed + i`` (random actions drawn from the action space seeded with ``seed``)."""
    if n_episodes < 1:
        raise ValueError(f"n_episodes must be at least 1, got {n_episodes}")
    if isinstance(env, str):
        env = gym.make(env)
    recorder = EpisodeRecorder(env)
    env.action_space.seed(seed)
    for i in range(n_episodes):
        obs, _ = recorder.reset(seed=seed + i)
        done = False
        while not done:
            action = env.action_space.sample() if policy is None else policy(obs)
            obs, _, terminated, truncated, _ = recorder.step(action)
            done = terminated or truncated
    return recorder.episodes
