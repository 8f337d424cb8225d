"""Davidson (1970) ties: probabilities, a hand value, and learning ν from ties."""

from __future__ import annotations

import math

import pytest
import torch

from rewardlab.models.losses import LOSSES, PairBatch
from rewardlab.models.losses.davidson import davidson_log_probs


def test_probabilities_match_the_definition_and_sum_to_one():
    r_i, r_j, theta = 1.0, 0.2, 0.3
    pi_i, pi_j, nu = math.exp(r_i), math.exp(r_j), math.exp(theta)
    denominator = pi_i + pi_j + nu * math.sqrt(pi_i * pi_j)
    win, lose, tie = davidson_log_probs(torch.tensor([[r_i - r_j]]), torch.tensor([theta]))
    assert win.exp().item() == pytest.approx(pi_i / denominator, rel=1e-6)
    assert lose.exp().item() == pytest.approx(pi_j / denominator, rel=1e-6)
    assert tie.exp().item() == pytest.approx(nu * math.sqrt(pi_i * pi_j) / denominator, rel=1e-6)
    deltas = torch.linspace(-5, 5, 11)[None]
    total = sum(p.exp() for p in davidson_log_probs(deltas, torch.tensor([-1.0])))
    torch.testing.assert_close(total, torch.ones_like(deltas))


def test_loss_uses_the_tie_likelihood_for_tie_pairs():
    # Δ = 0 and θ = 0: P(win) = P(tie) = 1/3; Δ = 2: P(win) = e/(e + 1/e + 1)
    chosen, rejected = torch.tensor([[0.0, 2.0]]), torch.tensor([[0.0, 0.0]])
    tie = torch.tensor([[True, False]])
    expected = (math.log(3) - math.log(math.e / (math.e + math.exp(-1) + 1))) / 2
    loss = LOSSES.get("davidson")(PairBatch(chosen, rejected, tie=tie), log_nu=torch.zeros(1))
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_tie_order_does_not_matter_and_nu_gets_a_gradient():
    log_nu = torch.zeros(1, requires_grad=True)
    tie = torch.tensor([[True]])
    a = LOSSES.get("davidson")(PairBatch(torch.tensor([[1.0]]), torch.tensor([[0.0]]), tie=tie), log_nu=log_nu)
    b = LOSSES.get("davidson")(PairBatch(torch.tensor([[0.0]]), torch.tensor([[1.0]]), tie=tie), log_nu=log_nu)
    assert a.item() == pytest.approx(b.item(), rel=1e-6)
    a.sum().backward()
    assert log_nu.grad.item() < 0  # a tie pushes ν up


def test_initial_nu_is_one_per_member():
    assert LOSSES.get("davidson").initial_learned(3)["log_nu"].tolist() == [0.0, 0.0, 0.0]
    assert LOSSES.get("davidson").units == "ties"
