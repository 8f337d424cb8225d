"""Write the imitation fixtures of ``tests/test_imitation_reader.py`` with the real library.

Run it with a Python that has ``imitation`` (1.0.1 was used for the committed files; it
does not install beside transformers 5, so in a venv of its own)::

    python tests/data/imitation/make_fixture.py OUT_DIR

It rolls out uniformly random actions with imitation's own ``rollout.generate_trajectories``
(a ``RolloutInfoWrapper`` in SB3's ``DummyVecEnv``) on CartPole-v1 limited to 15 steps (so
some episodes are truncated, with ``"TimeLimit.truncated": true`` in their last info) and on
Pendulum-v1 limited to 6 steps (continuous actions), saves each with
``imitation.data.serialize.save`` and writes ``expected.npz``: every field as imitation's
own ``serialize.load`` returns it, to compare the reader with.
"""

import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
from imitation.data import rollout, serialize
from imitation.data.wrappers import RolloutInfoWrapper
from stable_baselines3.common.vec_env import DummyVecEnv


def save(out: Path, name: str, env_id: str, max_steps: int, episodes: int) -> dict:
    def make():
        return RolloutInfoWrapper(gym.make(env_id, max_episode_steps=max_steps))

    venv = DummyVecEnv([make, make])
    venv.seed(0)
    trajectories = rollout.generate_trajectories(
        None, venv, rollout.make_min_episodes(episodes), rng=np.random.default_rng(0)
    )
    serialize.save(out / name, trajectories)
    expected = {}
    for i, t in enumerate(serialize.load(out / name)):
        expected[f"{name}_obs_{i}"] = np.asarray(t.obs)
        expected[f"{name}_acts_{i}"] = np.asarray(t.acts)
        expected[f"{name}_rews_{i}"] = np.asarray(t.rews)
        expected[f"{name}_terminal_{i}"] = np.asarray(t.terminal)
        expected[f"{name}_truncated_{i}"] = np.asarray(
            bool(t.infos[-1].get("TimeLimit.truncated", False))
        )
    expected[f"{name}_count"] = np.asarray(len(trajectories))
    return expected


if __name__ == "__main__":
    target = Path(sys.argv[1])
    target.mkdir(parents=True, exist_ok=True)
    arrays = {**save(target, "cartpole", "CartPole-v1", 15, 6),
              **save(target, "pendulum", "Pendulum-v1", 6, 2)}
    np.savez(target / "expected.npz", **arrays)
