"""Run untrusted Python in a sandbox made by bubblewrap, and get plain values back.

Layers, each enforced by the kernel, none by Python:

- :mod:`~rewardlab.verifiers.sandbox.bwrap`: an unprivileged uid (``nobody``
  when this process is root; never root, not even mapped), new user, mount,
  PID, network, IPC, UTS and cgroup namespaces, a root with only read-only
  binds of the interpreter and its libraries, ``/tmp`` as a fresh tmpfs and
  the only writable place, no capabilities, a cleared environment;
- :mod:`~rewardlab.verifiers.sandbox.seccomp`: no sockets, mounts, new
  namespaces, ptrace or kernel-wide calls (``EPERM``), ``no_new_privs``;
- :mod:`~rewardlab.verifiers.sandbox.limits`: CPU, address-space, file-size
  and process rlimits, a ``pids`` cgroup per run when root, and a wall-time
  kill.

The trusted parent keeps the expected values: a run returns stdout (compared
by the caller) or the plain values of probe expressions
(:mod:`~rewardlab.verifiers.sandbox.harness`,
:mod:`~rewardlab.verifiers.sandbox.values`). Where no sandbox can be made,
:func:`run_python` and :func:`run_many` raise :class:`SandboxUnavailable`
naming what is missing, unless called with ``unsafe_no_sandbox=True``.
"""

from rewardlab.verifiers.sandbox.limits import SandboxLimits
from rewardlab.verifiers.sandbox.run import (
    Isolation,
    Job,
    RunResult,
    SandboxUnavailable,
    isolation,
    require_sandbox,
    run_many,
    run_python,
)

__all__ = [
    "Isolation",
    "Job",
    "RunResult",
    "SandboxLimits",
    "SandboxUnavailable",
    "isolation",
    "require_sandbox",
    "run_many",
    "run_python",
]
