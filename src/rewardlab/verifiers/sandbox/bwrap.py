"""The bubblewrap command line of one sandboxed run.

bubblewrap (``bwrap``, https://github.com/containers/bubblewrap; Debian's
``bubblewrap``) builds the sandbox; nothing here isolates by itself. The run:

- runs as an unprivileged uid: when this process is root it first drops to
  :data:`SANDBOX_UID` (``nobody``) with ``setpriv --reuid --regid
  --clear-groups --inh-caps=-all --bounding-set=-all`` (util-linux), so the
  sandbox's uid is never root, not even root mapped into a user namespace;
  otherwise it keeps the caller's uid. bwrap's own user namespace maps that
  uid to itself, and ``--cap-drop ALL`` leaves no capability;
- gets new user, IPC, PID, network, UTS and cgroup namespaces
  (``--unshare-*``), no further user namespaces (``--disable-userns``), a
  new session (no terminal injection), and dies with its parent;
- sees a new root holding only read-only binds of ``/usr`` (with the
  ``/bin``, ``/lib*`` links), ``/etc/ld.so.cache`` and the interpreter's
  prefix when it lies outside ``/usr``; a new ``/proc`` of its own PID
  namespace; a minimal ``/dev``; and ``/tmp``, a fresh tmpfs of
  ``tmp_mb`` MiB, its working directory and its only writable place (the root
  and ``/dev`` are remounted read-only). No ``/root``, ``/home``, ``/etc``
  beyond the loader cache, no host process, no host socket;
- starts with an empty environment but ``PATH``, ``HOME=/tmp``,
  ``TMPDIR=/tmp`` and ``LANG=C.UTF-8`` (``--clearenv``);
- runs under the seccomp filter of :mod:`rewardlab.verifiers.sandbox.seccomp`
  (``--seccomp FD``; bwrap sets ``no_new_privs``);
- has its CPU, address-space and file-size rlimits set by ``prlimit``
  (util-linux) before bwrap starts, so bwrap's own PID-1 reaper, which shares
  the run's uid, is bounded like the program (the harness sets them again,
  with ``RLIMIT_NPROC``, which is counted per user namespace).

The interpreter is ``python -I -S -B`` (no environment variables, no site
packages, no bytecode written): programs get the standard library only. It
is this process's base interpreter when the sandbox uid can reach it, else
``/usr/bin/python3`` (:func:`interpreters` lists them in that order).
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

SANDBOX_UID = 65534
"""The uid (and gid) a run has when this process is root: ``nobody``."""

SYSTEM_PYTHON = Path("/usr/bin/python3")
ROOT_LINKS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
ENV = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "TMPDIR": "/tmp", "LANG": "C.UTF-8"}


@dataclass(frozen=True)
class Interpreter:
    """A Python interpreter (resolved path) and the prefix it needs (``prefix/lib/pythonX.Y``)."""

    executable: Path
    prefix: Path

    def needs_bind(self) -> bool:
        """Whether the prefix lies outside ``/usr`` (bound on its own)."""
        return not self.prefix.is_relative_to("/usr")


def interpreters() -> list[Interpreter]:
    """Candidates in order: this process's base interpreter, then ``/usr/bin/python3``."""
    found = []
    base = getattr(sys, "_base_executable", None) or sys.executable
    for path in (Path(base), SYSTEM_PYTHON):
        if path.exists():
            executable = path.resolve()
            candidate = Interpreter(executable, executable.parents[1])
            if candidate not in found:
                found.append(candidate)
    return found


def missing_tool() -> str | None:
    """One line naming what the sandbox needs and this machine lacks, or None."""
    if not sys.platform.startswith("linux"):
        return f"the code sandbox needs Linux (this is {sys.platform})"
    if shutil.which("bwrap") is None:
        return ("bubblewrap (bwrap) is not installed: install it "
                "(Debian/Ubuntu: apt-get install bubblewrap)")
    for tool in ("setpriv", "prlimit") if os.geteuid() == 0 else ("prlimit",):
        if shutil.which(tool) is None:
            return f"{tool} (util-linux) is not installed (apt-get install util-linux)"
    return None


def privilege_drop() -> list[str]:
    """The ``setpriv`` prefix that makes a root caller's run unprivileged (empty otherwise)."""
    if os.geteuid() != 0:
        return []
    return [
        shutil.which("setpriv") or "setpriv", f"--reuid={SANDBOX_UID}", f"--regid={SANDBOX_UID}",
        "--clear-groups", "--inh-caps=-all", "--bounding-set=-all", "--",
    ]


def rlimit_prefix(rlimits: dict[str, int]) -> list[str]:
    """``prlimit --cpu=N --as=N --fsize=N --`` (soft = hard) for the whole run."""
    flags = {"RLIMIT_CPU": "--cpu", "RLIMIT_AS": "--as", "RLIMIT_FSIZE": "--fsize"}
    limits = [f"{flag}={rlimits[name]}" for name, flag in flags.items()]
    return [shutil.which("prlimit") or "prlimit", *limits, "--"]


def _root_links() -> list[str]:
    args = []
    for name in ROOT_LINKS:
        path = Path("/") / name
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    return args


def bwrap_command(interpreter: Interpreter, tmp_mb: int, seccomp_fd: int) -> list[str]:
    """``bwrap ... --`` up to (not including) the command it runs."""
    args = [
        shutil.which("bwrap") or "bwrap",
        "--unshare-user", "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
        "--unshare-cgroup", "--disable-userns", "--die-with-parent", "--new-session",
        "--cap-drop", "ALL", "--clearenv",
    ]
    for name, value in ENV.items():
        args += ["--setenv", name, value]
    args += ["--ro-bind", "/usr", "/usr", *_root_links()]
    args += ["--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache"]
    if interpreter.needs_bind():
        args += ["--ro-bind", str(interpreter.prefix), str(interpreter.prefix)]
    args += [
        "--proc", "/proc", "--dev", "/dev",
        "--size", str(tmp_mb * 1024 * 1024), "--tmpfs", "/tmp",
        "--remount-ro", "/dev", "--remount-ro", "/",
        "--chdir", "/tmp", "--seccomp", str(seccomp_fd), "--",
    ]
    return args
