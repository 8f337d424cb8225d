"""LLM feedback as an intrinsic reward (ONI-style): the MountainCar descriptions, the
labeller's cache and median split, the bonus paid on top of the environment's reward
(r = r_env + β·r̂, by hand), and a tiny run with a stand-in judge and with SmolLM2 (slow)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv

from rewardlab.data.rollouts import EpisodeRecorder
from rewardlab.lab.agent.llm_feedback import (
    LLMFeedbackOptions,
    StateLabeller,
    describe_mountain_car,
    median_labels,
    run_condition,
)
from rewardlab.optimize.gym_reward import SwappableReward
from rewardlab.optimize.sb3_policy import LearnedRewardVecEnv, PolicyLearner

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_mountain_car_descriptions():
    assert describe_mountain_car(np.array([-0.52, 0.001])) == (
        "The car is at position -0.5, at the bottom of the valley, far from the flag, "
        "almost still.")
    assert describe_mountain_car(np.array([0.41, 0.04])) == (
        "The car is at position 0.4, high on the right hill, close to the flag, rolling right "
        "fast.")
    assert describe_mountain_car(np.array([-1.2, -0.01])) == (
        "The car is at position -1.2, at the far left end of the track, far from the flag, "
        "rolling left.")
    assert describe_mountain_car(np.array([0.55, 0.0])).endswith("at the flag, almost still.")


def test_the_labeller_asks_each_description_once_and_splits_at_the_median():
    asked = []

    def ask(goals, texts):
        asked.append(list(texts))
        return np.array([len(t) / 100 for t in texts])

    labeller = StateLabeller(ask, "reach the flag")
    p = labeller.probabilities(["ab", "abcd", "ab"])
    np.testing.assert_allclose(p, [0.02, 0.04, 0.02])
    labeller.probabilities(["abcd", "abc"])
    assert asked == [["ab", "abcd"], ["abc"]] and labeller.calls == 3
    np.testing.assert_array_equal(median_labels(np.array([0.1, 0.4, 0.2, 0.3])), [0, 1, 0, 1])
    np.testing.assert_array_equal(median_labels(np.array([0.5, 0.5])), [0, 0])


class Const:
    def transition_rewards(self, observations, actions=None, next_observations=None):
        return np.asarray(next_observations)[:, 0] * 10.0


def test_the_bonus_is_added_to_the_environments_reward():
    venv = DummyVecEnv([lambda: Monitor(EpisodeRecorder(gym.make("MountainCar-v0")))] * 2)
    venv.seed(0)
    venv = LearnedRewardVecEnv(venv, SwappableReward(Const()), 0.5, 1.0)
    venv.reset()
    for _ in range(5):
        after, rewards, dones, infos = venv.step(np.array([2, 0]))
        # MountainCar pays −1 per step; the bonus is β · 10 · x of the state reached
        np.testing.assert_allclose(rewards, -1.0 + 0.5 * 10.0 * after[:, 0], rtol=1e-5)
        assert [i["true_reward"] for i in infos] == [-1.0, -1.0]


def test_relabelling_refuses_a_bonus_on_the_environments_reward():
    learner = PolicyLearner("Pendulum-v1", "sac", 200, 0, SwappableReward(Const()),
                            reward_weights=(0.5, 1.0), overrides={"learning_starts": 10})
    learner.learn(20)
    with pytest.raises(ValueError, match="relabel needs env_weight 0"):
        learner.relabel()


def position_judge(goals, texts):
    """A stand-in judge: P(Yes) grows with the position written in the description."""
    return np.array([0.5 + float(t.split("position ")[1].split(",")[0]) / 10 for t in texts])


def test_tiny_runs_label_fit_and_report():
    options = LLMFeedbackOptions(steps=2048, iterations=2, random_episodes=2, eval_episodes=2,
                                 classifier={"epochs": 3}, ppo={"n_steps": 32})
    labeller = StateLabeller(position_judge, "reach the flag")
    llm = run_condition(options, "llm", 0, labeller)
    assert [r["iteration"] for r in llm["rounds"]] == [0, 1]
    first = llm["rounds"][0]
    assert first["states"] == 400 and 0 < first["positive"] < first["states"]
    assert labeller.calls == len(labeller.cache) >= first["descriptions"]
    none = run_condition(options, "none", 0, None)
    assert none["rounds"] == [] and none["training_episodes"] == 8  # 8 copies × 200 steps
    for run in (llm, none):
        assert 0.0 <= run["success_rate"] <= 1.0
        assert -1.2 <= run["max_progress"] <= 0.6
        assert run["eval_return"] >= -200.0
