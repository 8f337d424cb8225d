"""The trajectory reward ensemble and the success classifier: the segment loss and the
gradient penalty by hand, the absorbing-state anchor and the normalization, and the
ensemble tools (aggregation, calibration, STARC, loading) on trajectory responses."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from rewardlab.data.record import Comparison
from rewardlab.data.trajectory import Trajectory
from rewardlab.evaluate.calibration import pair_calibration
from rewardlab.evaluate.starc import starc_between, starc_distance
from rewardlab.load import load_reward_model
from rewardlab.models.heads import HEADS
from rewardlab.models.losses import LOSSES
from rewardlab.models.normalizer import Normalizer
from rewardlab.models.structured import STRUCTURED, train_structured
from rewardlab.models.structured.success import labelled_states
from rewardlab.models.structured.trajectory_rm import (
    RewardNet,
    SegmentPairLoss,
    TrajectoryRewardModel,
)
from rewardlab.models.structured.transitions import TransitionEncoder
from rewardlab.models.training.units import ranked_pairs
from rewardlab.robust.ensemble import AggregatedRewardModel

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


# ---------------------------------------------------------------- by hand

A = Trajectory(np.array([[1.0, 0.0], [0.5, -1.0], [0.0, 2.0]], np.float32), np.array([0, 1, 1]))
B = Trajectory(np.array([[-1.0, 1.0], [2.0, 0.5]], np.float32), np.array([1, 0]))
W = np.array([[0.3, -0.2, 0.5, -0.1, 0.4], [-0.6, 0.1, 0.2, 0.3, -0.5]])  # (K, d + 1)
BIAS = np.array([0.7, -0.2])


def linear_loss(loss: str, grad_penalty: float = 0.0, **params) -> SegmentPairLoss:
    """The segment loss of the pair A ≻ B under two linear members with weights W."""
    encoder = TransitionEncoder.infer([A, B], n_actions=2)
    head = HEADS.get("linear")(encoder.dim + 1, 2)
    with torch.no_grad():
        head.weight.copy_(torch.tensor(W))
        head.bias.copy_(torch.tensor(BIAS))
    objective = LOSSES.get(loss)
    net = RewardNet(head, objective.initial_learned(2))
    expanded = ranked_pairs([Comparison("env", (A, B), (0, 1))],
                            with_ties=objective.units == "ties")
    return SegmentPairLoss.build(net, Normalizer(encoder.dim), encoder, expanded, objective,
                                 params, grad_penalty)


def returns_by_hand(trajectory: Trajectory, k: int) -> float:
    """Σ_t r_k(x_t), r_k(x) = w_k·[x, 0] + b_k − (w_k·[0, 1] + b_k) = w_k[:4]·x − w_k[4]."""
    total = 0.0
    for obs, action in zip(trajectory.observations, trajectory.actions):
        x = [float(obs[0]), float(obs[1]), float(action == 0), float(action == 1)]
        total += sum(w * v for w, v in zip(W[k, :4], x)) - W[k, 4]
    return total


def test_segment_bt_loss_is_bt_on_summed_step_rewards():
    deltas = [returns_by_hand(A, k) - returns_by_hand(B, k) for k in range(2)]
    idx = torch.zeros(2, 1, dtype=torch.long)
    losses, batch = linear_loss("bt").losses(idx, penalty=False)
    np.testing.assert_allclose(batch.chosen[:, 0].detach().numpy(),
                               [returns_by_hand(A, k) for k in range(2)], rtol=1e-6)
    expected = [-math.log(sigmoid(d)) for d in deltas]
    np.testing.assert_allclose(losses.detach().numpy(), expected, rtol=1e-6)
    # Christiano's 10 % random labels: −log(0.05 + 0.9 σ(Δ))
    noisy, _ = linear_loss("noisy-bt", eps=0.1).losses(idx, penalty=False)
    np.testing.assert_allclose(noisy.detach().numpy(),
                               [-math.log(0.05 + 0.9 * sigmoid(d)) for d in deltas], rtol=1e-6)


def test_gradient_penalty_adds_lambda_times_the_squared_input_gradient():
    """For a linear member ∇_x r_k = w_k[:4] at every step, so E‖∇_x r_k‖² = ‖w_k[:4]‖²
    (the absorbing flag is not a transition feature)."""
    idx = torch.zeros(2, 1, dtype=torch.long)
    plain, _ = linear_loss("bt").losses(idx, penalty=False)
    penalized, _ = linear_loss("bt", grad_penalty=0.5).losses(idx)
    np.testing.assert_allclose((penalized - plain).detach().numpy(),
                               0.5 * (W[:, :4] ** 2).sum(axis=1), rtol=1e-5)


# ---------------------------------------------------------------- trained models


def synthetic_episode(rng: np.random.Generator, steps: int) -> Trajectory:
    """True reward r = o[0] + [a = 1]."""
    obs = rng.normal(size=(steps + 1, 3)).astype(np.float32)
    actions = rng.integers(0, 2, size=steps)
    return Trajectory(obs[:-1], actions, obs[:-1, 0] + (actions == 1), None, obs[1:])


def preference_records(n: int, seed: int, lengths=(6, 6)) -> list[Comparison]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        a, b = synthetic_episode(rng, lengths[0]), synthetic_episode(rng, lengths[1])
        out.append(Comparison("toy", (a, b), (0, 1) if a.true_return() > b.true_return()
                              else (1, 0)))
    return out


@pytest.fixture(scope="module")
def model() -> TrajectoryRewardModel:
    return train_structured("trajectory", preference_records(300, 0), None,
                            {"epochs": 30, "n_members": 3})


def test_the_learned_return_follows_the_true_return(model):
    rng = np.random.default_rng(7)
    test = [synthetic_episode(rng, 6) for _ in range(100)]
    scores = model.score(["toy"] * 100, test)
    assert np.corrcoef(scores, [t.true_return() for t in test])[0, 1] > 0.95
    members = model.score_members(["toy"] * 100, test)
    assert members.shape == (3, 100)
    np.testing.assert_allclose(scores, members.mean(axis=0))
    # a trajectory's score is the sum of its transitions' rewards
    steps = model.transition_rewards(test[0].observations, test[0].actions)
    assert steps.sum() == pytest.approx(scores[0], rel=1e-9)


def test_equal_length_pairs_are_centred_and_scaled_to_unit_std(model):
    assert model.config["anchor"] == "mean"
    distinct = {id(s): s for r in preference_records(300, 0) for s in r.responses}
    obs = np.concatenate([t.observations for t in distinct.values()])
    actions = np.concatenate([t.actions for t in distinct.values()])
    rewards = model.member_transition_rewards(obs, actions)
    np.testing.assert_allclose(rewards.mean(axis=1), 0.0, atol=1e-5)
    np.testing.assert_allclose(rewards.std(axis=1), 1.0, atol=1e-5)


def cartpole_like(rng: np.random.Generator, steps: int, falls: bool) -> Trajectory:
    """+1 per step; an episode that falls ends in an absorbing state (done)."""
    obs = rng.normal(size=(steps, 2)).astype(np.float32)
    if falls:
        obs[:, 0] += np.linspace(0, 3, steps)
    dones = np.zeros(steps, dtype=bool)
    dones[-1] = falls
    return Trajectory(obs, rng.integers(0, 2, size=steps), np.ones(steps), dones)


def test_unequal_lengths_learn_the_level_against_the_absorbing_state():
    """Segments that fall early are shorter; preferring the longer ones teaches a positive
    step reward relative to termination, which the normalization keeps (unit mean square)."""
    rng = np.random.default_rng(1)
    records = []
    for _ in range(200):
        long, short = cartpole_like(rng, 8, False), cartpole_like(rng, int(rng.integers(2, 7)), True)
        records.append(Comparison("cart", (long, short), (0, 1)))
    model = train_structured("trajectory", records, None, {"epochs": 30})
    assert model.config["anchor"] == "absorbing"
    distinct = {id(s): s for r in records for s in r.responses}
    obs = np.concatenate([t.observations for t in distinct.values()])
    actions = np.concatenate([t.actions for t in distinct.values()])
    rewards = model.member_transition_rewards(obs, actions)
    np.testing.assert_allclose((rewards ** 2).mean(axis=1), 1.0, atol=1e-5)
    assert (rewards.mean(axis=1) > 0.5).all()  # living pays, relative to termination
    test = [cartpole_like(rng, n, False) for n in (2, 5, 8)]
    assert np.all(np.diff(model.score(["cart"] * 3, test)) > 0)  # longer survives score higher


def test_ensemble_tools_take_trajectory_responses_unchanged(model, tmp_path):
    rng = np.random.default_rng(11)
    trajectories = [synthetic_episode(rng, 6) for _ in range(8)]
    prompts = ["toy"] * 8
    members = model.score_members(prompts, trajectories)
    wco = AggregatedRewardModel(model, "wco")
    np.testing.assert_allclose(wco.score(prompts, trajectories), members.min(axis=0))
    uwo = AggregatedRewardModel(model, "uwo", lam=0.5)
    np.testing.assert_allclose(uwo.score(prompts, trajectories),
                               members.mean(axis=0) - 0.5 * members.var(axis=0))
    _, spread = uwo.score_with_uncertainty(prompts, trajectories)
    np.testing.assert_allclose(spread, members.std(axis=0))
    # calibration of σ(Δ) on (chosen, rejected) = (trajectories 0–3, 4–7), by hand
    scores = model.score(prompts, trajectories)
    report = pair_calibration(scores[:4], scores[4:])
    delta = scores[:4] - scores[4:]
    brier = np.mean(np.concatenate([(1 / (1 + np.exp(-delta)) - 1) ** 2,
                                    (1 / (1 + np.exp(delta))) ** 2]))
    assert report["brier"] == pytest.approx(brier)
    # STARC: 0 against itself, 1 against its negation, per-prompt canonicalization by hand
    candidates = [trajectories[:4], trajectories[4:]]

    class Negated:
        def score(self, p, r):
            return -model.score(p, r)

    assert starc_between(model, model, ["a", "b"], candidates) == pytest.approx(0.0, abs=1e-12)
    assert starc_between(model, Negated(), ["a", "b"], candidates) == pytest.approx(1.0)
    true = np.array([t.true_return() for t in trajectories])
    assert starc_distance(scores, true, [0] * 4 + [1] * 4) == pytest.approx(
        0.5 * np.linalg.norm(canonical(scores) - canonical(true)))
    # saved and loaded through the one loader, plain and aggregated
    STRUCTURED.get("trajectory").save(model, tmp_path / "m")
    loaded = load_reward_model(tmp_path / "m")
    np.testing.assert_allclose(loaded.score(prompts, trajectories), scores, atol=1e-6)
    aggregated = load_reward_model(tmp_path / "m", aggregate="wco")
    np.testing.assert_allclose(aggregated.score(prompts, trajectories), members.min(axis=0),
                               atol=1e-6)


def canonical(r: np.ndarray) -> np.ndarray:
    c = np.concatenate([r[:4] - r[:4].mean(), r[4:] - r[4:].mean()])
    return c / np.linalg.norm(c)


def test_bad_input_is_one_clear_error(model):
    with pytest.raises(ValueError, match=r"responses\[0\] is str; this reward model scores "
                       "trajectories"):
        model.score(["toy"], ["some text"])
    with pytest.raises(ValueError, match=r"field 'observations': expected steps of shape \(3,\)"):
        model.score(["toy"], [Trajectory(np.zeros((2, 4)), np.zeros(2, np.int64))])
    with pytest.raises(ValueError, match=r"field 'actions': expected actions in \[0, 2\)"):
        model.score(["toy"], [Trajectory(np.zeros((2, 3)), np.array([0, 5]))])
    records = preference_records(4, 1)
    with pytest.raises(ValueError, match="loss 'bce' trains on points"):
        train_structured("trajectory", records, None, {"loss": "bce"})
    with pytest.raises(ValueError, match=r"segments\[0\] is str"):
        train_structured("trajectory", [Comparison("q", ("a", "b"), (0, 1))], None, {})


# ---------------------------------------------------------------- success classifier


def test_success_classifier_rewards_the_state_reached():
    rng = np.random.default_rng(5)
    records = []
    for _ in range(30):
        episode = synthetic_episode(rng, 10)
        labels = tuple(int(o[0] > 0.5) for o in episode.observations)
        records.append(Comparison("reach", (episode,), step_labels=(labels,)))
    model = train_structured("success", records, None, {"epochs": 40})
    probe = np.array([[2.5, 0, 0], [-2.5, 0, 0]], np.float32)
    p = model.success_probability(probe)
    assert p[0] > 0.9 and p[1] < 0.1
    episode = synthetic_episode(rng, 5)
    # a step's reward is P(success) of the state it reaches: the next observation
    np.testing.assert_allclose(
        model.transition_rewards(episode.observations, episode.actions,
                                 episode.next_observations),
        model.success_probability(episode.next_observations))
    assert model.score(["reach"], [episode])[0] == pytest.approx(
        model.success_probability(episode.next_observations).sum())
    with pytest.raises(ValueError, match="field 'step_labels': expected 10 labels of 0 or 1"):
        labelled_states([Comparison("reach", (synthetic_episode(rng, 10),),
                                    step_labels=((0, 1),))])
    with pytest.raises(ValueError, match="field 'step_labels': a success classifier needs"):
        labelled_states([Comparison("reach", (episode,))])
