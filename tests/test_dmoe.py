"""DMoE: hard routing by category, the learned router when the category is
missing, and a preference rule that flips by category (BT cannot fit it)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from rewardlab.data.record import Comparison
from rewardlab.models.structured.dmoe import DMoEHead, DMoEOptions, load_dmoe, save_dmoe, train_dmoe
from rewardlab.models.training.config import LoopOptions, TrainConfig
from rewardlab.models.training.fit import train_reward_model
from rewardlab.protocols import RewardModel

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class LengthTopicBackbone:
    """Features (log length of the response, 1 if the prompt is about topic "A")."""

    dim = 2

    def encode(self, prompts, responses, progress=None):
        return np.array(
            [
                [math.log1p(len(r.split())), float(p.startswith("A"))]
                for p, r in zip(prompts, responses, strict=True)
            ],
            np.float32,
        )

    def config(self):
        return {"kind": "length-topic"}


def _records(n: int, rng: np.random.Generator) -> list[Comparison]:
    """In category A the longer response wins; in B the shorter one."""
    out = []
    for i in range(n):
        category = "AB"[i % 2]
        short, long = sorted(rng.choice(np.arange(1, 40), size=2, replace=False))
        texts = ("w " * short).strip(), ("w " * long).strip()
        chosen, rejected = (texts[1], texts[0]) if category == "A" else texts
        out.append(
            Comparison(
                f"{category} question {i}", (chosen, rejected), ranking=(0, 1), category=category
            )
        )
    return out


def _accuracy(scores_chosen: np.ndarray, scores_rejected: np.ndarray) -> float:
    return float(np.mean(scores_chosen > scores_rejected))


def test_routing_by_hand():
    head = DMoEHead(1, n_categories=2, n_experts=1, hidden=1)
    with torch.no_grad():
        for p in head.parameters():
            p.zero_()
        head.expert_w[:, 0, 0] = torch.tensor([1.0, -1.0])  # e_c = ±x
        head.agg_w1[:, 0, 0] = 1.0
        head.agg_w2[:, 0] = 1.0  # r_c = GELU(e_c)
        head.router.weight[:, 0] = torch.tensor([2.0, -2.0])
    x = torch.tensor([[1.0]])
    gelu = torch.nn.functional.gelu
    r0, r1 = gelu(torch.tensor(1.0)).item(), gelu(torch.tensor(-1.0)).item()
    assert head(x, torch.tensor([0])).item() == pytest.approx(r0)
    assert head(x, torch.tensor([1])).item() == pytest.approx(r1)
    g0 = 1 / (1 + math.exp(-4))  # softmax(2, −2)[0]
    assert head(x, torch.tensor([-1])).item() == pytest.approx(g0 * r0 + (1 - g0) * r1)


def test_flipped_rule_bt_fails_dmoe_fits(tmp_path):
    rng = np.random.default_rng(0)
    train, test = _records(400, rng), _records(200, rng)
    backbone = LengthTopicBackbone()
    prompts = [r.prompt for r in test]
    chosen, rejected = [r.chosen for r in test], [r.rejected for r in test]
    categories = [r.category for r in test]

    bt, _ = train_reward_model(train, backbone, TrainConfig(epochs=30, lr=0.01))
    bt_accuracy = _accuracy(bt.score(prompts, chosen), bt.score(prompts, rejected))
    assert 0.4 <= bt_accuracy <= 0.6

    model = train_dmoe(train, backbone, DMoEOptions(epochs=60, lr=0.01))
    assert isinstance(model, RewardModel)
    assert model.categories == ["A", "B"]
    hard = _accuracy(
        model.score(prompts, chosen, categories), model.score(prompts, rejected, categories)
    )
    assert hard >= 0.9
    routed = _accuracy(model.score(prompts, chosen), model.score(prompts, rejected))
    assert routed >= 0.9  # the router finds the category from the topic feature
    assert model.route(prompts[:4], chosen[:4]) == categories[:4]

    loaded = load_dmoe(save_dmoe(model, tmp_path / "dmoe"), backbone)
    assert np.array_equal(loaded.score(prompts, chosen), model.score(prompts, chosen))
    assert np.array_equal(
        loaded.score(prompts, chosen, categories), model.score(prompts, chosen, categories)
    )


def test_errors():
    with pytest.raises(ValueError, match="no ranked pairs"):
        train_dmoe([Comparison("q", ("a",))], LengthTopicBackbone())
    rng = np.random.default_rng(1)
    model = train_dmoe(_records(20, rng), LengthTopicBackbone(), DMoEOptions(epochs=1))
    with pytest.raises(ValueError, match="categories has 1 items"):
        model.score(["A q", "B q"], ["w", "w w"], ["A"])


def test_options_extend_the_loop_options_with_dmoe_defaults():
    options = DMoEOptions()
    assert isinstance(options, LoopOptions)
    assert (options.epochs, options.lr, options.weight_decay, options.batch_size) == (
        40, 2e-3, 0.01, 128)


def test_validation_pairs_pick_the_epoch_and_log_hard_routed_accuracy():
    rng = np.random.default_rng(2)
    train, val = _records(80, rng), _records(40, rng)
    logs: list[dict[str, float]] = []
    model = train_dmoe(train, LengthTopicBackbone(), DMoEOptions(epochs=15, lr=0.01), val,
                       lambda epoch, log: logs.append(log))
    best = int(np.argmin([log["val_loss"] for log in logs]))
    prompts, categories = [r.prompt for r in val], [r.category for r in val]
    chosen = model.score(prompts, [r.chosen for r in val], categories)
    rejected = model.score(prompts, [r.rejected for r in val], categories)
    assert logs[best]["val_accuracy"] == pytest.approx(_accuracy(chosen, rejected))
    assert model.config["skipped"] == {"ties": 0, "unranked": 0}
