"""Run untrusted Python in a separate, limited process.

Each run gets a fresh temporary folder ``run/`` holding the program, the
bootstrap, the captured output and ``run/box/``, the only place the program
may write (its working directory, ``HOME`` and ``TMPDIR``). The interpreter is
this one, started with ``-I -B`` (isolated: no ``PYTHON*`` variables, no user
site, no bytecode written) and an environment scrubbed to ``PATH``, ``HOME``,
``TMPDIR`` and ``LANG``, so nothing of the parent's environment is visible.

Isolation, in layers:

1. Namespaces (when ``unshare --user --map-root-user --mount --net --pid``
   works, checked once per process; :func:`isolation` says which layers are in
   use). A new network namespace has no interface but a down loopback, so no
   connection leaves the sandbox. A new mount namespace remounts every mount
   read-only except ``box/`` (bind-mounted writable) and a fresh ``/proc``,
   so no file outside ``box/`` can be created or changed. A new PID namespace
   shows only the sandbox's own processes in ``/proc`` (not the parent's
   ``/proc/PID/environ``) and is killed as a whole when its first process
   (a shell that waits for Python) ends or the host-side ``unshare`` is
   killed (``--kill-child``).
2. Resource limits, set by the bootstrap before the program runs:
   ``RLIMIT_CPU`` (CPU seconds; SIGKILL at the limit), ``RLIMIT_AS`` (address
   space, so a memory bomb gets ``MemoryError``), ``RLIMIT_FSIZE`` (bytes per
   written file, stdout and stderr included: the output cap) and
   ``RLIMIT_NPROC`` (processes; inside a user namespace this counts the
   sandbox's processes, without one it counts all processes of the user, so it
   is set to the user's current count plus the allowance). The kernel does not
   apply ``RLIMIT_NPROC`` to root, so when this process is root the process
   cap is a ``pids`` cgroup made for the run (``pids.max``) when one can be
   created, and there is none otherwise.
3. Wall time: the parent waits ``wall_seconds`` and then kills the run's
   process group (the run starts in a new session) with SIGKILL.
4. A Python audit hook (:pep:`578`) installed by the bootstrap before the
   program: it refuses sockets, subprocesses, ``fork``/``exec``/``spawn``,
   ``ctypes`` loading, writes, renames and deletions outside ``box/`` and
   reading ``/proc/*/environ``. It is the only guard for files and network
   when namespaces are unavailable; it lives inside the interpreter, so code
   that reaches native memory some other way could get past it. What is left
   open without namespaces: reading files the user can read (no filesystem
   view is hidden) and, for code that gets past the hook, the network.

:func:`run_python` runs one program; :func:`run_many` runs many on a thread
pool (each run is its own process; threads only wait for them).
"""

from __future__ import annotations

import functools
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

PIDS_CGROUP_ROOTS = (
    Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup/unified"), Path("/sys/fs/cgroup")
)
NAMESPACE_FLAGS = (
    "--user", "--map-root-user", "--mount", "--net", "--pid", "--fork", "--mount-proc",
    "--kill-child",
)

# Runs as the PID namespace's first process: makes every mount but box/ read-only,
# then runs Python as its child (so Python is not PID 1, which ignores SIGXCPU).
_MOUNT_SCRIPT = r"""
box=$1; shift
mount --bind "$box" "$box" || exit 125
while read -r _ mp _ _; do
  case "$mp" in "$box"|/proc|/proc/*) ;; *) mount -o remount,bind,ro "$mp" 2>/dev/null ;; esac
done < /proc/self/mounts
cd "$box" || exit 125
"$@"
"""

# Moves itself into the run's pids cgroup ($0), then becomes the sandbox command.
_JOIN_CGROUP = 'echo $$ > "$0/cgroup.procs" && exec "$@"'

