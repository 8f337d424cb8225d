"""A Gymnasium wrapper that pays a learned reward instead of the environment's.

Any policy learner that trains on a Gymnasium environment (Stable-Baselines3's
PPO and SAC, among others) trains on the learned reward by wrapping the
environment: each ``step`` returns

    r̂_t = reward(o_t, a_t, o_{t+1}),

the model's ``transition_rewards`` of that one transition (for a trajectory
reward model of :mod:`rewardlab.models.structured.trajectory_rm`, the members'
mean normalized step reward), and keeps the environment's own reward in
``info["true_reward"]``. The reward source is a :class:`SwappableReward`
shared by all copies of the environment, so the preference loop replaces the
model between policy updates without rebuilding them.

Needs gymnasium: ``pip install 'rewardlab[agents]'``.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

try:
    import gymnasium as gym
except ImportError as err:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        f"the learned-reward wrapper needs gymnasium: pip install 'rewardlab[agents]' ({err})"
    ) from None

TRUE_REWARD = "true_reward"


class TransitionReward(Protocol):
    """A reward of transitions given as arrays: (T, …) observations, actions and next
    observations → (T,) rewards."""

    def transition_rewards(
        self, observations: np.ndarray, actions: np.ndarray | None = None,
        next_observations: np.ndarray | None = None,
    ) -> np.ndarray: ...


class SwappableReward:
    """The learned reward that every wrapped environment asks; ``model`` may be replaced."""

    def __init__(self, model: TransitionReward | None = None) -> None:
        self.model = model

    def __call__(
        self, observations: np.ndarray, actions: np.ndarray, next_observations: np.ndarray
    ) -> np.ndarray:
        if self.model is None:
            raise RuntimeError("no learned reward yet: set SwappableReward.model first")
        return np.asarray(
            self.model.transition_rewards(observations, actions, next_observations),
            dtype=np.float64,
        )


class LearnedRewardWrapper(gym.Wrapper):
    """``step`` returns the learned reward of the transition; the environment's is in
    ``info["true_reward"]``."""

    def __init__(self, env: gym.Env, reward: SwappableReward) -> None:
        super().__init__(env)
        self.reward = reward
        self._obs: np.ndarray | None = None

    def reset(self, **kwargs: Any) -> tuple[Any, dict]:
        obs, info = self.env.reset(**kwargs)
        self._obs = np.array(obs, copy=True)
        return obs, info

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        if self._obs is None:
            raise RuntimeError("LearnedRewardWrapper: step() before reset()")
        obs, true_reward, terminated, truncated, info = self.env.step(action)
        after = np.array(obs, copy=True)
        learned = self.reward(self._obs[None], np.asarray(action)[None], after[None])
        self._obs = after
        info = dict(info, **{TRUE_REWARD: float(true_reward)})
        return obs, float(learned[0]), terminated, truncated, info
