"""Every option of ``lab overopt``'s components × every component: the option either changes
the results or is refused with exit 2 before the experiment starts (issue 25: an option a
component does not read is never silently dropped).

The components are the optimizers (``bon``, ``kl``, ``pg``) and the pool sources
(``synthetic``, a candidate file); each option is given one value away from its default.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import rewardlab.lab.overopt as overopt_module
from rewardlab.cli.main import app

runner = CliRunner()
TINY = ["--proxy-sizes", "30", "--ensemble", "1", "--aggregate", "", "--n-prompts", "40",
        "--test-prompts", "3", "--val-prompts", "4", "--pool-size", "6"]
OPTIMIZER_OPTIONS = {  # option → a value away from its default
    "--n": "1,3,6", "--pg-steps": "12", "--pg-beta": "0.5", "--pg-lr": "1.5", "--pg-group": "4",
    "--pg-clip": "0.2",
}
POOL_OPTIONS = {"--n-prompts": "44", "--test-prompts": "4", "--val-prompts": "5",
                "--pool-size": "5", "--length-correlation": "0.3", "--max-test-prompts": "3"}
READS = {  # what each component declares (rewardlab.lab.overopt.config)
    "bon": {"--n"}, "kl": {"--n"},
    "pg": {"--pg-steps", "--pg-beta", "--pg-lr", "--pg-group", "--pg-clip"},
    "synthetic": {"--n-prompts", "--test-prompts", "--val-prompts", "--pool-size",
                  "--length-correlation"},
    "file": {"--max-test-prompts"},
}


def settings(out: Path) -> list:
    """The results that an option may change (timings dropped)."""
    found = json.loads((out / "results.json").read_text())["settings"]
    for setting in found:
        setting["train"].pop("fit_seconds", None)
    return found


def run(tmp_path: Path, name: str, args: list[str]) -> list:
    out = tmp_path / name
    result = runner.invoke(app, ["lab", "overopt", "--out", str(out), *args])
    assert result.exit_code == 0, result.output
    return settings(out)


def refused(tmp_path: Path, monkeypatch, args: list[str], option: str) -> None:
    def started(*_args, **_kwargs):
        raise AssertionError("the experiment started before its options were checked")

    monkeypatch.setattr(overopt_module, "run_overopt", started)
    result = runner.invoke(app, ["lab", "overopt", "--out", str(tmp_path / "no"), *args])
    assert result.exit_code == 2, result.output
    assert f"Invalid value for '{option}'" in result.stderr and "not read by" in result.stderr
    assert not (tmp_path / "no").exists()
    monkeypatch.undo()


def file_pool(path: Path) -> Path:
    """20 prompts × 5 candidates, gold = 1 for 'good' responses."""
    rng = np.random.default_rng(0)
    rows = [{"prompt": f"q{p}", "response": f"{'good' if rng.random() < 0.5 else 'bad'} {c} {p}",
             "gold": 0.0} for p in range(20) for c in range(5)]
    for row in rows:
        row["gold"] = float(row["response"].startswith("good"))
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


@pytest.mark.slow
def test_every_optimizer_option_changes_the_results_or_is_refused(tmp_path, monkeypatch):
    for optimizer in ("bon", "kl", "pg"):
        base_args = [*TINY, "--optimizer", optimizer]
        baseline = run(tmp_path, optimizer, base_args)
        for option, value in OPTIMIZER_OPTIONS.items():
            args = [*base_args, option, value]
            if option in READS[optimizer]:
                changed = run(tmp_path, f"{optimizer}{option}", args)
                assert changed != baseline, f"{option} {value} changed nothing for {optimizer}"
            else:
                refused(tmp_path, monkeypatch, args, option)


def test_every_pool_option_changes_the_results_or_is_refused(tmp_path, monkeypatch):
    pool = file_pool(tmp_path / "pool.jsonl")
    file_args = ["--pool", str(pool), "--proxy-sizes", "20", "--ensemble", "1", "--aggregate", ""]
    baselines = {"synthetic": run(tmp_path, "synthetic", TINY),
                 "file": run(tmp_path, "file", file_args)}
    for source, base_args in (("synthetic", TINY), ("file", file_args)):
        for option, value in POOL_OPTIONS.items():
            args = [*base_args, option, value]
            if option in READS[source]:
                changed = run(tmp_path, f"{source}{option}", args)
                assert changed != baselines[source], f"{option} changed nothing for {source}"
            else:
                refused(tmp_path, monkeypatch, args, option)