_BOOTSTRAP = r'''
import os, resource, sys


def _limit(name, value):
    resource.setrlimit(getattr(resource, name), (value, value))


def _guard(box):
    root = os.path.realpath(box)
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
    blocked = {
        "subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork",
        "os.forkpty", "pty.spawn", "ctypes.dlopen", "ctypes.dlsym", "ctypes.cdata",
        "ctypes.call_function", "os.kill", "os.killpg",
    }
    path_events = {
        "os.remove", "os.rename", "os.mkdir", "os.rmdir", "os.symlink", "os.link", "os.chmod",
        "os.chown", "os.truncate", "os.utime", "shutil.rmtree", "shutil.copyfile",
        "shutil.copytree", "shutil.move",
    }

    def inside(path):
        if isinstance(path, int):
            return True
        real = os.path.realpath(os.fsdecode(path))
        return real == root or real.startswith(root + os.sep)

    def hook(event, args):
        if event == "open":
            path, mode, flags = args
            if path is None or isinstance(path, int):
                return
            text = os.fsdecode(path)
            if text.startswith("/proc/") and text.endswith("environ"):
                raise PermissionError("sandbox: reading process environments is not allowed")
            writing = (mode is not None and any(c in mode for c in "wax+")) or (
                flags is not None and flags & write_flags
            )
            if writing and not inside(path):
                raise PermissionError(f"sandbox: writing {text} is not allowed")
        elif event.startswith("socket.") or event in blocked:
            raise PermissionError(f"sandbox: {event} is not allowed")
        elif event in path_events:
            for arg in args[:2]:
                if isinstance(arg, (str, bytes, os.PathLike)) and not inside(arg):
                    raise PermissionError(f"sandbox: {event} outside the sandbox is not allowed")

    sys.addaudithook(hook)


def _main():
    box, program, mode, cpu, memory, fsize, nproc, guard = sys.argv[1:9]
    tests = sys.argv[9] if mode == "asserts" else None
    nonce = sys.stdin.readline().strip()
    with open(program, encoding="utf-8") as handle:
        source = handle.read()
    test_source = None
    if tests is not None:
        with open(tests, encoding="utf-8") as handle:
            test_source = handle.read()
    _limit("RLIMIT_CPU", int(cpu))
    _limit("RLIMIT_AS", int(memory))
    _limit("RLIMIT_FSIZE", int(fsize))
    if int(nproc) > 0:
        _limit("RLIMIT_NPROC", int(nproc))
    if guard == "1":
        _guard(box)
    sys.argv = ["solution.py"]
    namespace = {"__name__": "__main__", "__builtins__": __builtins__}
    exec(compile(source, "solution.py", "exec"), namespace)
    if test_source is not None:
        exec(compile(test_source, "tests.py", "exec"), namespace)
        sys.stdout.write("\n" + nonce + "\n")
        sys.stdout.flush()


_main()
'''


@dataclass(frozen=True)
class SandboxLimits:
    """Per-run limits (see the module docstring for how each is enforced).

    ``processes`` is the number of processes a run may have beyond its
    interpreter; ``python_guard`` turns the audit hook on (default) or off.
    """

    cpu_seconds: int = 2
    wall_seconds: float = 5.0
    memory_mb: int = 512
    output_bytes: int = 1_000_000
    processes: int = 8
    python_guard: bool = True

    def __post_init__(self) -> None:
        for name in ("cpu_seconds", "wall_seconds", "memory_mb", "output_bytes", "processes"):
            if not getattr(self, name) > 0:
                raise ValueError(f"SandboxLimits.{name} must be > 0, got {getattr(self, name)}")


@dataclass(frozen=True)
class RunResult:
    """What one run did.

    ``status``: ``ok`` (exit 0), ``error`` (a non-zero exit: an exception, a
    failed assert, ``MemoryError`` …), ``killed`` (ended by a signal: the CPU
    or output limit) or ``timeout`` (past ``wall_seconds``, killed).
    """

    status: str
    returncode: int | None
    stdout: str
    stderr: str
    seconds: float


@dataclass(frozen=True)
class Isolation:
    """The layers available here: namespaces, and how the process count is capped.

    ``process_limit`` is ``rlimit`` (``RLIMIT_NPROC``), ``cgroup`` (a ``pids``
    cgroup, used when running as root) or ``none`` (root without a writable
    ``pids`` cgroup: only the wall-time kill ends a fork bomb).
    """

    namespaces: bool
    process_limit: str
    pids_cgroup_root: Path | None = None


def _namespaces_work() -> bool:
    """Whether the namespaces can be made and the mount script runs in them."""
    unshare = shutil.which("unshare")
    if unshare is None or not sys.platform.startswith("linux"):
        return False
    with tempfile.TemporaryDirectory(prefix="rewardlab-probe-") as box:
        script = ["/bin/sh", "-c", _MOUNT_SCRIPT, "sandbox", box, "true"]
        command = [unshare, *NAMESPACE_FLAGS, *script]
        try:
            done = subprocess.run(command, capture_output=True, timeout=10, check=False)
        except (OSError, subprocess.SubprocessError):
            return False
    return done.returncode == 0


def _pids_cgroup_root() -> Path | None:
    for root in PIDS_CGROUP_ROOTS:
        probe = root / f"rewardlab-probe-{os.getpid()}"
        try:
            probe.mkdir()
        except OSError:
            continue
        usable = (probe / "pids.max").exists()
        probe.rmdir()
        if usable:
            return root
    return None


@functools.lru_cache(maxsize=1)
def isolation() -> Isolation:
    """Which isolation layers this machine allows (checked once per process)."""
    namespaces = _namespaces_work()
    if os.geteuid() != 0:
        return Isolation(namespaces, "rlimit")
    root = _pids_cgroup_root()
    return Isolation(namespaces, "none" if root is None else "cgroup", root)


def _user_processes() -> int:
    uid = os.getuid()
    count = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                count += entry.stat().st_uid == uid
            except OSError:
                continue
    return count


