"""Agreement between reward models: τ-b, Spearman, pair agreement, ensemble disagreement."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rewardlab.data.record import Comparison
from rewardlab.evaluate.agreement import (
    compare_models,
    ensemble_disagreement,
    pairwise_agreement,
    rank_correlation,
)
from rewardlab.models.baselines import LengthReward


def test_rank_correlation_by_hand():
    res = rank_correlation([1, 2, 3, 4], [1, 3, 2, 4])
    assert res["kendall_tau_b"] == pytest.approx((5 - 1) / 6)
    assert res["spearman"] == pytest.approx(1 - 6 * 2 / (4 * (16 - 1)))


def test_tau_b_tie_correction():
    # nc = 2, nd = 0, one tie in a: τ-b = 2 / sqrt((3 - 1) · 3), not τ-a = 2/3
    res = rank_correlation([1, 1, 2], [1, 2, 3])
    assert res["kendall_tau_b"] == pytest.approx(2 / math.sqrt(6))


def test_pairwise_agreement_by_hand():
    assert pairwise_agreement([1, -1, 0, 2], [3, 1, 0, -1]) == 0.5


def test_ensemble_disagreement_by_hand():
    res = ensemble_disagreement(np.array([[1, 2], [3, 2]]), np.array([[0, 3], [0, 1]]))
    assert res["mean_std"] == pytest.approx((1 + 0 + 0 + 1) / 4)
    assert res["order_disagreement"] == 0.5


def test_compare_models_opposite_length_rewards():
    pairs = [Comparison("p", ("a b c", "a"), (0, 1)), Comparison("q", ("a", "a b"), (0, 1))]
    res = compare_models([LengthReward(), LengthReward(sign=-1.0)], pairs)
    assert res["pairwise"]["0-1"]["pair_agreement"] == 0.0
    assert res["pairwise"]["0-1"]["spearman"] == pytest.approx(-1.0)
    assert res["ensemble"]["order_disagreement"] == 1.0


def test_the_compare_verb_scores_each_reward_once_in_batches_with_the_same_numbers(tmp_path):
    """The verb scores every response once per reward, 256 a call, and reports what
    compare_models and starc_between give."""
    import json

    from model_kinds import head_model
    from rewardlab.evaluate.starc import starc_between
    from rewardlab.load import load_reward_model
    from rewardlab.verbs.compare import CompareSpec, compare
    from rewardlab.verbs.evaluate import load_records

    rows = [{"prompt": f"q {i % 7}", "chosen": "the sky " * (i % 5 + 1) + str(i),
             "rejected": "no " * (i % 3 + 1) + str(i)} for i in range(200)]
    data = tmp_path / "pairs.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    first, second = head_model(tmp_path / "a"), head_model(tmp_path / "b", seed=3)
    calls = []
    result = compare(CompareSpec(model=f"{first},{second}", data=str(data),
                                 out=tmp_path / "c.json"),
                     progress=lambda *call: calls.append(call))
    models = [load_reward_model(str(first)), load_reward_model(str(second))]
    records = load_records(str(data), "auto")
    expected = compare_models(models, records)
    assert result.results["pairwise"]["0-1"] == pytest.approx(expected["pairwise"]["0-1"])
    assert result.results["ensemble"] == pytest.approx(expected["ensemble"])
    starc = starc_between(*models, [r.prompt for r in records],
                          [list(r.responses) for r in records])
    assert result.results["starc"]["0-1"] == pytest.approx(starc)
    scored = [(done, total) for phase, done, total in calls if phase.startswith("scoring 0:")]
    assert scored == [(0, 400), (256, 400), (400, 400)]
    assert [c for c in calls if c[0] == "load"] == [("load", 0, 2), ("load", 1, 2),
                                                     ("load", 2, 2)]
