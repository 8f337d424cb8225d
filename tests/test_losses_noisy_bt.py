"""Christiano et al.'s BT with ε random labels and ties as half preferences, by hand."""

from __future__ import annotations

import math

import pytest
import torch

from rewardlab.models.losses import LOSSES, PairBatch


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def test_preferences_and_ties_by_hand():
    # Δ = 1 (a preference) and Δ = −2 (a tie), ε = 0.1: P̂(Δ) = 0.05 + 0.9 σ(Δ)
    batch = PairBatch(torch.tensor([[1.0, -2.0]]), torch.tensor([[0.0, 0.0]]),
                      tie=torch.tensor([[False, True]]))
    preference = -math.log(0.05 + 0.9 * sigmoid(1.0))
    tie = -0.5 * (math.log(0.05 + 0.9 * sigmoid(-2.0)) + math.log(0.05 + 0.9 * sigmoid(2.0)))
    loss = LOSSES.get("noisy-bt")(batch, eps=0.1)
    assert loss.item() == pytest.approx((preference + tie) / 2, rel=1e-6)


def test_eps_zero_is_plain_bt_and_the_loss_is_bounded_by_the_random_labels():
    chosen, rejected = torch.tensor([[0.3, -4.0, 2.0]]), torch.tensor([[0.0, 1.0, -1.0]])
    bt = LOSSES.get("bt")(PairBatch(chosen, rejected))
    assert LOSSES.get("noisy-bt").units == "ties"
    torch.testing.assert_close(LOSSES.get("noisy-bt")(PairBatch(chosen, rejected), eps=0.0), bt)
    # however wrong Δ is, P̂ ≥ ε/2, so the loss of one pair is at most −log(ε/2)
    worst = LOSSES.get("noisy-bt")(PairBatch(torch.tensor([[-50.0]]), torch.tensor([[0.0]])),
                                   eps=0.2)
    assert worst.item() == pytest.approx(-math.log(0.1 + 0.8 * sigmoid(-50.0)), rel=1e-6)
    with pytest.raises(ValueError, match=r"eps must be in \[0, 1\)"):
        LOSSES.get("noisy-bt")(PairBatch(chosen, rejected), eps=1.0)
