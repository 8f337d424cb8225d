"""Backbone ensembles: stacked member scores, training per spec, one-directory save/load."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rewardlab.data.synthetic import ArenaConfig, generate_arena, preference_pairs
from rewardlab.models.io import load_model
from rewardlab.models.reward_model import TrainedRewardModel
from rewardlab.models.training.config import TrainConfig
from rewardlab.protocols import RewardModel, UncertainRewardModel
from rewardlab.robust.backbone_ensemble import (
    ENSEMBLE_FORMAT,
    BackboneEnsemble,
    aggregation_entry,
    load_backbone_ensemble,
    save_backbone_ensemble,
    train_backbone_ensemble,
)
from rewardlab.robust.ensemble import MemberScorer


@pytest.fixture(scope="module")
def data():
    arena = generate_arena(ArenaConfig(n_prompts=30, candidates_per_prompt=4, seed=0))
    pairs = preference_pairs(arena, 150, seed=0)
    return pairs[:120], pairs[120:]


@pytest.fixture(scope="module")
def ensemble(data) -> BackboneEnsemble:
    train, val = data
    calls = []
    result = train_backbone_ensemble(
        train,
        ["hashing", "hashing"],
        TrainConfig(n_members=2, epochs=2, seed=5),
        val,
        data_fingerprint="abc",
        aggregation=aggregation_entry("min", center=True),
        on_member=lambda i, total, spec: calls.append((i, total, spec)),
    )
    assert calls == [(0, 2, "hashing"), (1, 2, "hashing")]
    return result


def texts(data):
    test = data[1]
    return [r.prompt for r in test], [r.chosen for r in test]


def test_members_are_the_sub_models_members_stacked(ensemble, data):
    assert isinstance(ensemble, MemberScorer) and isinstance(ensemble, UncertainRewardModel)
    assert isinstance(ensemble, RewardModel) and ensemble.n_members == 4
    prompts, responses = texts(data)
    members = ensemble.score_members(prompts, responses)
    assert members.shape == (4, 30)
    np.testing.assert_array_equal(members[:2], ensemble.models[0].score_members(prompts, responses))
    np.testing.assert_array_equal(members[2:], ensemble.models[1].score_members(prompts, responses))
    # same backbone, seeds 5 and 6: the sub-models differ
    assert [m.config["train"]["seed"] for m in ensemble.models] == [5, 6]
    assert not np.allclose(members[0], members[2])
    reward, spread = ensemble.score_with_uncertainty(prompts, responses)
    np.testing.assert_allclose(ensemble.score(prompts, responses), members.sum(axis=0) / 4)
    np.testing.assert_allclose(reward, members.sum(axis=0) / 4)
    np.testing.assert_allclose(spread, np.sqrt(((members - reward) ** 2).sum(axis=0) / 4))
    assert [r.n_train_pairs for r in ensemble.reports] == [120, 120]


def test_save_load_same_scores_one_directory(ensemble, data, tmp_path):
    (tmp_path / "ens").mkdir()
    (tmp_path / "ens" / "stale.txt").write_text("replaced")
    out = save_backbone_ensemble(ensemble, tmp_path / "ens", metrics={"accuracy": 0.5})
    assert sorted(p.name for p in out.iterdir()) == [
        "config.json", "member-0", "member-1", "metrics.json"
    ]
    assert [p.name for p in tmp_path.iterdir()] == ["ens"]  # no staging folder left behind
    config = json.loads((out / "config.json").read_text())
    assert config["format"] == ENSEMBLE_FORMAT and config["members"] == ["member-0", "member-1"]
    assert config["member_sizes"] == [2, 2] and config["n_members"] == 4
    assert config["aggregate"] == {"name": "min", "params": {}, "center": True}
    assert [b["kind"] for b in config["backbones"]] == ["hashing", "hashing"]
    prompts, responses = texts(data)
    loaded = load_backbone_ensemble(out)
    assert loaded.aggregation == config["aggregate"]
    np.testing.assert_array_equal(
        loaded.score_members(prompts, responses), ensemble.score_members(prompts, responses)
    )
    member = load_model(out / "member-1")
    assert isinstance(member, TrainedRewardModel) and member.config["data_fingerprint"] == "abc"


def test_load_rejects_bad_configs(ensemble, tmp_path):
    out = save_backbone_ensemble(ensemble, tmp_path / "ens")
    config = json.loads((out / "config.json").read_text())
    with pytest.raises(ValueError, match="field 'format' is 'rewardlab-reward-model'"):
        load_backbone_ensemble(out / "member-0")
    (out / "config.json").write_text(json.dumps(dict(config, members=["../member-0"])))
    with pytest.raises(ValueError, match="field 'members': '../member-0' is not a plain folder"):
        load_backbone_ensemble(out)
    (out / "config.json").write_text(json.dumps(dict(config, members=[])))
    with pytest.raises(ValueError, match="field 'members': expected a non-empty list"):
        load_backbone_ensemble(out)
    (out / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"config\.json:1: malformed JSON"):
        load_backbone_ensemble(out)


def test_empty_inputs_are_refused(data):
    with pytest.raises(ValueError, match="at least one backbone spec"):
        train_backbone_ensemble(data[0], [])
    with pytest.raises(ValueError, match="at least one sub-model"):
        BackboneEnsemble([])
    with pytest.raises(KeyError, match="did you mean 'median'"):
        aggregation_entry("medain")
