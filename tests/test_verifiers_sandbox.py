"""The sandbox: limits, isolation layers, and the host left untouched by hostile programs."""

from __future__ import annotations

import ast
import json
import os
from pathlib import Path

import pytest

from rewardlab.verifiers.sandbox import Job, SandboxLimits, isolation, run_many, run_python

DATA = Path(__file__).parent / "data" / "code_problems"
FAST = SandboxLimits(cpu_seconds=1, wall_seconds=3.0, memory_mb=256)
SLACK = 2.0  # seconds for the kill and a busy machine
OUTSIDE = [Path("/tmp/rewardlab-canary-outside.txt"), Path("/tmp/rewardlab-canary-escape.txt")]
LAYERS = isolation()
needs_namespaces = pytest.mark.skipif(not LAYERS.namespaces, reason="unshare is not available")


def sandbox_processes() -> list[str]:
    """Command lines of live processes that belong to some sandbox run."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if "rewardlab-sandbox-" in cmdline:
                found.append(cmdline)
    return found


def children_of_this_process() -> int:
    me = str(os.getpid())
    count = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if stat.rsplit(")", 1)[1].split()[1] == me:
                count += 1
    return count


@pytest.fixture()
def host(monkeypatch: pytest.MonkeyPatch):
    """A canary in the parent's environment; afterwards nothing escaped or outlived a run."""
    monkeypatch.setenv("REWARDLAB_CANARY", "do-not-leak")
    for path in OUTSIDE:
        path.unlink(missing_ok=True)
    before = children_of_this_process()
    yield
    assert not any(path.exists() for path in OUTSIDE)
    assert sandbox_processes() == []
    assert children_of_this_process() == before


def test_a_plain_run_sees_only_its_scrubbed_environment(host) -> None:
    result = run_python("import os, sys\nprint(sorted(os.environ))\nprint(input()[::-1])", "abc\n")
    assert result.status == "ok" and result.returncode == 0
    names, echoed = result.stdout.splitlines()
    assert set(ast.literal_eval(names)) <= {"HOME", "LANG", "OLDPWD", "PATH", "PWD", "TMPDIR"}
    assert echoed == "cba"


def test_each_hostile_program_gets_its_reward_and_leaves_the_host_untouched(host) -> None:
    from rewardlab.verifiers.code import CodeVerifier

    problem = json.loads((DATA / "problems.jsonl").read_text().splitlines()[1])  # 2 tests
    hostile = [json.loads(line) for line in (DATA / "hostile.jsonl").read_text().splitlines()]
    assert [h["kind"] for h in hostile] == [
        "infinite_loop", "memory_bomb", "fork_bomb", "write_outside", "network", "read_environment",
    ]
    verifier = CodeVerifier(cpu_seconds=1, wall_seconds=3.0, memory_mb=256, workers=2)
    responses = [h["prefix"] + problem["correct"] for h in hostile]
    rewards = verifier.score([""] * len(hostile), responses, [problem["reference"]] * len(hostile))
    assert rewards.tolist() == [h["expected"] for h in hostile]


def test_limits_end_runs_in_time(host) -> None:
    runs = run_many([
        Job("while True:\n    pass\n"),
        Job("import time\ntime.sleep(60)\n"),
        Job("x = bytearray(1024 ** 3)\n"),
        Job("while True:\n    print('y' * 1000)\n"),
    ], FAST, workers=2)
    loop, sleep, memory, output = runs
    assert loop.status in ("killed", "timeout") and loop.seconds <= FAST.wall_seconds + SLACK
    assert sleep.status == "timeout" and sleep.seconds <= FAST.wall_seconds + SLACK
    assert memory.status == "error" and "MemoryError" in memory.stderr
    assert output.status == "error" and "File too large" in output.stderr
    assert len(output.stdout) <= FAST.output_bytes


def test_assert_tests_need_the_run_to_reach_their_end(host) -> None:
    program = "def f(x):\n    return x + 1\n"
    assert run_python(program, tests="assert f(1) == 2").status == "ok"
    assert run_python(program, tests="assert f(1) == 3").status == "error"
    for escape in ("import sys\nsys.exit(0)\n", "import os\nos._exit(0)\n"):
        result = run_python(program + escape, tests="assert f(1) == 3")
        assert result.status == "error"
    printed = run_python(program + "print('hi')\n", tests="print(f(2))")
    assert printed.status == "ok" and printed.stdout.split() == ["hi", "3"]


@pytest.mark.skipif(LAYERS.process_limit == "none", reason="no process cap (root, no pids cgroup)")
def test_without_the_python_guard_the_process_cap_holds_a_fork_bomb(host) -> None:
    source = (
        "import os, time\nborn = 0\nfor _ in range(50):\n    try:\n        pid = os.fork()\n"
        "    except OSError:\n        break\n    if pid == 0:\n        time.sleep(30)\n"
        "        os._exit(0)\n    born += 1\nprint(born)\n"
    )
    limits = SandboxLimits(processes=5, wall_seconds=5.0, python_guard=False)
    result = run_python(source, limits=limits)
    assert result.status == "ok"
    assert 0 < int(result.stdout) <= 5


@needs_namespaces
def test_without_the_python_guard_namespaces_block_files_and_network(host) -> None:
    limits = SandboxLimits(python_guard=False)
    write = run_python("open('/tmp/rewardlab-canary-outside.txt', 'w').write('x')", limits=limits)
    assert write.status == "error" and "Read-only file system" in write.stderr
    inside = run_python("open('mine.txt', 'w').write('ok')\nprint(open('mine.txt').read())",
                        limits=limits)
    assert inside.status == "ok" and inside.stdout.strip() == "ok"
    net = run_python(
        "import socket\nsocket.create_connection(('1.1.1.1', 80), timeout=1)", limits=limits
    )
    assert net.status == "error" and "unreachable" in net.stderr
    env = run_python("import os\nprint(len([p for p in os.listdir('/proc') if p.isdigit()]))",
                     limits=limits)
    assert int(env.stdout) <= 3  # the shell, Python: the PID namespace hides the host


def test_limits_are_checked() -> None:
    with pytest.raises(ValueError, match="wall_seconds"):
        SandboxLimits(wall_seconds=0)


def test_without_namespaces_the_guard_and_limits_still_hold(
    host, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fallback where unshare is unavailable: rlimits (or the pids cgroup) and the hook."""
    from rewardlab.verifiers import sandbox
    from rewardlab.verifiers.code import CodeVerifier

    fallback = sandbox.Isolation(False, LAYERS.process_limit, LAYERS.pids_cgroup_root)
    monkeypatch.setattr(sandbox, "isolation", lambda: fallback)
    problem = json.loads((DATA / "problems.jsonl").read_text().splitlines()[1])
    hostile = [json.loads(line) for line in (DATA / "hostile.jsonl").read_text().splitlines()]
    hostile = [h for h in hostile if h["kind"] not in ("infinite_loop", "memory_bomb")]
    verifier = CodeVerifier(cpu_seconds=1, wall_seconds=3.0, memory_mb=256, workers=2)
    responses = [h["prefix"] + problem["correct"] for h in hostile]
    rewards = verifier.score([""] * len(hostile), responses, [problem["reference"]] * len(hostile))
    assert rewards.tolist() == [h["expected"] for h in hostile]
    names = run_python("import os\nprint(sorted(os.environ))").stdout
    assert set(ast.literal_eval(names)) <= {"HOME", "LANG", "PATH", "PWD", "TMPDIR"}
