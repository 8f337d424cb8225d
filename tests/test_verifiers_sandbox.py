"""The sandbox: its layers really applied, limits, probe values, and the refusal without one.

The hostile programs are in ``tests/test_sandbox_hostile.py``.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
from pathlib import Path

import pytest

from rewardlab.verifiers.sandbox import (
    Isolation,
    Job,
    SandboxLimits,
    SandboxUnavailable,
    bwrap,
    run,
    run_many,
    run_python,
    seccomp,
)
from rewardlab.verifiers.sandbox.values import MalformedRecord, decode, read_record
from sandbox_required import sandbox_or_skip

DATA = Path(__file__).parent / "data" / "code_problems"
FAST = SandboxLimits(cpu_seconds=1, wall_seconds=3.0, memory_mb=256)
SLACK = 2.0  # seconds for the kill and a busy machine
OUTSIDE = [Path("/tmp/rewardlab-canary-outside.txt"), Path("/tmp/rewardlab-canary-escape.txt")]


def sandbox_processes() -> list[str]:
    """Command lines of live processes that belong to some sandbox run."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if "rewardlab-sandbox harness" in cmdline:
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
    """A sandbox (else skip), a canary in the parent's environment; afterwards nothing
    escaped or outlived a run."""
    sandbox_or_skip()
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
    assert ast.literal_eval(names) == ["HOME", "LANG", "PATH", "PWD", "TMPDIR"]
    assert echoed == "cba"


def test_the_layers_are_applied_inside(host) -> None:
    """uid, capabilities, no_new_privs, seccomp, PID namespace, mounts: read from /proc."""
    program = (
        "import json, os, socket\n"
        "status = dict(line.split(':\\t', 1) for line in open('/proc/self/status').read()"
        ".splitlines() if ':\\t' in line)\n"
        "mounts = [line.split()[1:4:2] for line in open('/proc/self/mounts')]\n"
        "try:\n    socket.socket(socket.AF_UNIX)\n    sock = 'made'\n"
        "except PermissionError:\n    sock = 'EPERM'\n"
        "print(json.dumps({'uid': os.getuid(), 'gid': os.getgid(), 'groups': os.getgroups(),"
        " 'status': status, 'mounts': mounts, 'socket': sock, 'cwd': os.getcwd(),"
        " 'pids': sorted(int(p) for p in os.listdir('/proc') if p.isdigit()),"
        " 'root': sorted(os.listdir('/'))}))\n"
    )
    result = run_python(program)
    assert result.status == "ok", result.stderr
    seen = json.loads(result.stdout)
    uid = bwrap.SANDBOX_UID if os.geteuid() == 0 else os.getuid()
    assert seen["uid"] == uid and seen["uid"] != 0
    assert os.geteuid() != 0 or (seen["gid"] == bwrap.SANDBOX_UID and seen["groups"] == [])
    for caps in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(seen["status"][caps].strip(), 16) == 0, caps
    assert seen["status"]["NoNewPrivs"].strip() == "1"
    assert seen["status"]["Seccomp"].strip() == "2"  # filter mode
    assert seen["socket"] == "EPERM"
    assert seen["pids"] == [1, 2]  # bwrap's reaper and the interpreter: no host process
    assert seen["cwd"] == "/tmp"
    prefix_top = run.isolation().interpreter.prefix.parts[1]  # "usr" for /usr/bin/python3
    allowed = {"bin", "dev", "etc", "lib", "lib32", "lib64", "libx32", "proc", "sbin", "tmp", "usr"}
    assert set(seen["root"]) <= allowed | {prefix_top}
    writable = [point for point, options in seen["mounts"] if options.split(",")[0] == "rw"]
    assert "/tmp" in writable and "/" not in writable and "/usr" not in writable
    # rw mounts besides /tmp: /proc (of the run's own PID namespace) and device nodes
    assert all(p == "/tmp" or p == "/proc" or p.startswith("/dev/") for p in writable), writable


def test_the_seccomp_filter_is_bpf_of_the_denied_calls() -> None:
    program = seccomp.filter_bpf()
    assert len(program) % 8 == 0  # struct sock_filter is 8 bytes
    # one jump per denied call at least, plus the arch check and the clone rules
    assert len(program) // 8 > len(seccomp.DENIED)


def test_limits_end_runs_in_time(host) -> None:
    runs = run_many([
        Job("while True:\n    pass\n"),
        Job("import time\ntime.sleep(60)\n"),
        Job("x = bytearray(1024 ** 3)\n"),
        Job("while True:\n    print('y' * 1000)\n"),
        Job("for i in range(10 ** 6):\n    open(f'/tmp/{i}', 'wb').write(b'x' * 10 ** 5)\n"),
    ], FAST, workers=2)
    loop, sleep, memory, output, disk = runs
    assert loop.status in ("killed", "timeout") and loop.seconds <= FAST.wall_seconds + SLACK
    assert sleep.status == "timeout" and sleep.seconds <= FAST.wall_seconds + SLACK
    assert memory.status == "error" and "MemoryError" in memory.stderr
    assert output.status == "error" and "File too large" in output.stderr
    assert len(output.stdout) <= FAST.output_bytes
    assert disk.status == "error" and "No space left on device" in disk.stderr


