"""The option walk (issue 25) of ``rewardlab data digits``: for each task, every declared
option changes the files written (the Parquet train, test and test-gold sets), or is
refused (exit 2, one line naming it) before anything is drawn."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from option_walk import command_flags, flags
from rewardlab.cli.main import app
from rewardlab.verbs.digits import TASK_READS, DigitsSpec

runner = CliRunner()
TINY = ["--n-pairs", "6", "--test-pairs", "4", "--n-prompts", "10"]
VALUES = {"--n-pairs": ["--n-pairs", "7"], "--test-pairs": ["--test-pairs", "5"],
          "--n-prompts": ["--n-prompts", "12"], "--size-correlation": ["--size-correlation", "0"],
          "--label-noise": ["--label-noise", "0.5"], "--seed": ["--seed", "3"]}
SELECTORS = {"--out", "--task"}
FLAG_OF = {f"--{name.replace('_', '-')}": name for name in TASK_READS["gold"]}


def written(tmp_path, task: str, *extra: str) -> dict[str, bytes]:
    """The Parquet files ``data digits`` writes for ``task`` with the tiny sizes (``noise``
    has no test-gold set)."""
    out = tmp_path / "out"
    args = TINY if task == "gold" else TINY[:4]
    result = runner.invoke(app, ["data", "digits", "--out", str(out), "--task", task, *args,
                                 *extra])
    assert result.exit_code == 0, result.output
    return {path.name: path.read_bytes() for path in sorted(out.glob("*.parquet"))}


def test_every_option_is_walked():
    declared = flags(DigitsSpec)
    assert command_flags("data", "digits") == declared
    assert set(VALUES) | SELECTORS == declared


@pytest.mark.parametrize("task", sorted(TASK_READS))
@pytest.mark.parametrize("option", sorted(VALUES))
def test_an_option_changes_the_files_or_is_refused(task, option, tmp_path, monkeypatch):
    if FLAG_OF[option] in TASK_READS[task]:
        base = written(tmp_path / "base", task)
        assert written(tmp_path / "given", task, *VALUES[option]) != base, option
        return

    def drawn(*_args, **_kwargs):
        raise AssertionError("the pairs were drawn before the options were checked")

    monkeypatch.setattr("rewardlab.data.synthetic.digit_files.write_digits", drawn)
    result = runner.invoke(app, ["data", "digits", "--out", str(tmp_path / "o"), "--task",
                                 task, *VALUES[option]])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and option in lines[0] and f"--task {task}" in lines[0], lines
