"""Weak-to-strong lab: relabelling, gold accuracy, gap recovered, and a tiny run
through ``rewardlab lab weak-to-strong``."""

from __future__ import annotations

import json

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from rewardlab.cli import lab_cmd
from rewardlab.data.record import Comparison
from rewardlab.lab.overopt.pools import CandidatePool
from rewardlab.lab.weak_to_strong import gold_accuracy, recovered, relabel, verdict


def test_relabel_puts_the_higher_scored_response_first():
    pairs = [Comparison("p", ("a", "b"), ranking=(0, 1)), Comparison("p", ("c", "d"), ranking=(0, 1))]
    out = relabel(pairs, np.array([[0.2, 0.9], [1.0, 1.0]]))
    assert [r.ranking for r in out] == [(1, 0), (0, 1)]  # a tie keeps response 0 first
    assert [r.responses for r in out] == [("a", "b"), ("c", "d")]


def test_gold_accuracy_counts_pairs_with_distinct_gold_and_half_for_reward_ties():
    # Gold (0, 1, 2, 2): pairs with distinct gold are (0,1), (0,2), (0,3), (1,2), (1,3).
    # Rewards (0, 2, 1, 1): (0,1) ✓, (0,2) ✓, (0,3) ✓, (1,2) ✗, (1,3) ✗ → 3/5.
    pool = CandidatePool(["p"] * 4, list("abcd"), np.array([0.0, 1.0, 2.0, 2.0]))
    assert gold_accuracy(pool, np.array([0.0, 2.0, 1.0, 1.0]), 4) == pytest.approx(3 / 5)
    # Rewards (0, 1, 1, 3): (1,2) is a reward tie (½), the rest ✓ → 4.5/5.
    assert gold_accuracy(pool, np.array([0.0, 1.0, 1.0, 3.0]), 4) == pytest.approx(4.5 / 5)
    # Only the first 2 candidates: one pair (0,1), ordered right.
    assert gold_accuracy(pool, np.array([0.0, 1.0, -5.0, -5.0]), 2) == 1.0


def test_gap_recovered_and_its_verdict():
    assert recovered(0.6, 0.65, 0.7, 0.01) == pytest.approx(0.5)
    assert recovered(0.6, 0.55, 0.7, 0.01) == pytest.approx(-0.5)
    assert recovered(0.6, 0.9, 0.605, 0.01) is None
    assert verdict(0.1) == "follows weak"
    assert verdict(0.8).startswith("departs")
    assert verdict(-0.5).startswith("moves past weak")
    assert verdict(None).startswith("no gap")


def test_cli_end_to_end(tmp_path):
    app = typer.Typer()
    lab_cmd.register(app)

    @app.callback()
    def main() -> None:
        """A group, so that ``lab`` stays a subcommand."""

    out = tmp_path / "w2s.json"
    result = CliRunner().invoke(
        app,
        ["lab", "weak-to-strong", "--out", str(out), "--strong", "hashing", "--weak-pairs", "60",
         "--transfer-pairs", "60", "--pool-size", "8", "--test-prompts", "4", "--prompts", "60",
         "--val-prompts", "6"],
    )
    assert result.exit_code == 0, result.output
    results = json.loads(out.read_text())
    assert set(results["attributes"]) == {
        "gold", "words", "correct", "relevant", "polite", "explanation", "padding"
    }
    for row in results["attributes"].values():
        assert row["recovered"] == recovered(row["weak"], row["w2s"], row["ceiling"], 0.02)
    assert results["max_n"] == 8 and results["curves"]["weak"][-1]["n"] == 8
    # gold at n = 1 is the pool mean whichever model ranks
    assert len({round(results["curves"][r][0]["gold"], 9) for r in ("weak", "w2s", "ceiling")}) == 1
    assert 0.0 <= results["weak_agreement_with_gold_labels"] <= 1.0
    assert "follows weak" in result.output or "departs" in result.output or "gap" in result.output
