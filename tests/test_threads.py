"""The torch thread count (:mod:`rewardlab.threads`): the ``auto`` rule by hand, the
``--threads`` option reaching torch in a fresh process, and bad counts refused."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from rewardlab.threads import auto_threads, parse_threads

PROBE = """
import sys
from rewardlab.cli.main import app
sys.argv = ["rewardlab", *sys.argv[1:], "data", "digits", "--help"]
try:
    app()
except SystemExit:
    pass
import torch
print("THREADS", torch.get_num_threads())
"""


@pytest.mark.parametrize(("cpus", "load", "expected"), [
    (2, 0.0, 2), (2, 0.4, 2), (2, 0.6, 1), (2, 1.0, 1), (2, 3.7, 1), (16, 3.2, 13),
    (16, 0.0, 16), (1, 0.0, 1),
])
def test_auto_leaves_the_cores_the_load_keeps_busy(cpus, load, expected):
    assert auto_threads(cpus=cpus, load=load) == expected  # max(1, cpus - round(load))


@pytest.mark.parametrize(("text", "expected"), [("auto", None), ("AUTO", None), ("3", 3)])
def test_threads_parse(text, expected):
    assert parse_threads(text) == expected


@pytest.mark.parametrize("text", ["0", "-1", "two", "1.5"])
def test_bad_thread_counts_are_refused(text):
    with pytest.raises(ValueError, match="'auto' or a whole number >= 1"):
        parse_threads(text)


def _torch_threads(*args: str, omp: str | None = None) -> int:
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    if omp is not None:
        env["OMP_NUM_THREADS"] = omp
    out = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True,
                         env=env, check=True).stdout
    return int(out.split("THREADS")[1])


def test_the_option_reaches_torch_and_the_users_omp_setting_wins_over_auto():
    assert _torch_threads("--threads", "1") == 1
    two = min(2, os.cpu_count() or 1)  # torch caps OMP_NUM_THREADS at the machine's cores
    assert _torch_threads("--threads", "2") == two
    assert _torch_threads(omp="1") == 1          # auto keeps the user's OMP_NUM_THREADS
    assert _torch_threads("--threads", "2", omp="1") == two  # an explicit count wins
    assert 1 <= _torch_threads() <= os.cpu_count()


def test_a_bad_count_is_one_line_exit_2():
    result = subprocess.run([sys.executable, "-m", "rewardlab.cli.main", "--threads", "0",
                             "demo", "--help"], capture_output=True, text=True)
    assert result.returncode == 2
    assert "Invalid value for '--threads'" in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
