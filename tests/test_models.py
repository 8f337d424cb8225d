"""Bradley-Terry heads: the loss formula, pairs from rankings, training, save/load."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from rewardlab.data.record import Comparison
from rewardlab.features.hashing import HashingBackbone
from rewardlab.models.heads import HEADS
from rewardlab.models.io import load_model, save_model
from rewardlab.models.losses import LOSSES, PairBatch
from rewardlab.models.training.config import TrainConfig
from rewardlab.models.training.fit import train_reward_model
from rewardlab.models.training.loop import FitResult, UnitFeatures, fit_units
from rewardlab.models.training.units import Units, pair_table
from rewardlab.protocols import RewardModel, UncertainRewardModel


def test_bt_loss_matches_hand_computation():
    chosen = torch.tensor([[1.0, 2.0, 3.0]])
    rejected = torch.tensor([[1.0, 1.0, 1.0]])  # Δ = 0, 1, 2
    expected = (math.log(2) + math.log(1 + math.exp(-1)) + math.log(1 + math.exp(-2))) / 3
    loss = LOSSES.get("bt")(PairBatch(chosen, rejected))
    assert loss.shape == (1,)
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_bt_loss_subtracts_a_margin_only_when_asked():
    chosen, rejected = torch.tensor([[2.0]]), torch.tensor([[0.0]])
    loss = LOSSES.get("bt")(PairBatch(chosen, rejected, margin=torch.tensor([[0.5]])))
    assert loss.item() == pytest.approx(math.log(1 + math.exp(-2.0)), rel=1e-6)
    marginal = LOSSES.get("bt")(PairBatch(chosen, rejected, torch.tensor([[0.5]])), use_margin=True)
    assert marginal.item() == pytest.approx(math.log(1 + math.exp(-1.5)), rel=1e-6)


def test_registry_suggests_close_names():
    with pytest.raises(KeyError, match="did you mean 'linear'"):
        HEADS.get("linaer")


def test_pair_table_expands_rankings_and_counts_skips():
    records = [
        Comparison("p", ("a", "b", "c"), ranking=(2, 0, 1), strength=1.5),
        Comparison("q", ("x", "y"), ranking=(0, 1), tie=True),
        Comparison("r", ("only",)),
    ]
    table = pair_table(records)
    assert list(zip(table.chosen, table.rejected)) == [("c", "a"), ("c", "b"), ("a", "b")]
    assert (table.skipped_ties, table.skipped_unranked) == (1, 1)
    np.testing.assert_allclose(table.margins(), [1.5, 1.5, 1.5])


@dataclass
class PairFeatures:
    """Features of the chosen (N, d) and rejected (N, d) side of N pairs."""

    chosen: np.ndarray
    rejected: np.ndarray


def pair_units_of(pairs: PairFeatures) -> UnitFeatures:
    """Pair i is rows (i, N + i) of one stacked feature matrix."""
    n = len(pairs.chosen)
    index = np.stack([np.arange(n), np.arange(n) + n], axis=1)
    return UnitFeatures(np.vstack([pairs.chosen, pairs.rejected]), Units("pairs", index))


def fit_heads(train: PairFeatures, val: PairFeatures | None, config: TrainConfig) -> FitResult:
    return fit_units(pair_units_of(train), None if val is None else pair_units_of(val), config)


def separable_features(n: int, dim: int, seed: int) -> PairFeatures:
    """Chosen has a larger first coordinate; the rest is noise."""
    rng = np.random.default_rng(seed)
    chosen, rejected = rng.normal(size=(n, dim)), rng.normal(size=(n, dim))
    swap = chosen[:, 0] < rejected[:, 0]
    chosen[swap], rejected[swap] = rejected[swap].copy(), chosen[swap].copy()
    return PairFeatures(chosen.astype(np.float32), rejected.astype(np.float32))


@pytest.mark.parametrize("head", ["linear", "mlp"])
def test_fit_learns_the_preferred_direction(head):
    train, val = separable_features(400, 8, 0), separable_features(200, 8, 1)
    result = fit_heads(train, val, TrainConfig(head=head, n_members=2, seed=0, lr=1e-2))
    final = result.history[max(result.best_epoch) - 1]
    assert min(final["val_accuracy"]) > 0.9
    with torch.no_grad():
        probe = torch.zeros(2, 1, 8)
        probe[:, :, 0] = 1.0
        up = result.head(result.normalizer(probe))
        probe[:, :, 0] = -1.0
        down = result.head(result.normalizer(probe))
    assert torch.all(up > down)


def test_members_differ_and_bootstrap_changes_them():
    train = separable_features(200, 6, 2)
    plain = fit_heads(train, None, TrainConfig(n_members=3, epochs=3, seed=0))
    weights = plain.head.weight.detach()
    assert not torch.allclose(weights[0], weights[1])
    boot = fit_heads(train, None, TrainConfig(n_members=3, epochs=3, seed=0, bootstrap=True))
    assert not torch.allclose(boot.head.weight.detach(), weights)


def test_fit_is_deterministic_given_seed():
    train = separable_features(150, 5, 3)
    a = fit_heads(train, None, TrainConfig(epochs=3, seed=7)).head.weight.detach()
    b = fit_heads(train, None, TrainConfig(epochs=3, seed=7)).head.weight.detach()
    c = fit_heads(train, None, TrainConfig(epochs=3, seed=8)).head.weight.detach()
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_centering_pulls_pair_sums_to_zero():
    """A per-pair offset shared by chosen and rejected cancels in Δ, so BT leaves its
    weight wherever initialization put it; η·E[(r⁺ + r⁻)²] drives it to zero."""
    train = separable_features(300, 4, 4)
    offset = np.random.default_rng(9).normal(scale=3.0, size=(300, 1)).astype(np.float32)
    train.chosen[:, 1:2] = offset
    train.rejected[:, 1:2] = offset

    def mean_squared_pair_sum(weight: float) -> float:
        config = TrainConfig(center_weight=weight, epochs=100, lr=1e-2, seed=0)
        result = fit_heads(train, None, config)
        with torch.no_grad():
            rc = result.head(result.normalizer(torch.from_numpy(train.chosen))[None])
            rr = result.head(result.normalizer(torch.from_numpy(train.rejected))[None])
            return ((rc + rr) ** 2).mean().item()

    assert mean_squared_pair_sum(1.0) < 0.2 * mean_squared_pair_sum(0.0)


def quality_records(n: int, seed: int) -> list[Comparison]:
    """Good answers state a capital; bad ones hedge with a wrong guess. Known answer."""
    rng = np.random.default_rng(seed)
    cities = ["Paris", "Rome", "Madrid", "Berlin", "Vienna", "Lisbon", "Oslo", "Prague"]
    countries = ["France", "Italy", "Spain", "Germany", "Austria", "Portugal", "Norway", "Czechia"]
    records = []
    for i in range(n):
        k = int(rng.integers(len(cities)))
        wrong = cities[(k + 1 + int(rng.integers(len(cities) - 1))) % len(cities)]
        prompt = f"Question {i}: what is the capital of {countries[k]}?"
        good = f"The capital of {countries[k]} is {cities[k]}."
        bad = f"Not sure, maybe {wrong}? I cannot really say."
        records.append(Comparison(prompt, (good, bad), (0, 1)))
    return records


def test_trained_model_ranks_the_right_answer_higher_on_new_prompts():
    model, report = train_reward_model(
        quality_records(300, 0), HashingBackbone(n_features=2**10), TrainConfig(seed=0),
        quality_records(60, 1),
    )
    assert isinstance(model, RewardModel) and isinstance(model, UncertainRewardModel)
    test = quality_records(100, 2)
    good = model.score([r.prompt for r in test], [r.chosen for r in test])
    bad = model.score([r.prompt for r in test], [r.rejected for r in test])
    assert np.mean(good > bad) > 0.9
    assert report.n_train_pairs == 300 and report.n_val_pairs == 60


def test_save_load_gives_identical_scores_and_never_pickles(tmp_path):
    model, _ = train_reward_model(
        quality_records(80, 0), HashingBackbone(n_features=256),
        TrainConfig(head="mlp", n_members=3, epochs=3), quality_records(20, 1),
        data_fingerprint="abc",
    )
    out = save_model(model, tmp_path / "rm", metrics={"accuracy": 1.0})
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "metrics.json", "model.safetensors"]
    config = json.loads((out / "config.json").read_text())
    assert config["backbone"]["kind"] == "hashing" and config["head"]["name"] == "mlp"
    assert config["data_fingerprint"] == "abc" and config["n_members"] == 3
    loaded = load_model(out)
    test = quality_records(30, 5)
    prompts, responses = [r.prompt for r in test], [r.chosen for r in test]
    np.testing.assert_array_equal(loaded.score_members(prompts, responses),
                                  model.score_members(prompts, responses))
    assert loaded.score_members(prompts, responses).shape == (3, 30)


def test_uncertainty_from_members_and_from_mc_dropout():
    records, val = quality_records(80, 0), quality_records(20, 1)
    ensemble, _ = train_reward_model(records, HashingBackbone(256), TrainConfig(n_members=4, epochs=3), val)
    mean, spread = ensemble.score_with_uncertainty(["p"] * 3, ["a", "b c", "d e f"])
    members = ensemble.score_members(["p"] * 3, ["a", "b c", "d e f"])
    np.testing.assert_allclose(spread, members.std(axis=0))
    np.testing.assert_allclose(mean, members.mean(axis=0))

    single, _ = train_reward_model(
        records, HashingBackbone(256), TrainConfig(head="mlp", head_params={"dropout": 0.3}, epochs=3), val
    )
    reward, mc_spread = single.score_with_uncertainty(["p"] * 3, ["a", "b c", "d e f"])
    np.testing.assert_allclose(reward, single.score(["p"] * 3, ["a", "b c", "d e f"]))
    assert np.all(mc_spread > 0)

    linear, _ = train_reward_model(records, HashingBackbone(256), TrainConfig(epochs=3), val)
    assert np.all(linear.score_with_uncertainty(["p"], ["a"])[1] == 0)


def test_load_rejects_a_foreign_directory(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(ValueError, match="field 'format'"):
        load_model(tmp_path)
    with pytest.raises(FileNotFoundError, match="no config.json"):
        load_model(tmp_path / "missing")
