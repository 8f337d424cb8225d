"""Policies trained with Stable-Baselines3 (PPO, SAC) on the true or on a learned reward.

A :class:`PolicyLearner` builds ``n_envs`` copies of a Gymnasium environment,
each wrapped (inside out) in an
:class:`~rewardlab.data.rollouts.EpisodeRecorder` (episodes with the true
rewards, for queries) and SB3's ``Monitor`` (true episode returns, for the
return curve); when a learned reward is given, :class:`LearnedRewardVecEnv`
pays it for all copies in one model call per step (what
:class:`~rewardlab.optimize.gym_reward.LearnedRewardWrapper` does for one
environment, with the same ``info["true_reward"]``). ``learn(steps)`` continues training (the preference loop calls it
once per iteration); ``relabel()`` recomputes the rewards stored in an
off-policy replay buffer with the current learned reward (SAC keeps
transitions for many updates; an on-policy rollout buffer is refilled every
update and needs nothing); ``evaluate`` runs the deterministic policy on the
true reward.

Hyper-parameters are rl-baselines3-zoo's tuned ones where it has the
environment (DLR-RM/rl-baselines3-zoo, ``hyperparams/ppo.yml`` at commit
208b6fd: CartPole-v1, Pendulum-v1; ``hyperparams/sac.yml`` at c94924e:
Pendulum-v1), SB3's defaults otherwise. The zoo's ``lin_X`` schedules
(X·progress remaining) run over the learner's whole ``total_steps``, however
many ``learn`` calls it takes, so a policy trained in chunks follows the same
schedule as one trained in one call.

Needs gymnasium and stable-baselines3: ``pip install 'rewardlab[agents]'``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rewardlab.data.rollouts import EpisodeRecorder
from rewardlab.data.trajectory import Trajectory
from rewardlab.optimize.gym_reward import TRUE_REWARD, SwappableReward

try:
    import gymnasium as gym
    from stable_baselines3 import PPO, SAC
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
    from stable_baselines3.common.vec_env import DummyVecEnv, VecEnvWrapper
except ImportError as err:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        f"policy training needs gymnasium and stable-baselines3: pip install 'rewardlab[agents]' ({err})"
    ) from None

ALGORITHMS = {"ppo": PPO, "sac": SAC}


@dataclass(frozen=True)
class Hyperparameters:
    """``n_envs`` environment copies, the algorithm's keyword arguments, and which of
    them decay linearly to 0 over the run (the zoo's ``lin_X``)."""

    n_envs: int
    kwargs: dict[str, Any] = field(default_factory=dict)
    linear: tuple[str, ...] = ()


ZOO: dict[tuple[str, str], Hyperparameters] = {
    ("ppo", "CartPole-v1"): Hyperparameters(
        8, {"n_steps": 32, "batch_size": 256, "gae_lambda": 0.8, "gamma": 0.98,
            "n_epochs": 20, "ent_coef": 0.0, "learning_rate": 1e-3, "clip_range": 0.2},
        linear=("learning_rate", "clip_range"),
    ),
    ("ppo", "Pendulum-v1"): Hyperparameters(
        4, {"n_steps": 1024, "gae_lambda": 0.95, "gamma": 0.9, "n_epochs": 10,
            "ent_coef": 0.0, "learning_rate": 1e-3, "clip_range": 0.2, "use_sde": True,
            "sde_sample_freq": 4},
    ),
    ("sac", "Pendulum-v1"): Hyperparameters(1, {"learning_rate": 1e-3}),
}
DEFAULT = {"ppo": Hyperparameters(8), "sac": Hyperparameters(1)}
"""SB3's own defaults (8 copies for PPO) for environments the zoo table lacks."""


def hyperparameters(algorithm: str, env_id: str) -> Hyperparameters:
    """The zoo's tuned setting for (algorithm, environment), else SB3's defaults."""
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {algorithm!r} (known: {', '.join(ALGORITHMS)})")
    return ZOO.get((algorithm, env_id), DEFAULT[algorithm])


class LearnedRewardVecEnv(VecEnvWrapper):
    """A VecEnv whose rewards are ``reward(o_t, a_t, o_{t+1})`` of each copy's transition,
    computed in one call; a finished episode's o_{t+1} is its ``terminal_observation``
    (SB3 has already reset that copy). The true rewards go to ``info["true_reward"]``.

    With ``weight`` w and ``env_weight`` w_env the reward paid is
    w·reward(o_t, a_t, o_{t+1}) + w_env·r_t: the defaults (1, 0) replace the
    environment's reward; (β, 1) add the learned one to it as an intrinsic bonus."""

    def __init__(self, venv: Any, reward: SwappableReward, weight: float = 1.0,
                 env_weight: float = 0.0) -> None:
        super().__init__(venv)
        self.reward = reward
        self.weight = float(weight)
        self.env_weight = float(env_weight)
        self._obs: np.ndarray | None = None
        self._actions: np.ndarray | None = None

    def reset(self) -> np.ndarray:
        obs = self.venv.reset()
        self._obs = np.array(obs, copy=True)
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.array(actions, copy=True)
        self.venv.step_async(actions)

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict]]:
        obs, true_rewards, dones, infos = self.venv.step_wait()
        if self._obs is None or self._actions is None:
            raise RuntimeError("LearnedRewardVecEnv: step before reset")
        after = np.array(obs, copy=True)
        for i in np.flatnonzero(dones):
            after[i] = infos[i]["terminal_observation"]
        rewards = self.reward(self._obs, self._actions, after) * self.weight
        if self.env_weight:
            rewards = rewards + self.env_weight * np.asarray(true_rewards, np.float64)
        rewards = rewards.astype(np.float32)
        for info, true_reward in zip(infos, true_rewards, strict=True):
            info[TRUE_REWARD] = float(true_reward)
        self._obs = np.array(obs, copy=True)
        return obs, rewards, dones, infos


