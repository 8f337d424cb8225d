"""Overoptimization in control: the aggregated transition reward (WCO, UWO) and the policy
KL worked out by hand, the learner paid the aggregated reward, and ``rewardlab lab
agent-overopt`` end to end on a tiny budget, its numbers checked against each other."""

from __future__ import annotations

import json
import math

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv
from typer.testing import CliRunner

from rewardlab.cli.main import app
from rewardlab.data.rollouts import EpisodeRecorder, collect_rollouts
from rewardlab.data.segments import BoltzmannOracle, sample_segment_pairs
from rewardlab.lab.agent.overopt import discounted, policy_episodes
from rewardlab.lab.agent.policy_kl import (
    categorical_kl,
    episode_kl,
    frozen_copy,
    gaussian_kl,
    state_kl,
)
from rewardlab.lab.scaling_fit import fit_rl
from rewardlab.models.structured import train_structured
from rewardlab.optimize.aggregated_reward import AggregatedTransitionReward
from rewardlab.optimize.gym_reward import SwappableReward
from rewardlab.optimize.sb3_policy import LearnedRewardVecEnv, PolicyLearner

pytestmark = pytest.mark.usefixtures("one_torch_thread")
runner = CliRunner()

MEMBERS = np.array([[1.0, 2.0, -1.0], [3.0, 0.0, -1.0], [2.0, 4.0, -4.0]])


class FixedMembers:
    """Three members' rewards of three transitions, whatever the transitions."""

    def member_transition_rewards(self, observations, actions=None, next_observations=None):
        return MEMBERS


def test_wco_is_the_members_minimum_and_uwo_mean_minus_lambda_variance_by_hand():
    obs = np.zeros((3, 4))
    wco = AggregatedTransitionReward(FixedMembers(), "wco")
    np.testing.assert_array_equal(wco.transition_rewards(obs), [1.0, 0.0, -4.0])
    # means 2, 2, −2; population variances (1+1+0)/3, (0+4+4)/3, (1+1+4)/3
    uwo = AggregatedTransitionReward(FixedMembers(), "uwo", lam=0.5)
    np.testing.assert_allclose(uwo.transition_rewards(obs), [2 - 1 / 3, 2 - 4 / 3, -2 - 1.0])
    uwo2 = AggregatedTransitionReward(FixedMembers(), "uwo", lam=2.0)
    np.testing.assert_allclose(uwo2.transition_rewards(obs), [2 - 4 / 3, 2 - 16 / 3, -2 - 4.0])
    mean = AggregatedTransitionReward(FixedMembers(), "mean")
    np.testing.assert_allclose(mean.transition_rewards(obs), [2.0, 2.0, -2.0])
    np.testing.assert_array_equal(wco.member_transition_rewards(obs), MEMBERS)


def test_bad_aggregations_fail_when_built():
    with pytest.raises(KeyError, match="did you mean 'uwo'"):
        AggregatedTransitionReward(FixedMembers(), "uwoo")
    with pytest.raises(ValueError, match="lam.: must be >= 0"):
        AggregatedTransitionReward(FixedMembers(), "uwo", lam=-1.0)
    with pytest.raises(TypeError, match="no member_transition_rewards"):
        AggregatedTransitionReward(object(), "min")


@pytest.fixture(scope="module")
def ensemble():
    rng = np.random.default_rng(0)
    pool = collect_rollouts("CartPole-v1", 6, seed=0)
    records = BoltzmannOracle().label_pairs(sample_segment_pairs(pool, 40, 10, rng),
                                            "CartPole-v1", rng)
    return train_structured("trajectory", records, None,
                            {"epochs": 3, "seed": 0, "n_members": 3})


