"""Pairwise losses beyond BT: hand-computed values of each formula."""

from __future__ import annotations

import math

import pytest
import torch

from rewardlab.models.losses import LOSSES, PairBatch


def log_sigmoid(z: float) -> float:
    return -math.log(1 + math.exp(-z))


CHOSEN = torch.tensor([[2.0, 0.5]])
REJECTED = torch.tensor([[1.0, 1.5]])  # Δ = 1, −1
MARGIN = torch.tensor([[3.0, 0.5]])


def test_scaled_bt_weights_each_pair_by_its_strength():
    expected = -(3.0 * log_sigmoid(1.0) + 0.5 * log_sigmoid(-1.0)) / 2
    loss = LOSSES.get("scaled-bt")(PairBatch(CHOSEN, REJECTED, MARGIN))
    assert loss.shape == (1,) and loss.item() == pytest.approx(expected, rel=1e-6)


def test_margin_bt_subtracts_the_strength():
    expected = -(log_sigmoid(1.0 - 3.0) + log_sigmoid(-1.0 - 0.5)) / 2
    loss = LOSSES.get("margin-bt")(PairBatch(CHOSEN, REJECTED, MARGIN))
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_plain_bt_ignores_the_strength_unless_asked():
    plain = -(log_sigmoid(1.0) + log_sigmoid(-1.0)) / 2
    loss = LOSSES.get("bt")(PairBatch(CHOSEN, REJECTED, MARGIN))
    assert loss.item() == pytest.approx(plain, rel=1e-6)
    with_margin = LOSSES.get("bt")(PairBatch(CHOSEN, REJECTED, MARGIN), use_margin=True)
    assert with_margin.item() == pytest.approx(
        -(log_sigmoid(1.0 - 3.0) + log_sigmoid(-1.0 - 0.5)) / 2, rel=1e-6
    )
    with pytest.raises(ValueError, match="use_margin"):
        LOSSES.get("bt")(PairBatch(CHOSEN, REJECTED), use_margin=True)


def test_adaptive_margin_subtracts_scaled_mu():
    expected = -(log_sigmoid(1.0 - 1.5) + log_sigmoid(-1.0 - 0.25)) / 2
    loss = LOSSES.get("adaptive-margin")(PairBatch(CHOSEN, REJECTED, MARGIN), scale=0.5)
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_label_smoothing_mixes_both_directions():
    alpha = 0.2
    expected = -sum((1 - alpha) * log_sigmoid(d) + alpha * log_sigmoid(-d) for d in (1.0, -1.0)) / 2
    loss = LOSSES.get("label-smoothing")(PairBatch(CHOSEN, REJECTED), alpha=alpha)
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    # its minimum over Δ sits at log((1 − α)/α), not at +∞ like BT
    best = math.log((1 - alpha) / alpha)
    at = [LOSSES.get("label-smoothing")(PairBatch(torch.tensor([[d]]), torch.tensor([[0.0]])), alpha=alpha)
          for d in (best - 0.1, best, best + 0.1)]
    assert at[1] < at[0] and at[1] < at[2]
    with pytest.raises(ValueError, match="alpha"):
        LOSSES.get("label-smoothing")(PairBatch(CHOSEN, REJECTED), alpha=0.7)


def test_members_are_independent():
    chosen = torch.tensor([[1.0], [3.0]])
    rejected = torch.zeros(2, 1)
    margin = torch.tensor([[2.0], [2.0]])
    loss = LOSSES.get("scaled-bt")(PairBatch(chosen, rejected, margin))
    assert loss.tolist() == pytest.approx([-2 * log_sigmoid(1.0), -2 * log_sigmoid(3.0)], rel=1e-6)


@pytest.mark.parametrize("name", ["scaled-bt", "margin-bt", "adaptive-margin"])
def test_strength_losses_refuse_pairs_without_strength(name):
    assert LOSSES.get(name).needs_margin
    with pytest.raises(ValueError, match="strength"):
        LOSSES.get(name)(PairBatch(CHOSEN, REJECTED))
