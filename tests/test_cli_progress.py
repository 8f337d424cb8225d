"""The CLI's terminal manners: quiet on a closed pipe, honest progress bars, no third-party
bars or warnings, and bars that advance under a pseudo-terminal on long commands."""

from __future__ import annotations

import os
import subprocess
import sys

CLI = [sys.executable, "-m", "rewardlab.cli.main"]


def env() -> dict[str, str]:
    here = os.path.join(os.path.dirname(__file__), "..", "src")
    return {**os.environ, "PYTHONPATH": os.path.abspath(here), "OMP_NUM_THREADS": "1"}


def run_into_closed_pipe(*args: str) -> subprocess.CompletedProcess:
    """Run the CLI with stdout a pipe whose reader has already gone (``… | head -0``)."""
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run([*CLI, *args], stdout=write, stderr=subprocess.PIPE, text=True,
                              env=env(), timeout=120)
    finally:
        os.close(write)


def test_output_into_a_closed_pipe_exits_quietly(tmp_path):
    # a command's own output (typer.echo after the work): exit 141, nothing on stderr
    done = run_into_closed_pipe("data", "digits", "--out", str(tmp_path / "d"), "--n-pairs", "2",
                                "--test-pairs", "2", "--n-prompts", "4")
    assert done.returncode == 141, done.stderr
    assert done.stderr == ""
    assert (tmp_path / "d" / "train.jsonl").exists()  # the work itself was done
    # --help into a closed pipe: rich stops quietly (its own exit 1), no internal error
    done = run_into_closed_pipe("serve", "--help")
    assert done.returncode in (1, 141) and done.stderr == "", (done.returncode, done.stderr)


def draw_bars(monkeypatch, *calls: tuple[str, int, int | None]) -> str:
    """What ``progress_bars()`` draws on a (recording) terminal for ``calls``."""
    from rich.console import Console

    from rewardlab.cli import common

    screen = Console(record=True, force_terminal=True, width=100)
    monkeypatch.setattr(common, "console", screen)
    with common.progress_bars() as progress:
        for call in calls:
            progress(*call)
    return screen.export_text()


def test_a_bar_with_an_unknown_total_shows_its_count_not_none(monkeypatch):
    text = draw_bars(monkeypatch, ("scoring", 0, None), ("scoring", 7, None),
                     ("epochs", 3, 10))
    assert "None" not in text
    assert "scoring" in text and " 7 " in text  # the count so far, alone
    assert "3/10" in text                       # a known total: done/total


def test_no_bars_under_quiet_or_off_a_terminal(monkeypatch):
    from rich.console import Console

    from rewardlab.cli import common

    monkeypatch.setenv("REWARDLAB_QUIET", "1")
    assert draw_bars(monkeypatch, ("epochs", 3, 10)) == ""
    monkeypatch.delenv("REWARDLAB_QUIET")
    assert "3/10" in draw_bars(monkeypatch, ("epochs", 3, 10))
    log = Console(record=True, force_terminal=False, width=100)  # stderr into a file or pipe
    monkeypatch.setattr(common, "console", log)
    with common.progress_bars() as progress:
        progress("epochs", 3, 10)
    assert log.export_text() == ""
