"""Plackett-Luce: hand values for full and partial rankings; k = 2 is BT."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from rewardlab.data.record import Comparison
from rewardlab.features.hashing import HashingBackbone
from rewardlab.models.losses import LOSSES, PairBatch, RankingBatch
from rewardlab.models.training.config import TrainConfig
from rewardlab.models.training.fit import train_reward_model


def test_full_ranking_of_three_by_hand():
    r = [2.0, 1.0, 0.0]  # best first
    first = r[0] - math.log(sum(math.exp(v) for v in r))
    second = r[1] - math.log(math.exp(r[1]) + math.exp(r[2]))
    batch = RankingBatch(torch.tensor([[r]]), torch.ones(1, 1, 3, dtype=torch.bool), torch.tensor([[3]]))
    loss = LOSSES.get("plackett-luce")(batch)
    assert loss.shape == (1,) and loss.item() == pytest.approx(-(first + second), rel=1e-6)


def test_partial_ranking_keeps_unranked_in_denominators_and_padding_out():
    # rankings of width 4 in one batch: a top-1 of three responses, and a full pair padded
    rewards = torch.tensor([[[1.0, 0.0, 3.0, 0.0], [0.5, 1.5, 99.0, 99.0]]])
    mask = torch.tensor([[[True, True, True, False], [True, True, False, False]]])
    n_ranked = torch.tensor([[1, 2]])
    top1 = 1.0 - math.log(math.exp(1.0) + math.exp(0.0) + math.exp(3.0))
    pair = -math.log(1 + math.exp(-(0.5 - 1.5)))
    loss = LOSSES.get("plackett-luce")(RankingBatch(rewards, mask, n_ranked))
    assert loss.item() == pytest.approx(-(top1 + pair) / 2, rel=1e-6)


def test_k2_loss_equals_bt():
    chosen, rejected = torch.tensor([[1.0, -0.5, 3.0]]), torch.tensor([[0.0, 0.5, 2.5]])
    ranking = RankingBatch(torch.stack([chosen, rejected], dim=-1), torch.ones(1, 3, 2, dtype=torch.bool),
                           torch.full((1, 3), 2))
    torch.testing.assert_close(LOSSES.get("plackett-luce")(ranking), LOSSES.get("bt")(PairBatch(chosen, rejected)))


def records(n: int, seed: int) -> list[Comparison]:
    rng = np.random.default_rng(seed)
    words = ["precise", "clear", "kind", "vague", "rude", "wrong"]
    out = []
    for i in range(n):
        good = f"a {words[rng.integers(3)]} answer {i}"
        bad = f"a {words[3 + rng.integers(3)]} answer {i}"
        out.append(Comparison(f"q{i}", (good, bad), (0, 1)))
    return out


def test_k2_training_gives_the_same_weights_as_bt():
    train, val = records(120, 0), records(30, 1)

    def fit(loss: str):
        config = TrainConfig(loss=loss, epochs=4, seed=5, n_members=2)
        return train_reward_model(train, HashingBackbone(128), config, val)

    (bt, bt_report), (pl, pl_report) = fit("bt"), fit("plackett-luce")
    assert pl_report.unit_kind == "rankings" and bt_report.unit_kind == "pairs"
    torch.testing.assert_close(pl.head.weight, bt.head.weight, rtol=1e-5, atol=1e-6)
    for a, b in zip(bt_report.history, pl_report.history, strict=True):
        assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-5)
        assert a["val_accuracy"] == b["val_accuracy"]
