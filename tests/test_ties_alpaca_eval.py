"""AlpacaEval pairs closer than --min-gap kept as ties, and the tie losses trained on them."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from rewardlab.data.load import load_comparisons
from test_data_formats import _alpaca_folder
from test_train_objectives import arena, train_cli  # noqa: F401  (arena is a fixture)

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def test_sub_gap_pairs_become_ties_only_when_asked(tmp_path):
    folder = _alpaca_folder(tmp_path)
    plain = load_comparisons(folder, pairs_per_prompt=None).records
    assert len(plain) == 7 and not any(r.tie for r in plain)
    records = load_comparisons(folder, pairs_per_prompt=None, ties_below_gap=True).records
    # the two pairs with gap 0.05 < 0.1 (B 1.55 vs base 1.5; B 1.05 vs A 1.0) join as ties
    ties = {(r.meta["instruction_id"], r.meta["generators"]) for r in records if r.tie}
    assert ties == {(1, ("B", "base")), (2, ("B", "A"))}
    assert len(records) == 9
    assert {r.source for r in records if not r.tie} == {r.source for r in plain}
    tie = next(r for r in records if r.tie and r.meta["instruction_id"] == 2)
    assert tie.ratings == ({"judge": 1.05}, {"judge": 1.0}) and tie.ranking == (0, 1)


def test_cli_rao_kupper_and_davidson_learn_from_sub_gap_ties(arena, tmp_path):  # noqa: F811
    # gaps: good−bad 0.8 (a preference at --min-gap 0.5), every other pair 0.4 or 0 (ties)
    options = ("--ties-below-gap", "--min-gap", "0.5", "--l2", "0")
    for loss, key in (("rao-kupper", "log_theta_minus_one"), ("davidson", "log_nu")):
        metrics = train_cli(arena, tmp_path / loss, "--loss", loss, *options)
        assert metrics["train"]["unit_kind"] == "ties" and metrics["train"]["skipped_ties"] == 0
        assert metrics["test"]["accuracy"] > 0.9
        config = json.loads((tmp_path / loss / "config.json").read_text())
        assert config["loss"]["learned"][key][0] > 0  # most pairs tie: θ > 2, ν > 1
    bt = train_cli(arena, tmp_path / "bt", *options)
    assert bt["train"]["skipped_ties"] > bt["train"]["n_train_pairs"]


def test_tie_benchmark_runs_on_a_tiny_folder(tmp_path):
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import ties_alpaca_eval
    finally:
        sys.path.remove(str(BENCHMARKS))
    folder = _alpaca_folder(tmp_path / "data")
    out = tmp_path / "ties.json"
    result = ties_alpaca_eval.main(
        ["--data", str(folder), "--test-fraction", "0.5", "--val-fraction", "0", "--out", str(out)]
    )
    assert json.loads(out.read_text())["results"].keys() == {"bt", "davidson", "rao-kupper"}
    bt, rk = result["results"]["bt"], result["results"]["rao-kupper"]
    assert bt["tie_log_likelihood"] is None and bt["log_likelihood"] is None
    assert rk["tie_log_likelihood"] < 0 and rk["tie_parameter"]["theta"] > 1
    assert result["ties"] == 2
    theta = rk["tie_parameter"]["theta"]
    assert rk["tie_parameter"]["p_tie_at_zero"] == pytest.approx((theta - 1) / (theta + 1))