def test_the_policy_learner_is_paid_the_members_minimum(ensemble):
    lists = [[], []]
    venv = DummyVecEnv([lambda i=i: Monitor(EpisodeRecorder(gym.make("CartPole-v1"), lists[i]))
                        for i in range(2)])
    venv.seed(0)
    venv = LearnedRewardVecEnv(venv, SwappableReward(AggregatedTransitionReward(ensemble, "wco")))
    obs = venv.reset()
    for step in range(30):
        actions = np.array([step % 2, (step // 3) % 2])
        after, rewards, dones, infos = venv.step(actions)
        nxt = np.array(after, copy=True)
        for i in np.flatnonzero(dones):
            nxt[i] = infos[i]["terminal_observation"]
        members = ensemble.member_transition_rewards(obs, actions, nxt)
        np.testing.assert_allclose(rewards, members.min(axis=0), rtol=1e-5, atol=1e-6)
        assert np.all(rewards <= ensemble.transition_rewards(obs, actions, nxt) + 1e-6)
        obs = after


def test_kl_formulas_by_hand():
    # p = (¼, ¾), q = (½, ½): ¼ log ½ + ¾ log 1.5
    expected = 0.25 * math.log(0.5) + 0.75 * math.log(1.5)
    assert categorical_kl(np.log([0.25, 0.75]), np.log([0.5, 0.5])) == pytest.approx(expected)
    assert expected == pytest.approx(0.130812, abs=1e-6)
    # N(1, 1) ‖ N(0, 2²): log 2 + (1 + 1)/8 − ½; two dimensions add
    one = math.log(2) + 2 / 8 - 0.5
    assert gaussian_kl([1.0], [1.0], [0.0], [2.0]) == pytest.approx(one)
    assert gaussian_kl([1.0, 0.0], [1.0, 3.0], [0.0, 0.0], [2.0, 3.0]) == pytest.approx(one)
    assert discounted(np.array([1.0, 2.0, 4.0]), 0.5) == pytest.approx(1 + 1 + 1)


def test_policy_kl_of_sb3_policies_matches_the_probabilities():
    learner = PolicyLearner("CartPole-v1", "ppo", 256, seed=0)
    reference = frozen_copy(learner.model.policy)
    obs = np.array(collect_rollouts("CartPole-v1", 1, seed=1)[0].observations)
    np.testing.assert_allclose(state_kl(learner.model.policy, reference, obs), 0.0, atol=1e-12)
    with torch.no_grad():
        learner.model.policy.action_net.weight.add_(0.5)
        learner.model.policy.action_net.bias.add_(torch.tensor([0.3, -0.2]))

    def probs(policy):
        tensor, _ = policy.obs_to_tensor(obs)
        return policy.get_distribution(tensor).distribution.probs.detach().double().numpy()

    p, q = probs(learner.model.policy), probs(reference)
    by_hand = (p * np.log(p / q)).sum(axis=1)
    assert by_hand.min() > 0
    np.testing.assert_allclose(state_kl(learner.model.policy, reference, obs), by_hand,
                               rtol=1e-5)
    assert episode_kl(learner.model.policy, reference, obs) == pytest.approx(by_hand.sum(),
                                                                               rel=1e-5)


def test_pendulum_ppo_kl_is_the_gaussian_formula():
    learner = PolicyLearner("Pendulum-v1", "ppo", 1024, seed=0)
    reference = frozen_copy(learner.model.policy)
    with torch.no_grad():
        learner.model.policy.action_net.bias.add_(0.7)
    obs = np.array(collect_rollouts("Pendulum-v1", 1, seed=2)[0].observations[:20])
    tensor, _ = learner.model.policy.obs_to_tensor(obs)
    p = learner.model.policy.get_distribution(tensor).distribution
    q = reference.get_distribution(tensor).distribution
    mu, sd = p.mean.detach().double().numpy(), p.stddev.detach().double().numpy()
    mu0, sd0 = q.mean.detach().double().numpy(), q.stddev.detach().double().numpy()
    np.testing.assert_allclose(sd, sd0)  # only the mean moved: KL = Δμ² / (2σ²) per dimension
    np.testing.assert_allclose(state_kl(learner.model.policy, reference, obs),
                               ((mu - mu0) ** 2 / (2 * sd0**2)).sum(axis=1), rtol=1e-5)


def test_evaluation_episodes_are_seeded_and_leave_torch_alone():
    learner = PolicyLearner("CartPole-v1", "ppo", 256, seed=0)
    torch.manual_seed(5)
    before = torch.random.get_rng_state()
    first = policy_episodes(learner.model, "CartPole-v1", 3, seed=7)
    assert torch.equal(torch.random.get_rng_state(), before)
    again = policy_episodes(learner.model, "CartPole-v1", 3, seed=7)
    assert len(first) == 3
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a.observations, b.observations)
        assert a.true_return() == len(a)  # CartPole pays 1 per step


TINY = ["--steps", "768", "--checkpoints", "3", "--comparisons", "16", "--random-episodes", "4",
        "--seeds", "1", "--eval-episodes", "2", "--segment-length", "10", "--ensemble", "3"]


def test_tiny_run_writes_consistent_results_and_report(tmp_path):
    out = tmp_path / "overopt"
    result = runner.invoke(app, ["lab", "agent-overopt", "--out", str(out), *TINY])
    assert result.exit_code == 0, result.output
    results = json.loads((out / "results.json").read_text())
    variants = results["variants"]
    assert results["config"]["variants"] == ["single", "mean", "wco", "uwo", "lipschitz"]
    assert set(variants) == set(results["config"]["variants"])
    runs = {r["variant"]: r for r in results["runs"]}
    for name, summary in variants.items():
        checkpoints = runs[name]["checkpoints"]
        gold = [c["gold"] for c in checkpoints]
        assert summary["curve"]["gold"] == pytest.approx(gold)
        assert summary["gold_drop"] == pytest.approx(max(gold) - gold[-1])
        assert checkpoints[0]["kl"] == 0.0 and checkpoints[0]["steps"] == 0
        assert checkpoints[-1]["steps"] >= 768
        fit = fit_rl(summary["curve"]["sqrt_kl"], [g - gold[0] for g in gold]).to_dict()
        assert summary["gold_fit"] == pytest.approx(fit)
    # mean, wco and uwo read one ensemble; at step 0 their policies and episodes are the same,
    # so the gold agrees and the proxies order as min ≤ mean − λ·var ≤ mean
    start = {name: runs[name]["checkpoints"][0] for name in ("mean", "wco", "uwo")}
    assert start["mean"]["gold"] == start["wco"]["gold"] == start["uwo"]["gold"]
    assert start["wco"]["proxy_return"] < start["uwo"]["proxy_return"] < start["mean"]["proxy_return"]
    assert start["mean"]["member_std"] > 0 and runs["single"]["checkpoints"][0]["member_std"] == 0
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 2 + 2 * 5
    for name in ("curves.png", "kl.png", "strip_single_peak.png", "strip_wco_last.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    strip = runs["single"]["strips"]["last"]
    assert strip["steps"][0] == 0 and strip["steps"][-1] == strip["length"] - 1


def test_the_true_control_trains_on_the_environment_reward(tmp_path):
    """``true``'s policy does not depend on the learned reward: its gold at every checkpoint
    is that of a PPO trained directly on CartPole's reward for the same chunks and seed
    (evaluated the same way), whichever pairs the reward learned from; only its proxy,
    read by single's net, changes with them."""
    base = ["--steps", "512", "--checkpoints", "2", "--random-episodes", "4", "--seeds", "1",
            "--seed", "3", "--eval-episodes", "2", "--segment-length", "10", "--variants",
            "single,true"]
    runs = {}
    for comparisons in ("8", "16"):
        out = tmp_path / comparisons
        result = runner.invoke(app, ["lab", "agent-overopt", "--out", str(out), *base,
                                     "--comparisons", comparisons])
        assert result.exit_code == 0, result.output
        runs[comparisons] = {r["variant"]: r["checkpoints"]
                             for r in json.loads((out / "results.json").read_text())["runs"]}
    learner = PolicyLearner("CartPole-v1", "ppo", 512, 3)
    # the KL's reference, built as the lab builds it (it draws initial weights from torch)
    frozen_copy(learner.model.policy)
    direct = []
    for chunk in (0, 256, 256):
        if chunk:
            learner.learn(chunk)
        episodes = policy_episodes(learner.model, "CartPole-v1", 2, 20_000 + 1000 * 3,
                                   deterministic=True)
        direct.append(float(np.mean([e.true_return() for e in episodes])))
    for comparisons in ("8", "16"):
        assert [c["gold"] for c in runs[comparisons]["true"]] == pytest.approx(direct)
    assert runs["8"]["true"][-1]["proxy"] != runs["16"]["true"][-1]["proxy"]
    assert [c["gold"] for c in runs["8"]["single"]] != direct  # the learned reward's policy


@pytest.mark.parametrize(("args", "code", "message"), [
    (["--variants", "wcoo"], 2, "did you mean 'wco'"),
    (["--ensemble", "1"], 2, "--ensemble"),
    (["--grad-penalty", "0"], 1, "grad_penalty must be > 0 for the lipschitz variant"),
    (["--checkpoints", "1000"], 1, "checkpoints must be in [1, steps], got 1000 for 768 steps"),
    (["--algorithm", "sac"], 1, "algorithm 'sac' needs continuous actions"),
    (["--uwo-lam", "nan"], 2, "--uwo-lam"),
])
def test_bad_options_are_one_line_errors(tmp_path, args, code, message):
    result = runner.invoke(app, ["lab", "agent-overopt", "--out", str(tmp_path / "o"), *TINY,
                                 *args])
    assert result.exit_code == code, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "o" / "results.json").exists()


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1", "MountainCar-v0", "Acrobot-v1"])
def test_strips_are_pngs_for_sketched_and_other_environments(env_id):
    from rewardlab.lab.agent.sketch import sketch_of, strip_png

    episode = collect_rollouts(env_id, 1, seed=0)[0]
    index = [0, len(episode) // 2, len(episode) - 1]
    png = strip_png(env_id, index, episode.observations[index].tolist(), "title")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert (sketch_of(env_id) is None) == (env_id == "Acrobot-v1")
