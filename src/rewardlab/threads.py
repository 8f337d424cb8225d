"""How many CPU threads torch computes with: chosen from the machine and its load, or given.

Rule for ``auto`` (the default): the CPUs this process may run on
(``os.sched_getaffinity``), less the cores other processes keep busy (the 1-minute load
average, rounded to the nearest whole core), at least 1:

    threads = max(1, cpus − round(load₁))

torch's intra-op threads wait for each other at every operation, so a thread that
shares its core with another busy process stalls all of them: on this project's 2-core
machine under contention a cached HH-RLHF fit took 80 s with 2 threads and 23 s with 1
(issue 30; ``benchmarks/threads.py`` measures it side by side). On a quiet machine the
rule gives every core. An explicit count (``--threads N``, ``REWARDLAB_THREADS``) or a
user's own ``OMP_NUM_THREADS`` wins over the rule.

The count reaches torch through ``OMP_NUM_THREADS`` when torch is not imported yet (it
reads it once, at import) and, for an explicit count, through ``torch.set_num_threads``
when it is.
"""

from __future__ import annotations

import os
import sys

AUTO = "auto"


def available_cpus() -> int:
    """CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def auto_threads(cpus: int | None = None, load: float | None = None) -> int:
    """``max(1, cpus − round(load))``: the cores the other processes leave free."""
    cpus = available_cpus() if cpus is None else cpus
    if load is None:
        try:
            load = os.getloadavg()[0]
        except OSError:  # no load average on this platform: assume a quiet machine
            load = 0.0
    return max(1, min(cpus, cpus - round(load)))


def parse_threads(text: str) -> int | None:
    """``--threads``: ``auto`` (None) or a whole number ≥ 1 (``ValueError`` otherwise)."""
    if text.strip().lower() == AUTO:
        return None
    try:
        count = int(text)
    except ValueError:
        raise ValueError(f"expected 'auto' or a whole number >= 1, got {text!r}") from None
    if count < 1:
        raise ValueError(f"expected 'auto' or a whole number >= 1, got {count}")
    return count


def use_threads(count: int | None) -> int | None:
    """Make torch compute with ``count`` threads and return it. ``None`` (auto): the user's
    ``OMP_NUM_THREADS`` if set, else :func:`auto_threads` — applied only while torch is not
    imported yet (a Python process that already runs torch keeps its own setting; it
    returns None)."""
    if count is None:
        given = os.environ.get("OMP_NUM_THREADS", "")
        if given.isdigit() and int(given) >= 1:
            return int(given)
        if "torch" in sys.modules:
            return None
        count = auto_threads()
    os.environ["OMP_NUM_THREADS"] = str(count)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(count)
    return count
