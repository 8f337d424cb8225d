"""Preference models (prob only) in every suite and probe that compares two responses."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from rewardlab.data.record import Comparison
from rewardlab.evaluate.pairwise import evaluate_pairs
from rewardlab.evaluate.preference import copeland_scores, pair_margins, round_robin
from rewardlab.evaluate.rewardbench import evaluate_rewardbench
from rewardlab.evaluate.suite import run_evaluation
from rewardlab.optimize.preference_bon import best_of_n_by_preference

BEATS = {("rock", "scissors"), ("scissors", "paper"), ("paper", "rock")}


class CyclePreference:
    """Rock-paper-scissors beats with P = 0.8; otherwise the longer response with P = 0.7."""

    def prob(self, prompts, first, second):
        out = []
        for a, b in zip(first, second, strict=True):
            if (a, b) in BEATS:
                out.append(0.8)
            elif (b, a) in BEATS:
                out.append(0.2)
            else:
                out.append(0.5 if len(a) == len(b) else (0.7 if len(a) > len(b) else 0.3))
        return np.array(out)


PAIRS = [
    Comparison("x", ("rock", "scissors"), (0, 1), category="game"),
    Comparison("x", ("rock", "paper"), (0, 1), category="game"),
    Comparison("y", ("a long answer", "short"), (0, 1), category="text"),
    Comparison("y", ("same", "four"), (0, 1), category="text"),
]


def test_pairwise_accuracy_and_calibration_use_prob():
    res = run_evaluation(CyclePreference(), PAIRS, suite="pairs")
    # outcomes: 0.8 > ½ right, 0.2 wrong, 0.7 right, 0.5 tie = ½  →  2.5 / 4
    assert res["metrics"]["accuracy"] == pytest.approx(0.625)
    assert res["suite_results"]["per_category"]["game"]["accuracy"] == pytest.approx(0.5)
    assert res["suite_results"]["ties"] == 1
    # Brier over both orders: (0.8-1)², (0.2-1)², (0.7-1)², (0.5-1)² and their mirrors
    brier = np.mean([0.04, 0.64, 0.09, 0.25] * 2)
    assert res["calibration"]["brier"] == pytest.approx(brier)
    assert evaluate_pairs(CyclePreference(), PAIRS)["accuracy"] == pytest.approx(0.625)


def test_pairwise_probes_run_and_scalar_probes_say_what_they_need():
    res = run_evaluation(CyclePreference(), PAIRS, probes=["offtopic", "sycophancy"])
    assert 0.0 <= res["probes"]["sycophancy"]["agreement_rate"] <= 1.0
    assert res["probes"]["offtopic"]["n_probed"] >= 1
    for probe in ("length", "perturb", "attack"):
        with pytest.raises(ValueError, match=f"probe '{probe}' needs a scalar reward.*"
                                             "CyclePreference.*offtopic, sycophancy"):
            run_evaluation(CyclePreference(), PAIRS, probes=[probe])


def test_pair_margins_sign_for_both_kinds():
    class Len:
        def score(self, prompts, responses):
            return np.array([float(len(r)) for r in responses])

    np.testing.assert_allclose(pair_margins(Len(), ["p", "p"], ["abc", "a"], ["a", "abc"]),
                               [2.0, -2.0])
    np.testing.assert_allclose(pair_margins(CyclePreference(), ["p"], ["rock"], ["paper"]),
                               [-0.3])


def test_copeland_on_a_cycle_is_a_three_way_tie_and_borda_breaks_it():
    (mat,) = round_robin(CyclePreference(), ["x"], [["rock", "paper", "scissors", "zz"]])
    assert mat[0, 2] == pytest.approx(0.8) and mat[2, 0] == pytest.approx(0.2)
    (wins,) = copeland_scores(CyclePreference(), ["x"], [["rock", "paper", "scissors", "zz"]])
    # each of rock/paper/scissors beats one of the cycle and the shorter "zz" (2 of 3)
    np.testing.assert_allclose(wins, [2 / 3, 2 / 3, 2 / 3, 0.0])
    picks, _ = best_of_n_by_preference(CyclePreference(), ["x", "y"],
                                       [["rock", "paper", "scissors", "zz"], ["ab", "abcd"]])
    # Borda (mean P over the row, diagonal ½): rock .5+.2+.8+.7, paper .8+.5+.2+.7,
    # scissors .2+.8+.5+.7 — equal, so the lowest index wins; then the longer answer.
    assert picks == [0, 1]


def test_rewardbench_ranks_by_win_rate_for_a_preference_model():
    records = [
        Comparison("x", ("rock", "scissors"), (0, 1), category="alpacaeval-easy"),
        Comparison("x", ("paper", "scissors"), (0, 1), category="alpacaeval-easy"),
    ]
    res = evaluate_rewardbench(CyclePreference(), records)
    assert res["credits"] == [1.0, 0.0]
    assert res["scores_chosen"] == [1.0, 0.0] and res["scores_rejected"] == [[0.0], [1.0]]


def test_cli_eval_of_a_gpm_reports_pairwise_accuracy(tmp_path):
    from rewardlab.cli.main import app

    rng = np.random.default_rng(0)
    words = ["good", "great", "kind", "clear", "bad", "rude", "wrong", "vague"]
    rows = []
    for i in range(60):
        good = " ".join(rng.choice(words[:4], size=4))
        bad = " ".join(rng.choice(words[4:], size=4))
        rows.append({"prompt": f"question {i}", "chosen": good, "rejected": bad})
    data = tmp_path / "pairs.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    runner = CliRunner()
    gpm = tmp_path / "gpm"
    result = runner.invoke(app, ["train", "--data", str(data), "--backbone", "hashing",
                                 "--head", "gpm", "--head-params", '{"k": 2, "epochs": 20}',
                                 "--out", str(gpm)])
    assert result.exit_code == 0, result.output
    out = tmp_path / "res.json"
    result = runner.invoke(app, ["eval", "--model", str(gpm), "--data", str(data),
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    res = json.loads(out.read_text())
    assert res["suite_results"]["n_pairs"] == 60
    from rewardlab.data.load import load_comparisons
    from rewardlab.load import load_reward_model

    model = load_reward_model(gpm)
    records = load_comparisons(data).records
    probs = model.prob([r.prompt for r in records], [r.chosen for r in records],
                       [r.rejected for r in records])
    expected = np.mean(np.where(probs > 0.5, 1.0, np.where(probs < 0.5, 0.0, 0.5)))
    assert res["metrics"]["accuracy"] == pytest.approx(expected) and expected > 0.5
    result = runner.invoke(app, ["eval", "--model", str(gpm), "--data", str(data),
                                 "--out", str(out), "--probes", "length"])
    assert result.exit_code != 0 and "needs a scalar reward" in result.output