def test_the_process_cap_holds_a_fork_bomb(host) -> None:
    source = (
        "import os, time\nborn = 0\nfor _ in range(50):\n    try:\n        pid = os.fork()\n"
        "    except OSError:\n        break\n    if pid == 0:\n        time.sleep(30)\n"
        "        os._exit(0)\n    born += 1\nprint(born)\n"
    )
    result = run_python(source, limits=SandboxLimits(processes=5, wall_seconds=5.0))
    assert result.status == "ok", result.stderr
    assert 0 < int(result.stdout) <= 5


def test_probes_come_back_as_plain_values(host) -> None:
    program = (
        "import collections, enum\n"
        "def f(x):\n    return x + 1\n"
        "class Level(enum.IntEnum):\n    HIGH = 3\n"
        "print('printed output is not a result')\n"
    )
    probes = ["f(1)", "f(2.5)", "(1, [2, {3}], frozenset({4}))", "{'a': b'x', 5: None}",
              "collections.Counter('aab')", "Level.HIGH", "DATA"]
    result = run_python(program, probes=probes, setup="DATA = [True, 'x']")
    assert result.status == "ok", result.stderr
    assert result.values == (2, 3.5, (1, [2, {3}], frozenset({4})), {"a": b"x", 5: None},
                             {"a": 2, "b": 1}, 3, [True, "x"])
    assert [type(v) for v in result.values[4:6]] == [dict, int]  # the base type's plain value


def test_a_probe_that_raises_or_cannot_leave_fails(host) -> None:
    program = "class Always:\n    def __eq__(self, other):\n        return True\n"
    result = run_python(program, probes=["Always()"])
    assert result.status == "ok" and result.values is None
    assert "cannot leave the sandbox" in result.probe_error
    raised = run_python("def f():\n    return 1 / 0\n", probes=["f()"])
    assert raised.values is None and raised.probe_error.startswith("ZeroDivisionError")


def test_no_record_no_values(host) -> None:
    """Ending before the harness writes (or writing a bad record) gives no values."""
    for program in ("import os\nos._exit(0)\n", "import sys\nsys.exit(0)\n"):
        result = run_python(program, probes=["1"])
        assert result.status == "error" and result.values is None


def test_records_are_read_strictly() -> None:
    assert read_record('{"values": [1, {"tuple": [2]}]}', 2).values == (1, (2,))
    assert read_record('{"error": "ValueError: x"}', 1).error == "ValueError: x"
    assert decode({"set": [1, 2]}) == {1, 2} and decode({"dict": [[1, [2]]]}) == {1: [2]}
    for bad, probes in (
        ('{"values": [1]}{"values": [2]}', 1),  # a second record
        ('{"values": [1, 2]}', 1),  # a value too many
        ('{"values": [{"object": 1}]}', 1),  # an unknown tag
        ('{"values": [{"set": [[1]]}]}', 1),  # an unhashable member
        ('{"values": [{"dict": [[1]]}]}', 1),  # not a pair
        ('{"values": [1], "error": "x"}', 1),
        ("", 1),
        ("[" * 100_000, 1),
    ):
        with pytest.raises(MalformedRecord):
            read_record(bad, probes)


def test_limits_are_checked() -> None:
    with pytest.raises(ValueError, match="wall_seconds"):
        SandboxLimits(wall_seconds=0)
    with pytest.raises(ValueError, match="tmp_mb"):
        SandboxLimits(tmp_mb=0)


def test_without_a_sandbox_runs_are_refused_unless_waived(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    missing = "bubblewrap (bwrap) is not installed: install it"
    monkeypatch.setattr(run, "isolation", lambda: Isolation("none", missing))
    with pytest.raises(SandboxUnavailable, match=r"refuse to run without a sandbox: bubblewrap"):
        run_python("print(1)")
    with pytest.raises(SandboxUnavailable, match="--unsafe-no-sandbox"):
        run_many([Job("print(1)")])
    # waived: the harness runs as a plain child process, limits and probes still work
    result = run_python("def f(x):\n    return 2 * x\n", probes=["f(21)"], unsafe_no_sandbox=True)
    assert result.status == "ok" and result.values == (42,)
    memory = run_python("x = bytearray(1024 ** 3)\n", limits=FAST, unsafe_no_sandbox=True)
    assert memory.status == "error" and "MemoryError" in memory.stderr


def test_missing_tools_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert "apt-get install bubblewrap" in bwrap.missing_tool()
    monkeypatch.setattr(seccomp, "LIBRARY", "libseccomp-absent.so.9")
    seccomp.filter_bpf.cache_clear()
    try:
        with pytest.raises(seccomp.SeccompUnavailable, match="libseccomp2"):
            seccomp.filter_bpf()
    finally:
        monkeypatch.undo()
        seccomp.filter_bpf.cache_clear()


def test_each_hostile_prefix_gets_its_reward_and_leaves_the_host_untouched(host) -> None:
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
