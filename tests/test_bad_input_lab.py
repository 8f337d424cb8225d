"""Bad options to ``rewardlab lab overopt | weak-to-strong | constrained``: exit code 2, one
``error: Invalid value for '--x': …`` line naming the option, no traceback, no output file,
and nothing run: the experiments are replaced by a function that fails the test if called,
so every case must be refused before any data is read or any model trained.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import rewardlab.lab.overopt as overopt_module
import rewardlab.lab.overopt.components as components_module
import rewardlab.lab.weak_to_strong as w2s_module
from rewardlab.cli.common import choice, lookup
from rewardlab.cli.main import app
from rewardlab.robust.aggregate import AGGREGATIONS

runner = CliRunner()


@pytest.fixture(autouse=True)
def nothing_runs(monkeypatch):
    """Any experiment that starts is a failure: the options must be refused first."""

    def started(*args, **kwargs):
        raise AssertionError("the experiment started before its options were checked")

    monkeypatch.setattr(overopt_module, "run_overopt", started)
    monkeypatch.setattr(w2s_module, "run_weak_to_strong", started)
    monkeypatch.setattr(components_module, "run_components", started)


def run_bad(tmp_path: Path, command: str, extra: list[str]) -> str:
    """Run ``rewardlab lab COMMAND --out OUT EXTRA``; check exit 2, one error line, no
    traceback and no new file under ``tmp_path``. Returns the error line."""
    out = tmp_path / "out"
    result = runner.invoke(app, ["lab", command, "--out", str(out), *extra])
    output = result.output
    assert "Traceback" not in output, output
    assert result.exit_code == 2, output
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, output
    assert list(tmp_path.iterdir()) == [], errors[0]
    return errors[0]


OVEROPT = [
    # (options, option named, text the reason holds)
    (["--pg-steps", "0"], "--pg-steps", "must be >= 1"),
    (["--pg-group", "1"], "--pg-group", "must be >= 2"),
    (["--pg-beta", "0"], "--pg-beta", "must be > 0"),
    (["--pg-beta", "-0.1"], "--pg-beta", "must be > 0"),
    (["--pg-beta", "nan"], "--pg-beta", "finite"),
    (["--pg-lr", "0"], "--pg-lr", "must be > 0"),
    (["--pg-lr", "inf"], "--pg-lr", "finite"),
    (["--pg-clip", "0"], "--pg-clip", "must be > 0"),
    (["--pg-clip", "1"], "--pg-clip", "must be < 1"),
    (["--ensemble", "0"], "--ensemble", "must be >= 1"),
    (["--aggregate-params", '{"uwo": {"lam": -1}}'], "--aggregate-params",
     "option 'lam': must be >= 0"),
    (["--length-correlation", "1.5"], "--length-correlation", "must be <= 1"),
    (["--pool-size", "1"], "--pool-size", "must be >= 2"),
    (["--test-prompts", "0"], "--test-prompts", "must be >= 1"),
    (["--n-prompts", "-5"], "--n-prompts", "must be >= 1"),
    (["--val-prompts", "0"], "--val-prompts", "must be >= 1"),
    (["--max-test-prompts", "0"], "--max-test-prompts", "must be >= 1"),
    (["--label-noise", "0,0.7"], "--label-noise", "'0.7'"),
    (["--label-noise", "0,-0.1"], "--label-noise", "'-0.1'"),
    (["--label-noise", "a"], "--label-noise", "'a'"),
    (["--label-noise", ""], "--label-noise", "[0, 0.5], at least one"),
    (["--proxy-sizes", "1000,0"], "--proxy-sizes", "'0'"),
    (["--proxy-sizes", "10,2.5"], "--proxy-sizes", "'2.5'"),
    (["--n", "1,x"], "--n", "'x'"),
    (["--n", "1,0"], "--n", "'0'"),
    (["--n", "2,4"], "--n", "starting at 1"),
    (["--n", "1,4,2"], "--n", "increasing"),
    (["--optimizer", "bon,kll"], "--optimizer", "did you mean 'kl'?"),
    (["--optimizer", ","], "--optimizer", "at least one"),
    (["--aggregate", "nope"], "--aggregate", "unknown aggregation 'nope'"),
    (["--aggregate", "uwoo"], "--aggregate", "did you mean 'uwo'"),
    (["--aggregate", "mean", "--ensemble", "1"], "--aggregate", "--ensemble >= 2"),
    (["--backbone", ""], "--backbone", "at least one"),
    (["--pool", "no-such-pool"], "--pool", "'no-such-pool'"),
    (["--pool", "alpaca-eval"], "--data", "AlpacaEval folder"),
    # an option of a component that is not chosen (issue 25: refused, never dropped)
    (["--pg-steps", "7"], "--pg-steps", "not read by --optimizer bon"),
    (["--optimizer", "pg", "--n", "1,2"], "--n", "not read by --optimizer pg"),
    (["--pool", "alpaca-eval", "--data", "d", "--pool-size", "9"], "--pool-size",
     "not read by --pool alpaca-eval"),
    (["--max-test-prompts", "3"], "--max-test-prompts", "not read by --pool synthetic"),
    (["--aggregate", "wco", "--aggregate-params", '{"uwo": {"lam": 1}}'], "--aggregate-params",
     "'uwo' is not a reading compared here"),
    (["--aggregate-params", '{"wco": {"lam": 1}}'], "--aggregate-params",
     "aggregation 'wco' takes no parameters"),
]

WEAK_TO_STRONG = [
    (["--weak-pairs", "1"], "--weak-pairs", "must be >= 2"),
    (["--transfer-pairs", "0"], "--transfer-pairs", "must be >= 2"),
    (["--label-noise", "0.6"], "--label-noise", "[0, 0.5]"),
    (["--label-noise", "-0.01"], "--label-noise", "[0, 0.5]"),
    (["--label-noise", "0.1,0.2"], "--label-noise", "runs one label-flip rate, got 2 (0.1,0.2)"),
    (["--pool-size", "1"], "--pool-size", "must be >= 2"),
    (["--test-prompts", "0"], "--test-prompts", "must be >= 1"),
    (["--n-prompts", "0"], "--n-prompts", "must be >= 1"),
    (["--val-prompts", "0"], "--val-prompts", "must be >= 1"),
    (["--length-correlation", "-2"], "--length-correlation", "must be >= -1"),
]

CONSTRAINED = [
    (["--proxy-size", "0"], "--proxy-size", "must be >= 1"),
    (["--label-noise", "1"], "--label-noise", "[0, 0.5]"),
    (["--label-noise", "0,0.25"], "--label-noise", "runs one label-flip rate"),
    (["--pg-steps", "0"], "--pg-steps", "must be >= 1"),
    (["--pg-beta", "0"], "--pg-beta", "must be > 0"),
    (["--pg-lr", "-1"], "--pg-lr", "must be > 0"),
    (["--lagrange-lr", "0"], "--lagrange-lr", "must be > 0"),
    (["--pool-size", "1"], "--pool-size", "must be >= 2"),
    (["--test-prompts", "0"], "--test-prompts", "must be >= 1"),
    (["--n-prompts", "0"], "--n-prompts", "must be >= 1"),
    (["--val-prompts", "0"], "--val-prompts", "must be >= 1"),
]

CASES = [
    pytest.param(command, extra, option, reason, id=f"{command}{' '.join(extra)}")
    for command, cases in (
        ("overopt", OVEROPT), ("weak-to-strong", WEAK_TO_STRONG), ("constrained", CONSTRAINED)
    )
    for extra, option, reason in cases
]


@pytest.mark.parametrize(("command", "extra", "option", "reason"), CASES)
def test_bad_lab_option(tmp_path, command, extra, option, reason):
    line = run_bad(tmp_path, command, extra)
    assert line.startswith(f"error: Invalid value for '{option}':"), line
    assert reason in line, line


def test_lookup_names_the_option_and_returns_the_item():
    assert lookup(AGGREGATIONS, "uwo", "--aggregate") is AGGREGATIONS.get("uwo")
    with pytest.raises(Exception, match="did you mean 'median'") as caught:
        lookup(AGGREGATIONS, "medain", "--aggregate")
    assert caught.value.param_hint == "'--aggregate'"


def test_choice_suggests_the_closest_allowed_names():
    assert choice("kl", ("bon", "kl", "pg"), "--optimizer") == "kl"
    with pytest.raises(Exception, match=r"unknown value 'zzz' \(allowed: bon, kl, pg\)"):
        choice("zzz", ("bon", "kl", "pg"), "--optimizer")
