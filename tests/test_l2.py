"""The head's L2 penalty, its free length coefficient and the cross-validated choice of λ."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rewardlab.models.heads.linear import LinearHead
from rewardlab.models.heads.mlp import MLPHead
from rewardlab.models.training.config import TrainConfig
from rewardlab.models.training.l2_select import fold_of_units, select_l2
from rewardlab.models.training.loop import UnitFeatures, fit_units
from rewardlab.models.training.units import Units


def test_folds_keep_prompt_groups_whole_and_are_seeded():
    groups = np.repeat(np.arange(20), 3)  # 20 prompts, 3 units each
    folds = fold_of_units(groups, 5, seed=0)
    for g in range(20):
        assert len(set(folds[groups == g])) == 1, "a prompt's units share one fold"
    assert sorted(np.bincount(folds).tolist()) == [12] * 5
    np.testing.assert_array_equal(folds, fold_of_units(groups, 5, seed=0))
    assert not np.array_equal(folds, fold_of_units(groups, 5, seed=1))
    # one prompt compared many ways: the units themselves are dealt into folds
    assert sorted(np.bincount(fold_of_units(np.zeros(10), 5, 0)).tolist()) == [2] * 5
    with pytest.raises(ValueError, match="needs 5 units"):
        fold_of_units(np.zeros(3), 5, 0)


def test_one_standard_error_rule_by_hand():
    # λ = 0.1: fold losses 0.45, 0.49 -> mean 0.47, SE = std(ddof=1)/√2 = 0.0283/1.414 = 0.02
    # λ = 1:   0.48, 0.48 -> 0.48 ≤ 0.47 + 0.02, so the larger λ = 1 is chosen
    # λ = 10:  0.60, 0.60 -> outside
    table = {0: [0.45, 0.48, 0.60], 1: [0.49, 0.48, 0.60]}
    calls = []

    def fit(train_mask, held_out, grid):
        fold = len(calls)
        calls.append((train_mask.sum(), held_out.sum()))
        return np.array(table[fold]), np.array([0.7, 0.6, 0.5])

    chosen = select_l2(np.arange(8), [0.1, 1.0, 10.0], 2, 0, fit)
    assert chosen.selected == 1.0
    np.testing.assert_allclose(chosen.cv_loss, [0.47, 0.48, 0.60])
    assert chosen.cv_accuracy == pytest.approx([0.7, 0.6, 0.5])
    assert calls == [(4, 4), (4, 4)]
    table[0][1] = table[1][1] = 0.50  # now λ = 1 is more than one SE worse
    calls.clear()
    assert select_l2(np.arange(8), [0.1, 1.0, 10.0], 2, 0, fit).selected == 0.1


def test_penalties_by_hand_leave_free_columns_out():
    head = LinearHead(3, n_members=2)
    with torch.no_grad():
        head.weight.copy_(torch.tensor([[1.0, 2.0, 3.0], [0.0, -1.0, 2.0]]))
    torch.testing.assert_close(head.l2_penalty(), torch.tensor([14.0, 5.0]))
    torch.testing.assert_close(head.l2_penalty((2,)), torch.tensor([5.0, 1.0]))
    mlp = MLPHead(2, n_members=1, hidden=2)
    with torch.no_grad():
        mlp.w1.copy_(torch.tensor([[[1.0, 1.0], [2.0, 0.0]]]))
        mlp.w2.copy_(torch.tensor([[3.0, 0.0]]))
    # W1 rows: (1, 1) and (2, 0) -> 2 + 4; w2 -> 9
    torch.testing.assert_close(mlp.l2_penalty(), torch.tensor([15.0]))
    torch.testing.assert_close(mlp.l2_penalty((1,)), torch.tensor([11.0]))


def length_task(n: int = 400, d: int = 40, seed: int = 0) -> UnitFeatures:
    """Pairs whose label is 'the longer response wins'; the other columns are noise."""
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(2 * n, d + 1)).astype(np.float32)
    features[:, d] = rng.uniform(1, 6, size=2 * n)
    first, second = np.arange(n), np.arange(n) + n
    longer = features[first, d] > features[second, d]
    index = np.stack([np.where(longer, first, second), np.where(longer, second, first)], axis=1)
    groups = np.arange(n)
    return UnitFeatures(features, Units("pairs", index), groups)


def test_a_strong_penalty_shrinks_noise_weights_but_not_a_free_length_coefficient():
    data = length_task()
    config = TrainConfig(l2=3.0, epochs=60, patience=60, lr=2e-2, center_weight=0.0)
    free = fit_units(data, None, config, free_columns=(40,)).head.weight.detach()[0]
    shrunk = fit_units(data, None, config).head.weight.detach()[0]
    plain = fit_units(data, None, TrainConfig(l2=0.0, epochs=60, patience=60, lr=2e-2,
                                              center_weight=0.0)).head.weight.detach()[0]
    assert free[40] > 3 * shrunk[40] > 0, "only the penalized length weight is pulled to zero"
    assert free[:40].norm() < 0.5 * plain[:40].norm(), "noise weights shrink"


def test_auto_picks_weak_penalty_for_clean_signal_and_strong_for_noise():
    clean = length_task(seed=1)
    noisy = length_task(seed=1)
    flip = np.random.default_rng(2).random(len(noisy.units)) < 0.45
    noisy.units.index[flip] = noisy.units.index[flip][:, ::-1]
    config = TrainConfig(epochs=30, lr=2e-2, l2_grid=(0.001, 0.1, 10.0))
    clean_fit = fit_units(clean, None, config)
    noisy_fit = fit_units(noisy, None, config)
    assert clean_fit.l2 == 0.001 and clean_fit.l2_selection.selected == 0.001
    assert noisy_fit.l2 == 10.0
    assert len(noisy_fit.l2_selection.cv_loss) == 3
    with pytest.raises(ValueError, match="l2"):
        fit_units(clean, None, TrainConfig(l2=[0.1, 0.2]))


def test_cross_validated_penalty_beats_none_on_real_alpaca_eval(shared_data):
    from rewardlab.data.load import load_comparisons
    from rewardlab.data.split import split_by_prompt
    from rewardlab.evaluate.pairwise import evaluate_pairs
    from rewardlab.features.hashing import HashingBackbone
    from rewardlab.models.training.fit import train_reward_model

    records = load_comparisons(shared_data / "alpaca-eval", pairs_per_prompt=3).records
    rest, test = split_by_prompt(records, (0.8, 0.2), 0)
    train, val = split_by_prompt(rest, (0.9, 0.1), 0)
    backbone = HashingBackbone(1024)
    auto, report = train_reward_model(train, backbone, TrainConfig(), val)
    plain, _ = train_reward_model(train, backbone, TrainConfig(l2=0.0), val)
    assert report.l2["selection"]["selected"] == report.l2["value"] > 0
    assert report.l2["free_columns"] == [backbone.length_column]
    tuned, untuned = evaluate_pairs(auto, test), evaluate_pairs(plain, test)
    assert tuned["accuracy"] > untuned["accuracy"] + 0.01
    assert tuned["accuracy"] > tuned["length_baseline_accuracy"]
