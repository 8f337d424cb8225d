"""One sandboxed run (:func:`run_python`), many on a pool (:func:`run_many`), and the check
that a sandbox can be had here (:func:`isolation`).

A run is one process tree: ``[sh -c JOIN_CGROUP]`` (root: join the run's
``pids`` cgroup) → ``[setpriv ...]`` (root: drop to the sandbox uid) →
``prlimit ...`` → ``bwrap ...`` (:mod:`~rewardlab.verifiers.sandbox.bwrap`) → ``python -I -S -B
-c HARNESS`` (:mod:`~rewardlab.verifiers.sandbox.harness`). The job (program,
setup, probes, rlimits) goes in on an inherited memfd; stdout, stderr and the
result record come back in unlinked temporary files, each read up to
``output_bytes``. After ``wall_seconds`` the run's process group gets
SIGKILL (bwrap's children die with it), and the cgroup, when there is one, is
emptied with SIGKILL and removed.

Without a working sandbox (:func:`isolation` says why, in one line) a run
raises :class:`SandboxUnavailable` unless ``unsafe_no_sandbox=True``: then
the harness runs as a plain child process with the rlimits (no
``RLIMIT_NPROC``: outside a user namespace it would count every process of the
user) and, as root, the ``pids`` cgroup; it can read, write and connect
wherever this process can.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from rewardlab.verifiers.sandbox import bwrap, harness, limits, seccomp
from rewardlab.verifiers.sandbox.limits import SandboxLimits
from rewardlab.verifiers.sandbox.values import MalformedRecord, read_record

PYTHON_FLAGS = ("-I", "-S", "-B")
_PROBE_PROGRAM = (
    "import socket\ntry:\n    socket.socket()\nexcept PermissionError:\n    print('ok')\n"
)


class SandboxUnavailable(RuntimeError):
    """No sandbox can be made here (the message names what is missing)."""


@dataclass(frozen=True)
class Isolation:
    """What runs get on this machine (checked once per process by :func:`isolation`).

    ``sandbox`` is ``"bwrap"`` or ``"none"`` (then ``missing`` says why);
    ``interpreter`` runs the programs, as ``uid``; ``pids_cgroup_root`` is where
    each run's ``pids`` cgroup is made (root only), else ``None``.
    """

    sandbox: str
    missing: str = ""
    interpreter: bwrap.Interpreter | None = None
    uid: int | None = None
    pids_cgroup_root: Path | None = None


@dataclass(frozen=True)
class Job:
    """One run: a program, its stdin, and optional probes evaluated after it (with ``setup``)."""

    source: str
    stdin: str = ""
    probes: tuple[str, ...] | None = None
    setup: str = ""


@dataclass(frozen=True)
class RunResult:
    """What one run did.

    ``status``: ``ok`` (exit 0 and, with probes, a well-formed record),
    ``error`` (a non-zero exit, or no well-formed record), ``killed`` (ended by
    a signal: the CPU limit, seccomp) or ``timeout`` (past ``wall_seconds``).
    With probes, ``values`` holds their plain values (status ``ok``) or
    ``probe_error`` the exception one of them raised (then ``values`` is None).
    """

    status: str
    returncode: int | None
    stdout: str
    stderr: str
    seconds: float
    values: tuple[Any, ...] | None = None
    probe_error: str | None = field(default=None)


def _probe(interpreter: bwrap.Interpreter, cgroup_root: Path | None) -> tuple[bool, str]:
    layers = Isolation("bwrap", interpreter=interpreter, pids_cgroup_root=cgroup_root)
    result = _execute(Job(_PROBE_PROGRAM), SandboxLimits(wall_seconds=20.0), layers)
    if result.status == "ok" and result.stdout.strip() == "ok":
        return True, ""
    lines = result.stderr.strip().splitlines() or [f"exit status {result.returncode}"]
    return False, lines[-1]


@functools.lru_cache(maxsize=1)
def isolation() -> Isolation:
    """Whether bwrap can make the sandbox here, with which interpreter (checked once)."""
    cgroup_root = limits.pids_cgroup_root() if os.geteuid() == 0 else None
    missing = bwrap.missing_tool()
    if missing is None:
        try:
            seccomp.filter_bpf()
        except seccomp.SeccompUnavailable as err:
            missing = str(err)
    if missing is not None:
        return Isolation("none", missing, pids_cgroup_root=cgroup_root)
    reasons = []
    for interpreter in bwrap.interpreters():
        works, reason = _probe(interpreter, cgroup_root)
        if works:
            uid = bwrap.SANDBOX_UID if os.geteuid() == 0 else os.getuid()
            return Isolation("bwrap", "", interpreter, uid, cgroup_root)
        reasons.append(f"{interpreter.executable}: {reason}")
    return Isolation("none", "bwrap could not start a sandbox (" + "; ".join(reasons) + ")",
                     pids_cgroup_root=cgroup_root)


def require_sandbox(unsafe_no_sandbox: bool = False) -> Isolation:
    """:func:`isolation`, or :class:`SandboxUnavailable` when there is none and it is not
    waived with ``unsafe_no_sandbox``."""
    layers = isolation()
    if layers.sandbox == "none" and not unsafe_no_sandbox:
        raise SandboxUnavailable(
            f"code rewards refuse to run without a sandbox: {layers.missing} "
            "(--unsafe-no-sandbox / unsafe_no_sandbox=True runs them unisolated)"
        )
    return layers


def _command(layers: Isolation, lim: SandboxLimits, fds: dict[str, int]) -> list[str]:
    if layers.interpreter is None:
        python = sys.executable
        prefix: list[str] = []
    else:
        python = str(layers.interpreter.executable)
        prefix = [*bwrap.privilege_drop(), *bwrap.rlimit_prefix(lim.rlimits()),
                  *bwrap.bwrap_command(layers.interpreter, lim.tmp_mb, fds["seccomp"])]
    return [*prefix, python, *PYTHON_FLAGS, "-c", harness.SOURCE, str(fds["result"]),
            str(fds["job"])]


def _memfd(data: bytes) -> int:
    fd = os.memfd_create("rewardlab-job")
    os.write(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _read(handle: IO[bytes], limit: int) -> str:
    handle.seek(0)
    return handle.read(limit).decode("utf-8", errors="replace")


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _execute(job: Job, lim: SandboxLimits, layers: Isolation) -> RunResult:
    rlimits = lim.rlimits()
    if layers.sandbox == "none":
        rlimits.pop("RLIMIT_NPROC")
    payload = {"program": job.source, "setup": job.setup, "probes": job.probes,
               "rlimits": rlimits}
    fds = {"job": _memfd(json.dumps(payload).encode("utf-8"))}
    cgroup = None
    try:
        if layers.sandbox != "none":
            fds["seccomp"] = seccomp.filter_fd()
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
                tempfile.TemporaryFile() as result, \
                tempfile.TemporaryDirectory(prefix="rewardlab-sandbox-") as scratch:
            fds["result"] = result.fileno()
            command = _command(layers, lim, fds)
            if layers.pids_cgroup_root is not None:
                cgroup = limits.make_cgroup(layers.pids_cgroup_root, lim.processes)
                command = ["/bin/sh", "-c", limits.JOIN_CGROUP, str(cgroup), *command]
            start = time.monotonic()
            proc = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=out, stderr=err, env=dict(bwrap.ENV),
                cwd=scratch if layers.sandbox == "none" else "/", start_new_session=True,
                pass_fds=tuple(fds.values()),
            )
            timed_out = False
            try:
                proc.communicate(job.stdin.encode("utf-8"), timeout=lim.wall_seconds)
            except subprocess.TimeoutExpired:
                timed_out = True
            except BrokenPipeError:
                timed_out = _wait(proc, lim.wall_seconds - (time.monotonic() - start))
            finally:
                _kill_group(proc.pid)
                proc.wait()
            seconds = time.monotonic() - start
            stdout, stderr = _read(out, lim.output_bytes), _read(err, lim.output_bytes)
            record = _read(result, lim.output_bytes)
    finally:
        for fd in fds.values():
            if fd != fds.get("result"):
                os.close(fd)
        if cgroup is not None:
            limits.remove_cgroup(cgroup)
    return _result(job, proc.returncode, timed_out, stdout, stderr, seconds, record)


def _wait(proc: subprocess.Popen, seconds: float) -> bool:
    """Wait up to ``seconds`` for ``proc``; True if it is still running then."""
    try:
        proc.wait(timeout=max(seconds, 0.0))
        return False
    except subprocess.TimeoutExpired:
        return True


def _result(job: Job, code: int, timed_out: bool, stdout: str, stderr: str, seconds: float,
            record_text: str) -> RunResult:
    if timed_out:
        return RunResult("timeout", code, stdout, stderr, seconds)
    if code < 0 or code > 128:  # a signal; bwrap reports its child's as 128 + signal
        return RunResult("killed", code, stdout, stderr, seconds)
    if code != 0:
        return RunResult("error", code, stdout, stderr, seconds)
    if job.probes is None:
        return RunResult("ok", code, stdout, stderr, seconds)
    try:
        record = read_record(record_text, len(job.probes))
    except MalformedRecord as err:
        return RunResult("error", code, stdout, f"{stderr}\n[sandbox] no valid result: {err}",
                         seconds)
    return RunResult("ok", code, stdout, stderr, seconds, record.values, record.error)


def run_python(
    source: str,
    stdin: str = "",
    limits: SandboxLimits = SandboxLimits(),
    probes: Sequence[str] | None = None,
    setup: str = "",
    unsafe_no_sandbox: bool = False,
) -> RunResult:
    """Run ``source`` with ``stdin`` in the sandbox.

    With ``probes`` (Python expressions), ``setup`` then each probe run after
    the program, in its namespace, and their plain values come back in
    :attr:`RunResult.values`. :class:`SandboxUnavailable` if there is no
    sandbox here and ``unsafe_no_sandbox`` is False.
    """
    layers = require_sandbox(unsafe_no_sandbox)
    job = Job(source, stdin, None if probes is None else tuple(probes), setup)
    return _execute(job, limits, layers)


def run_many(
    jobs: Sequence[Job],
    limits: SandboxLimits = SandboxLimits(),
    workers: int | None = None,
    unsafe_no_sandbox: bool = False,
) -> list[RunResult]:
    """Run every job in the sandbox, ``workers`` at a time (default: the CPU count)."""
    if not jobs:
        return []
    layers = require_sandbox(unsafe_no_sandbox)
    workers = workers or os.cpu_count() or 1
    with ThreadPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
        return list(pool.map(lambda job: _execute(job, limits, layers), jobs))
