"""Pointwise losses: multi-attribute regression (HelpSteer2) and BCE, by hand."""

from __future__ import annotations

import math

import pytest
import torch

from rewardlab.models.heads.multi_attribute import (
    HELPSTEER2_WEIGHTS,
    MultiAttributeHead,
    attribute_weights,
)
from rewardlab.models.losses import LOSSES, PointBatch


def test_regression_is_mse_over_responses_and_attributes():
    rewards = torch.tensor([[[1.0, 2.0], [0.0, 4.0]]])  # (K=1, B=2, A=2)
    target = torch.tensor([[[2.0, 2.0], [3.0, 3.0]]])
    expected = ((1 - 2) ** 2 + 0 + (0 - 3) ** 2 + (4 - 3) ** 2) / 4
    loss = LOSSES.get("regression")(PointBatch(rewards, target))
    assert loss.shape == (1,) and loss.item() == pytest.approx(expected)


def test_default_weights_helpsteer2_else_equal_and_explicit():
    names = ("helpfulness", "correctness", "coherence", "complexity", "verbosity")
    assert attribute_weights(names) == (0.3, 0.74, 0.46, 0.47, -0.33)
    assert attribute_weights(("verbosity", "helpfulness")) == (-0.33, 0.3)
    assert attribute_weights(("judge", "length")) == (0.5, 0.5)
    assert attribute_weights(("a", "b"), {"a": 2.0, "b": -1.0}) == (2.0, -1.0)
    assert attribute_weights(("a", "b"), [1.0, 3.0]) == (1.0, 3.0)
    with pytest.raises(ValueError, match="'weights'"):
        attribute_weights(("a", "b"), {"a": 1.0})
    with pytest.raises(ValueError, match="2 attributes"):
        attribute_weights(("a", "b"), [1.0])
    assert set(HELPSTEER2_WEIGHTS) == set(names)


def test_multi_attribute_head_reward_is_the_weighted_sum():
    torch.manual_seed(0)
    head = MultiAttributeHead(3, 2, attributes=("helpfulness", "verbosity"))
    x = torch.randn(2, 5, 3)
    per_attribute = head.attribute_rewards(x)
    assert per_attribute.shape == (2, 5, 2)
    expected = 0.3 * head.heads[0](x) - 0.33 * head.heads[1](x)
    torch.testing.assert_close(head(x), expected)
    assert all(p.shape[0] == 2 for p in head.state_dict().values())  # member axis first
    assert head.params() == {"attributes": ["helpfulness", "verbosity"], "weights": [0.3, -0.33],
                             "base": "linear", "base_params": {}}


def test_bce_by_hand():
    rewards = torch.tensor([[2.0, -1.0, 0.5]])
    target = torch.tensor([[[1.0], [1.0], [0.0]]])
    expected = (math.log(1 + math.exp(-2.0)) + math.log(1 + math.exp(1.0)) + math.log(1 + math.exp(0.5))) / 3
    loss = LOSSES.get("bce")(PointBatch(rewards, target))
    assert loss.item() == pytest.approx(expected, rel=1e-6)
