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
