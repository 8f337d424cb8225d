"""Per-run resource limits, and the ``pids`` cgroup that caps a run's processes.

``prlimit`` sets the CPU, address-space and file-size rlimits before bwrap
starts (:mod:`~rewardlab.verifiers.sandbox.bwrap`), and the harness sets all
four inside the sandbox before the program runs; they are hard limits (soft =
hard), and raising a hard limit needs ``CAP_SYS_RESOURCE`` in the host's user
namespace, which the sandbox never has. ``RLIMIT_CPU``: CPU seconds, then ``SIGXCPU``/``SIGKILL``.
``RLIMIT_AS``: address space, so a memory bomb gets ``MemoryError``.
``RLIMIT_FSIZE``: bytes per written file, stdout, stderr and the result
channel included (Python ignores ``SIGXFSZ``; the write fails with
``EFBIG``, "File too large"). ``RLIMIT_NPROC``: processes and threads of the
run's uid; the kernel counts them per user namespace (``ucounts``, Linux
5.14+), and every run has its own. When this process is root, each run also
gets a ``pids`` cgroup (``pids.max``): the run's first process joins it as
root before dropping to the sandbox uid, so everything the run starts is in it
and :func:`remove_cgroup` kills whatever is left.
"""

from __future__ import annotations

import os
import secrets
import signal
import time
from dataclasses import dataclass
from pathlib import Path

PIDS_CGROUP_ROOTS = (
    Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup/unified"), Path("/sys/fs/cgroup")
)

HELPER_PROCESSES = 3
"""Processes of a run beside the program's own: the first one (``sh``, then ``setpriv``,
then ``bwrap``: one process), bwrap's reaper (PID 1 of the run) and the interpreter."""


@dataclass(frozen=True)
class SandboxLimits:
    """Per-run limits (see the module docstring for how each is enforced).

    ``processes`` is the number of processes and threads a run may start beyond
    its interpreter; ``tmp_mb`` is the size of ``/tmp``, the run's only
    writable place (a fresh tmpfs).
    """

    cpu_seconds: int = 2
    wall_seconds: float = 5.0
    memory_mb: int = 512
    output_bytes: int = 1_000_000
    processes: int = 8
    tmp_mb: int = 64

    def __post_init__(self) -> None:
        for name in (
            "cpu_seconds", "wall_seconds", "memory_mb", "output_bytes", "processes", "tmp_mb"
        ):
            if not getattr(self, name) > 0:
                raise ValueError(f"SandboxLimits.{name} must be > 0, got {getattr(self, name)}")

    def rlimits(self) -> dict[str, int]:
        """``{RLIMIT name: value}`` for the harness (``RLIMIT_NPROC`` counts the interpreter
        and bwrap's reaper, both of the run's uid)."""
        return {
            "RLIMIT_CPU": self.cpu_seconds,
            "RLIMIT_AS": self.memory_mb * 1024 * 1024,
            "RLIMIT_FSIZE": self.output_bytes,
            "RLIMIT_NPROC": self.processes + 2,
        }


def pids_cgroup_root() -> Path | None:
    """The first cgroup hierarchy where this process can make a child with ``pids.max``."""
    for root in PIDS_CGROUP_ROOTS:
        probe = root / f"rewardlab-probe-{os.getpid()}-{secrets.token_hex(4)}"
        try:
            probe.mkdir()
        except OSError:
            continue
        usable = (probe / "pids.max").exists()
        probe.rmdir()
        if usable:
            return root
    return None


def make_cgroup(root: Path, processes: int) -> Path:
    """A new cgroup under ``root`` for one run, capped at its processes plus the helpers."""
    cgroup = root / f"rewardlab-sandbox-{os.getpid()}-{secrets.token_hex(6)}"
    cgroup.mkdir()
    (cgroup / "pids.max").write_text(str(processes + HELPER_PROCESSES))
    return cgroup


JOIN_CGROUP = 'echo $$ > "$0/cgroup.procs" && exec "$@"'
"""``sh -c JOIN_CGROUP CGROUP COMMAND...``: move into the cgroup, then become the command."""


def remove_cgroup(cgroup: Path) -> None:
    """Kill every process left in the run's cgroup, then remove it."""
    for _ in range(100):
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
