"""Rao-Kupper (1967) ties: probabilities by hand, the loss by hand, θ learned from ties."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch

from rewardlab.features.hashing import HashingBackbone
from rewardlab.models.losses import LOSSES, PairBatch
from rewardlab.models.losses.rao_kupper import rao_kupper_log_probs
from rewardlab.models.training.config import TrainConfig
from rewardlab.models.training.fit import train_reward_model
from test_train_objectives import quality


def test_probabilities_by_hand_and_sum_to_one():
    # π_i = 2, π_j = 1 (Δ = log 2), θ = 3 (η = log 2):
    # P(i ≻ j) = 2/(2 + 3) = 2/5, P(j ≻ i) = 1/(6 + 1) = 1/7, P(tie) = 8·2/(5·7) = 16/35
    win, lose, tie = rao_kupper_log_probs(torch.tensor([[math.log(2)]]), torch.tensor([math.log(2)]))
    assert win.exp().item() == pytest.approx(2 / 5, rel=1e-6)
    assert lose.exp().item() == pytest.approx(1 / 7, rel=1e-6)
    assert tie.exp().item() == pytest.approx(16 / 35, rel=1e-6)
    deltas = torch.linspace(-60, 60, 13)[None]
    for eta in (-3.0, 0.0, 4.0):
        probs = [p.exp() for p in rao_kupper_log_probs(deltas, torch.tensor([eta]))]
        assert all(torch.isfinite(p).all() for p in probs)
        torch.testing.assert_close(sum(probs), torch.ones_like(deltas))
        theta = 1 + math.exp(eta)  # the win probability is the shifted logistic σ(Δ − log θ)
        torch.testing.assert_close(probs[0], torch.sigmoid(deltas - math.log(theta)))


def test_theta_near_one_is_bradley_terry():
    deltas = torch.tensor([[-2.0, 0.0, 1.5]])
    win, _, tie = rao_kupper_log_probs(deltas, torch.tensor([-30.0]))
    torch.testing.assert_close(win, torch.nn.functional.logsigmoid(deltas))
    assert tie.exp().max().item() < 1e-12


def test_loss_uses_the_tie_likelihood_for_tie_pairs():
    # η = 0 → θ = 2. Tie at Δ = 0: (4 − 1)/(3·3) = 1/3. Win at Δ = log 2: 2/(2 + 2) = 1/2.
    chosen = torch.tensor([[0.0, math.log(2)]])
    rejected = torch.zeros(1, 2)
    tie = torch.tensor([[True, False]])
    loss = LOSSES.get("rao-kupper")(
        PairBatch(chosen, rejected, tie=tie), log_theta_minus_one=torch.zeros(1)
    )
    assert loss.item() == pytest.approx((math.log(3) + math.log(2)) / 2, rel=1e-6)
    without_ties = LOSSES.get("rao-kupper")(
        PairBatch(chosen, rejected), log_theta_minus_one=torch.zeros(1)
    )
    assert without_ties.item() == pytest.approx((math.log(3) + math.log(2)) / 2, rel=1e-6)


def test_tie_order_does_not_matter_and_theta_gets_a_gradient():
    eta = torch.zeros(2, requires_grad=True)
    tie = torch.tensor([[True], [False]])
    rk = LOSSES.get("rao-kupper")
    a = rk(PairBatch(torch.tensor([[1.0], [1.0]]), torch.zeros(2, 1), tie=tie), log_theta_minus_one=eta)
    b = rk(PairBatch(torch.zeros(2, 1), torch.tensor([[1.0], [1.0]]), tie=tie), log_theta_minus_one=eta)
    assert a[0].item() == pytest.approx(b[0].item(), rel=1e-6)
    a.sum().backward()
    assert eta.grad[0].item() < 0 < eta.grad[1].item()  # a tie pushes θ up, a win down


def test_registered_with_ties_and_theta_two():
    objective = LOSSES.get("rao-kupper")
    assert objective.units == "ties" and "strength_from" in objective.unit_params
    assert objective.initial_learned(3)["log_theta_minus_one"].tolist() == [0.0, 0.0, 0.0]


def test_rao_kupper_learns_the_tie_rate_and_saves_it():
    pairs = quality(80, 0)
    ties = [replace(r, responses=(r.chosen, r.chosen + " Indeed."), tie=True) for r in quality(80, 3)]
    config = TrainConfig(loss="rao-kupper", epochs=30, lr=5e-2, batch_size=16, seed=0)
    many, _ = train_reward_model(pairs + ties, HashingBackbone(256), config)
    few, _ = train_reward_model(pairs + ties[:5], HashingBackbone(256), config)
    theta_many = 1 + math.exp(many.config["loss"]["learned"]["log_theta_minus_one"][0])
    theta_few = 1 + math.exp(few.config["loss"]["learned"]["log_theta_minus_one"][0])
    assert theta_many > theta_few > 1
    # half the data tied at Δ ≈ 0: P(tie | Δ = 0) = (θ − 1)/(θ + 1) moves towards 1/2
    assert (theta_many - 1) / (theta_many + 1) > 0.35
