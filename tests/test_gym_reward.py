"""The learned reward inside Gymnasium and Stable-Baselines3: the wrapper's reward of every
transition equals the model's score of the same transitions; SAC's replay buffer is
relabelled with the current model; the zoo's linear schedules span the whole run."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv

from rewardlab.data.rollouts import EpisodeRecorder, collect_rollouts
from rewardlab.data.segments import BoltzmannOracle, sample_segment_pairs
from rewardlab.models.structured import train_structured
from rewardlab.optimize.gym_reward import TRUE_REWARD, LearnedRewardWrapper, SwappableReward
from rewardlab.optimize.sb3_policy import LearnedRewardVecEnv, PolicyLearner

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def reward_model(env_id: str, seed: int = 0, episodes: int = 4, length: int = 10):
    rng = np.random.default_rng(seed)
    pool = collect_rollouts(env_id, episodes, seed=seed)
    records = BoltzmannOracle().label_pairs(sample_segment_pairs(pool, 40, length, rng), env_id,
                                            rng)
    return train_structured("trajectory", records, None, {"epochs": 3, "seed": seed})


@pytest.fixture(scope="module")
def cartpole_model():
    return reward_model("CartPole-v1")


def test_the_wrapper_pays_the_models_reward_of_each_transition(cartpole_model):
    recorder = EpisodeRecorder(gym.make("CartPole-v1"))
    env = LearnedRewardWrapper(recorder, SwappableReward(cartpole_model))
    env.action_space.seed(3)
    rewards, done = [], False
    env.reset(seed=3)
    while not done:
        _, reward, terminated, truncated, info = env.step(env.action_space.sample())
        assert info[TRUE_REWARD] == 1.0
        rewards.append(reward)
        done = terminated or truncated
    (episode,) = recorder.episodes
    assert episode.terminated and len(episode) == len(rewards)
    # float32 products of a batch of 1 and of the whole episode differ in the last bits
    np.testing.assert_allclose(rewards, cartpole_model.transition_rewards(
        episode.observations, episode.actions, episode.next_observations), rtol=1e-5, atol=1e-6)
    assert sum(rewards) == pytest.approx(cartpole_model.score(["CartPole-v1"], [episode])[0],
                                         rel=1e-5)


def test_the_vec_env_pays_the_same_rewards_across_resets(cartpole_model):
    lists = [[], []]
    venv = DummyVecEnv([lambda i=i: Monitor(EpisodeRecorder(gym.make("CartPole-v1"), lists[i]))
                        for i in range(2)])
    venv.seed(0)
    venv = LearnedRewardVecEnv(venv, SwappableReward(cartpole_model))
    venv.reset()
    streams, rng = [[], []], np.random.default_rng(0)
    for _ in range(120):
        _, rewards, dones, infos = venv.step(rng.integers(0, 2, size=2))
        for i in range(2):
            streams[i].append(rewards[i])
            assert infos[i][TRUE_REWARD] == 1.0
    for i in range(2):
        assert lists[i], "every copy finished an episode"
        start = 0
        for episode in lists[i]:  # finished episodes, in order; the last step used
            expected = cartpole_model.transition_rewards(   # the terminal observation
                episode.observations, episode.actions, episode.next_observations)
            np.testing.assert_allclose(streams[i][start:start + len(episode)], expected,
                                       rtol=1e-5, atol=1e-6)
            start += len(episode)


def test_sac_replay_buffer_is_relabelled_with_the_current_reward():
    first, second = reward_model("Pendulum-v1", 0, 2), reward_model("Pendulum-v1", 1, 2)
    reward = SwappableReward(first)
    learner = PolicyLearner("Pendulum-v1", "sac", total_steps=400, seed=0, reward=reward,
                            overrides={"learning_starts": 1000, "buffer_size": 1000})
    learner.learn(150)
    buffer = learner.model.replay_buffer
    obs, nxt = buffer.observations[:150, 0], buffer.next_observations[:150, 0]
    actions = learner.model.policy.unscale_action(buffer.actions[:150, 0])  # env actions
    stored = buffer.rewards[:150, 0].copy()
    np.testing.assert_allclose(stored, first.transition_rewards(obs, actions, nxt), rtol=1e-5,
                               atol=1e-6)
    reward.model = second
    assert learner.relabel() == 150
    np.testing.assert_allclose(buffer.rewards[:150, 0],
                               second.transition_rewards(obs, actions, nxt), rtol=1e-5,
                               atol=1e-6)
    assert not np.allclose(buffer.rewards[:150, 0], stored)


def test_linear_schedules_run_over_the_whole_budget_in_chunks():
    learner = PolicyLearner("CartPole-v1", "ppo", total_steps=1024, seed=0)
    learner.learn(256)
    learner.learn(256)
    assert learner.steps_done == 512
    # the zoo's lin_1e-3: 1e-3 × (1 − steps done / total), whatever the learn call
    assert learner.model.lr_schedule(1.0) == pytest.approx(1e-3 * 0.5)
    assert learner.model.clip_range(1.0) == pytest.approx(0.2 * 0.5)
    returns = learner.evaluate(2, seed=0)
    assert returns.shape == (2,) and np.all(returns >= 1)
