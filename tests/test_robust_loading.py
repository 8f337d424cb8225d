"""load_reward_model: single models and backbone ensembles, aggregation picked at load time."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from rewardlab.data.synthetic import ArenaConfig, generate_arena, preference_pairs
from rewardlab.features.hashing import HashingBackbone
from rewardlab.load import load_reward_model
from rewardlab.load.specs import NothingToAggregate
from rewardlab.models.io import save_model
from rewardlab.models.reward_model import TrainedRewardModel
from rewardlab.models.training.config import TrainConfig
from rewardlab.models.training.fit import train_reward_model
from rewardlab.robust.backbone_ensemble import (
    BackboneEnsemble,
    aggregation_entry,
    save_backbone_ensemble,
)
from rewardlab.robust.ensemble import AggregatedRewardModel, center_per_prompt

PROMPTS = ["p", "p", "q"]
RESPONSES = ["one answer", "another, longer answer", "a third"]


@pytest.fixture(scope="module")
def pairs():
    arena = generate_arena(ArenaConfig(n_prompts=30, candidates_per_prompt=4, seed=0))
    return preference_pairs(arena, 120, seed=0)


def trained(pairs, n_members: int, seed: int = 0) -> TrainedRewardModel:
    config = TrainConfig(n_members=n_members, epochs=2, seed=seed)
    return train_reward_model(pairs, HashingBackbone(n_features=256), config)[0]


def with_biases(model: TrainedRewardModel, biases: list[float]) -> TrainedRewardModel:
    """Zero weights and the given biases: member k scores ``biases[k]`` on every input."""
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.bias.copy_(torch.tensor(biases))
    return model


# members score 1, 3, 2 everywhere: mean 2, median 2, min 1,
# Var = ((1-2)² + (3-2)² + (2-2)²)/3 = 2/3, Std = sqrt(2/3)
BY_HAND = [
    ("mean", {}, 2.0),
    ("median", {}, 2.0),
    ("min", {}, 1.0),
    ("wco", {}, 1.0),
    ("uwo", {}, 2.0 - 0.5 * 2 / 3),
    ("uwo", {"lam": 3.0}, 2.0 - 3.0 * 2 / 3),
    ("mean_minus_std", {}, 2.0 - math.sqrt(2 / 3)),
    ("brme", {"w": 0.25}, 0.75 * 2.0 + 0.25 * 1.0),
]


@pytest.fixture(scope="module")
def biased_dir(tmp_path_factory, pairs):
    return save_model(
        with_biases(trained(pairs, 3), [1.0, 3.0, 2.0]), tmp_path_factory.mktemp("biased") / "rm"
    )


@pytest.fixture(scope="module")
def four_members(tmp_path_factory, pairs):
    model = trained(pairs, 4)
    return model, save_model(model, tmp_path_factory.mktemp("four") / "rm")


@pytest.mark.parametrize(("name", "params", "expected"), BY_HAND)
def test_each_aggregation_by_hand(biased_dir, name, params, expected):
    model = load_reward_model(biased_dir, name, **params)
    np.testing.assert_allclose(model.score(PROMPTS, RESPONSES), [expected] * 3)


FORMULAS = {
    "mean": lambda m: m.mean(axis=0),
    "median": lambda m: np.median(m, axis=0),
    "min": lambda m: m.min(axis=0),
    "uwo": lambda m: m.mean(axis=0) - 0.5 * ((m - m.mean(axis=0)) ** 2).mean(axis=0),
    "mean_minus_std": lambda m: m.mean(axis=0) - np.sqrt(((m - m.mean(axis=0)) ** 2).mean(axis=0)),
    "brme": lambda m: 0.5 * m.mean(axis=0) + 0.5 * m.min(axis=0),
}


@pytest.mark.parametrize("name", sorted(FORMULAS))
def test_trained_members_aggregate_as_the_formula(four_members, name):
    original, directory = four_members
    members = original.score_members(PROMPTS, RESPONSES)
    assert np.ptp(members, axis=0).min() > 0  # members differ, so aggregations differ
    model = load_reward_model(directory, name)
    np.testing.assert_allclose(model.score(PROMPTS, RESPONSES), FORMULAS[name](members))
    centered = load_reward_model(directory, name, center=True)
    # centering by hand: prompt p has two responses, q one (centered to 0)
    by_hand = members.copy()
    by_hand[:, :2] -= members[:, :2].mean(axis=1, keepdims=True)
    by_hand[:, 2] = 0.0
    np.testing.assert_allclose(centered.score(PROMPTS, RESPONSES), FORMULAS[name](by_hand))


def test_default_is_mean_and_single_member_is_returned_as_is(tmp_path, pairs, biased_dir):
    loaded = load_reward_model(biased_dir)
    assert isinstance(loaded, AggregatedRewardModel) and loaded.aggregate == "mean"
    assert loaded.center is False
    single = trained(pairs, 1)
    save_model(single, tmp_path / "one")
    assert isinstance(load_reward_model(tmp_path / "one"), TrainedRewardModel)
    with pytest.raises(NothingToAggregate, match="has one member"):  # an aggregation that
        load_reward_model(tmp_path / "one", "min")                  # does nothing is refused
    centered = load_reward_model(tmp_path / "one", center=True)
    members = single.score_members(PROMPTS, RESPONSES)[0]
    expected = [members[0] - members[:2].mean(), members[1] - members[:2].mean(), 0.0]
    np.testing.assert_allclose(centered.score(PROMPTS, RESPONSES), expected, atol=1e-12)


def test_saved_aggregation_is_the_default_and_can_be_overridden(tmp_path, pairs):
    subs = [with_biases(trained(pairs, 2, seed), b) for seed, b in ((0, [1, 3]), (1, [2, 6]))]
    # members 1, 3, 2, 6: mean 3, Var = (4 + 0 + 1 + 9)/4 = 3.5, min 1
    saved = aggregation_entry("uwo", params={"lam": 1.0})
    save_backbone_ensemble(BackboneEnsemble(subs, saved), tmp_path / "ens")
    score = lambda **kw: load_reward_model(tmp_path / "ens", **kw).score(PROMPTS, RESPONSES)  # noqa: E731
    np.testing.assert_allclose(score(), [3.0 - 1.0 * 3.5] * 3)
    np.testing.assert_allclose(score(lam=2.0), [3.0 - 2.0 * 3.5] * 3)
    np.testing.assert_allclose(score(aggregate="min"), [1.0] * 3)
    np.testing.assert_allclose(score(aggregate="brme"), [0.5 * 3.0 + 0.5 * 1.0] * 3)
    centered = load_reward_model(tmp_path / "ens", center=True)
    assert isinstance(centered, AggregatedRewardModel) and centered.params == {"lam": 1.0}
    members = centered.members.score_members(PROMPTS, RESPONSES)
    np.testing.assert_array_equal(
        centered.score_members(PROMPTS, RESPONSES), center_per_prompt(members, PROMPTS)
    )


def test_bad_names_params_and_directories(tmp_path, four_members):
    save_model(four_members[0], tmp_path / "rm")
    with pytest.raises(KeyError, match="did you mean 'median'"):
        load_reward_model(tmp_path / "rm", "medain")
    with pytest.raises(ValueError, match="'min' does not take parameters \\['lam'\\]"):
        load_reward_model(tmp_path / "rm", "min", lam=1.0)
    with pytest.raises(ValueError, match="option 'lam': must be >= 0"):
        load_reward_model(tmp_path / "rm", "uwo", lam=-1.0)
    with pytest.raises(FileNotFoundError, match="no config.json"):
        load_reward_model(tmp_path)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "config.json").write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(ValueError, match="field 'format' is 'something-else'"):
        load_reward_model(tmp_path / "other")
    config = json.loads((tmp_path / "rm" / "config.json").read_text())
    (tmp_path / "rm" / "config.json").write_text(json.dumps(dict(config, aggregate={"name": "uwu"})))
    with pytest.raises(ValueError, match="field 'aggregate.name'.*did you mean 'uwo'"):
        load_reward_model(tmp_path / "rm")
    (tmp_path / "rm" / "config.json").write_text(json.dumps(dict(config, aggregate="min")))
    with pytest.raises(ValueError, match="field 'aggregate'"):
        load_reward_model(tmp_path / "rm")


def test_spec_kinds_and_where_metrics_may_be_saved(tmp_path, four_members):
    from rewardlab.load import is_rewardlab_directory
    from rewardlab.models.lm.hf_reward import HFRewardModel
    from rewardlab.models.lm.judge import LLMJudge
    from tiny_hf import save_causal_lm, save_encoder_rm

    save_model(four_members[0], tmp_path / "rm")
    save_encoder_rm(tmp_path / "hf")
    save_causal_lm(tmp_path / "lm")
    assert isinstance(load_reward_model(tmp_path / "hf"), HFRewardModel)
    assert isinstance(load_reward_model(f"judge:{tmp_path / 'lm'}"), LLMJudge)
    with pytest.raises(ValueError, match="a judge has no members to aggregate"):
        load_reward_model(f"judge:{tmp_path / 'lm'}", aggregate="wco")
    assert is_rewardlab_directory(tmp_path / "rm")
    assert not is_rewardlab_directory(tmp_path / "hf")
    assert not is_rewardlab_directory("hf:org/name")
    assert not is_rewardlab_directory(f"judge:{tmp_path / 'rm'}")
