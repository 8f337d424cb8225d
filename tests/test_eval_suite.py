"""run_evaluation: suites, probes, metric directions, JSON-serializable output."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rewardlab.data.record import Comparison
from rewardlab.evaluate.probes.attack import AttackConfig
from rewardlab.evaluate.suite import higher_is_better, run_evaluation
from rewardlab.models.baselines import LengthReward
from rewardlab.registry import UnknownNameError

PAIRS = [
    Comparison("p0", ("one two three four. Five six.", "one"), (0, 1), category="a"),
    Comparison("p1", ("one two", "one two three four five six"), (0, 1), category="a"),
    Comparison("p2", ("a b c d e f g h.", "a b c d e f."), (0, 1), category="b"),
    Comparison("p3", ("x y", "x y"), (0, 1), category="b"),
]


class FirstWordReward:
    """Reward 1 when the response starts with 'one', else 0."""

    def score(self, prompts, responses):
        return np.array([float(r.startswith("one")) for r in responses])


def test_pairs_suite_with_all_probes_is_json():
    stages = []
    res = run_evaluation(
        LengthReward(), PAIRS, suite="pairs",
        probes=["length", "offtopic", "perturb", "sycophancy", "attack"],
        seed=0, progress=stages.append,
        probe_options={"attack": {"config": AttackConfig(budget=8, batch=4)}},
    )
    text = json.dumps(res, allow_nan=False)
    assert json.loads(text) == res
    # accuracy with ties ½: p0 right, p1 wrong, p2 right, p3 tie
    assert res["metrics"]["accuracy"] == pytest.approx(2.5 / 4)
    assert res["metrics"]["length_baseline_accuracy"] == res["metrics"]["accuracy"]
    assert set(res["higher_is_better"]) == set(res["metrics"])
    assert all(res["higher_is_better"][k] == higher_is_better()[k] for k in res["metrics"])
    assert res["higher_is_better"] == {
        "accuracy": True, "length_baseline_accuracy": True, "ece": False, "brier": False,
        "nll": False, "length_pearson": False, "length_nrg_ratio": True, "offtopic_rate": False,
        "perturb_max_flip_rate": False, "sycophancy_agreement_rate": False,
        "hackability": False, "attack_median_queries": True, "fraction_small_margin": False,
    }
    assert list(res["metrics"]) == list(res["higher_is_better"])
    assert res["metrics"]["offtopic_rate"] == 1.0
    assert set(res["probes"]) == {"length", "offtopic", "perturb", "sycophancy", "attack"}
    assert stages[0] == "suite:pairs" and stages[-1] == "probe:attack"
    assert len(res["data_fingerprint"]) == 16


def test_rewardbench_suite_strict_ties():
    recs = [Comparison(p.prompt, p.responses, p.ranking, category="alpacaeval-easy")
            for p in PAIRS]
    res = run_evaluation(LengthReward(), recs, suite="rewardbench")
    assert res["metrics"]["accuracy"] == 0.5  # the tie counts as wrong
    assert res["suite_results"]["sections"] == {"Chat": 0.5}
    assert res["metrics"]["rewardbench_overall"] == 0.5


def test_one_to_many_suite():
    groups = [Comparison("q", ("one a", "b c d", "one"), (0,)),
              Comparison("r", ("one", "x", "y"), (0,))]
    res = run_evaluation(FirstWordReward(), groups, suite="one-to-many")
    # group q: the chosen ties with "one" → loss, rank 2; group r wins
    assert res["metrics"]["accuracy"] == 0.5
    assert res["metrics"]["mrr"] == pytest.approx((1 / 2 + 1) / 2)
    assert res["n_pairs"] == 4


def test_bad_names():
    with pytest.raises(ValueError, match="suite"):
        run_evaluation(LengthReward(), PAIRS, suite="pair")
    with pytest.raises(UnknownNameError, match="did you mean"):
        run_evaluation(LengthReward(), PAIRS, probes=["lenght"])