def _env(box: Path) -> dict[str, str]:
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(box), "TMPDIR": str(box),
            "LANG": "C.UTF-8"}


def _read(path: Path, limit: int) -> str:
    with path.open("rb") as handle:
        return handle.read(limit).decode("utf-8", errors="replace")


def run_python(
    source: str,
    stdin: str = "",
    limits: SandboxLimits = SandboxLimits(),
    tests: str | None = None,
) -> RunResult:
    """Run ``source`` with ``stdin`` in the sandbox.

    With ``tests`` (Python code, e.g. asserts) the tests run after the program
    in its namespace, and the run is ``ok`` only if they reach their end: the
    bootstrap then prints a random token the program never sees, so a program
    that exits early with status 0 does not pass.
    """
    run = Path(tempfile.mkdtemp(prefix="rewardlab-sandbox-"))
    cgroup: Path | None = None
    try:
        box = run / "box"
        box.mkdir()
        (run / "solution.py").write_text(source, encoding="utf-8")
        (run / "bootstrap.py").write_text(_BOOTSTRAP, encoding="utf-8")
        if tests is not None:
            (run / "tests.py").write_text(tests, encoding="utf-8")
        layers = isolation()
        namespaced = layers.namespaces
        if layers.process_limit == "rlimit":
            nproc = limits.processes + 1 + (0 if namespaced else _user_processes())
        else:
            nproc = 0  # left as it is: the cgroup caps processes, or nothing can
        args = [
            str(box), str(run / "solution.py"), "stdio" if tests is None else "asserts",
            str(limits.cpu_seconds), str(limits.memory_mb * 1024 * 1024),
            str(limits.output_bytes), str(nproc), "1" if limits.python_guard else "0",
        ]
        if tests is not None:
            args.append(str(run / "tests.py"))
        python = [sys.executable, "-I", "-B", str(run / "bootstrap.py"), *args]
        if namespaced:
            command = [shutil.which("unshare") or "unshare", *NAMESPACE_FLAGS, "/bin/sh", "-c",
                       _MOUNT_SCRIPT, "sandbox", str(box), *python]
        else:
            command = python
        if layers.pids_cgroup_root is not None:
            cgroup = layers.pids_cgroup_root / run.name
            cgroup.mkdir()
            # unshare, the mount shell and Python, plus the allowance
            (cgroup / "pids.max").write_text(str(limits.processes + 3))
            command = ["/bin/sh", "-c", _JOIN_CGROUP, str(cgroup), *command]
        nonce = secrets.token_hex(16)
        start = time.monotonic()
        with (run / "stdout").open("wb") as out, (run / "stderr").open("wb") as err:
            proc = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=out, stderr=err, cwd=box, env=_env(box),
                start_new_session=True,
            )
            timed_out = False
            try:
                feed = (nonce + "\n" + stdin).encode("utf-8")
                proc.communicate(feed, timeout=limits.wall_seconds)
            except subprocess.TimeoutExpired:
                timed_out = True
                _kill_group(proc.pid)
                proc.wait()
            except BrokenPipeError:
                proc.wait(timeout=limits.wall_seconds)
            finally:
                _kill_group(proc.pid)
        seconds = time.monotonic() - start
        stdout = _read(run / "stdout", limits.output_bytes)
        stderr = _read(run / "stderr", limits.output_bytes)
    finally:
        if cgroup is not None:
            _remove_cgroup(cgroup)
        shutil.rmtree(run, ignore_errors=True)
    code = proc.returncode
    signalled = code < 0 or (namespaced and code > 128)
    if timed_out:
        status = "timeout"
    elif signalled:
        status = "killed"
    else:
        status = "ok" if code == 0 else "error"
    if status == "ok" and tests is not None:
        lines = stdout.rstrip("\n").rsplit("\n", 1)
        if lines[-1] != nonce:
            status = "error"
        else:
            stdout = lines[0] if len(lines) == 2 else ""
    return RunResult(status, code, stdout, stderr, seconds)


def _remove_cgroup(cgroup: Path) -> None:
    """Kill every process left in the run's cgroup, then remove it."""
    for _ in range(50):
        try:
            pids = [int(p) for p in (cgroup / "cgroup.procs").read_text().split()]
        except OSError:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            cgroup.rmdir()
            return
        except OSError:
            time.sleep(0.01)


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


@dataclass(frozen=True)
class Job:
    """One run for :func:`run_many`: a program, its stdin and optional test code."""

    source: str
    stdin: str = ""
    tests: str | None = None


def run_many(
    jobs: Sequence[Job], limits: SandboxLimits = SandboxLimits(), workers: int | None = None
) -> list[RunResult]:
    """Run every job in the sandbox, ``workers`` at a time (default: the CPU count)."""
    if not jobs:
        return []
    workers = workers or os.cpu_count() or 1
    with ThreadPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
        runs = pool.map(lambda job: run_python(job.source, job.stdin, limits, job.tests), jobs)
        return list(runs)