class _ReturnCurve(BaseCallback):
    """Appends (timesteps, true episode return) whenever Monitor reports an episode."""

    def __init__(self, curve: list[tuple[int, float]]) -> None:
        super().__init__()
        self.curve = curve

    def _on_step(self) -> bool:
        for info in self.locals.get("infos", ()):
            if "episode" in info:
                self.curve.append((int(self.num_timesteps), float(info["episode"]["r"])))
        return True


class PolicyLearner:
    """An SB3 policy on ``env_id``, learning from the true reward (``reward`` None) or
    from a learned one (``reward_weights``: its weight and the environment reward's,
    :class:`LearnedRewardVecEnv`); finished episodes go to ``episodes``."""

    def __init__(
        self,
        env_id: str,
        algorithm: str = "ppo",
        total_steps: int = 30_000,
        seed: int = 0,
        reward: SwappableReward | None = None,
        episodes: list[Trajectory] | None = None,
        overrides: dict[str, Any] | None = None,
        reward_weights: tuple[float, float] = (1.0, 0.0),
    ) -> None:
        if total_steps < 1:
            raise ValueError(f"total_steps must be at least 1, got {total_steps}")
        self.env_id = env_id
        self.algorithm = algorithm
        self.total_steps = total_steps
        self.reward = reward
        self.reward_weights = reward_weights
        self.episodes: list[Trajectory] = [] if episodes is None else episodes
        self.curve: list[tuple[int, float]] = []
        setting = hyperparameters(algorithm, env_id)
        kwargs = dict(setting.kwargs, **(overrides or {}))
        for name in setting.linear:
            if name in kwargs and not callable(kwargs[name]):
                kwargs[name] = self._linear(float(kwargs[name]))
        self.model: Any = None
        venv = DummyVecEnv([self._make_env] * setting.n_envs)
        venv.seed(seed)
        if reward is not None:
            venv = LearnedRewardVecEnv(venv, reward, *reward_weights)
        self.model = ALGORITHMS[algorithm]("MlpPolicy", venv, seed=seed, device="cpu",
                                           verbose=0, **kwargs)

    def _linear(self, start: float) -> Callable[[float], float]:
        """X · (1 − steps done / total_steps), whatever the learn call."""

        def value(_progress_remaining: float) -> float:
            done = 0 if self.model is None else self.model.num_timesteps
            return start * max(1.0 - done / self.total_steps, 0.0)

        return value

    def _make_env(self) -> gym.Env:
        return Monitor(EpisodeRecorder(gym.make(self.env_id), self.episodes))

    @property
    def steps_done(self) -> int:
        return int(self.model.num_timesteps)

    def learn(self, steps: int) -> None:
        """Train for ``steps`` more environment steps (at least one rollout for PPO)."""
        self.model.learn(steps, reset_num_timesteps=False, callback=_ReturnCurve(self.curve))

    def relabel(self) -> int:
        """Recompute an off-policy replay buffer's rewards with the current learned reward;
        the number of transitions relabelled (0 for PPO or the true reward)."""
        if self.reward is None or not isinstance(self.model, OffPolicyAlgorithm):
            return 0
        if self.reward_weights[1]:
            raise ValueError("a replay buffer keeps no environment rewards to add to the "
                             "relabelled ones: relabel needs env_weight 0")
        buffer = self.model.replay_buffer
        n = buffer.buffer_size if buffer.full else buffer.pos
        if n == 0:
            return 0
        obs = buffer.observations[:n]
        actions = buffer.actions[:n]
        if isinstance(self.model.action_space, gym.spaces.Box):
            actions = self.model.policy.unscale_action(actions)
        flat = obs.shape[0] * obs.shape[1]
        rewards = self.reward(obs.reshape(flat, *obs.shape[2:]),
                              actions.reshape(flat, *actions.shape[2:]),
                              buffer.next_observations[:n].reshape(flat, *obs.shape[2:]))
        buffer.rewards[:n] = rewards.reshape(obs.shape[:2]).astype(np.float32)
        return flat

    def evaluate(self, n_episodes: int, seed: int) -> np.ndarray:
        """True returns of ``n_episodes`` episodes of the deterministic policy, episode i
        reset with seed ``seed + i``."""
        env = gym.make(self.env_id)
        returns = []
        for i in range(n_episodes):
            obs, _ = env.reset(seed=seed + i)
            total, done = 0.0, False
            while not done:
                action, _ = self.model.predict(obs, deterministic=True)
                obs, reward, terminated, truncated, _ = env.step(action)
                total += float(reward)
                done = terminated or truncated
            returns.append(total)
        env.close()
        return np.asarray(returns, dtype=np.float64)
