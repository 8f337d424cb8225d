"""A verifier's per-sample rule run in worker processes, each sample under a hard time limit.

Why processes. math-verify bounds its parsing and comparison with
``signal.alarm``, which works only in a process's main thread; in a server's
worker thread, TRL's or verl's reward threads it is off, and one hostile answer
(``\\boxed{9^{9^{9}}}``: SymPy evaluates a 370-million-digit integer) holds the
thread for minutes. A signal cannot interrupt C code either (CPython's big
integer power), so the only hard bound is a process that can be killed.

How. :class:`BoundedRunner` keeps up to ``workers`` long-lived worker processes
per verifier, started from a ``forkserver`` (a clean interpreter, never a fork
of a threaded server) that has preloaded the verifier's heavy modules, so a
replacement starts in a fraction of a second. A batch is cut into chunks of at
most :data:`CHUNK` samples (smaller when that keeps every worker busy); an idle
worker gets the next chunk and sends its results back in one message. Before
each sample the worker notes in shared memory which sample it starts and when;
each sample has ``timeout`` seconds from that moment, and the parent sleeps
until the earliest deadline or a result. When the time is up the worker is
killed (``SIGKILL``), that sample gets the verifier's failure reward with the
reason logged, the rest of its chunk goes back to the queue (to be checked
again), and a new worker is started when one is needed. A worker that dies
(a crash, the kernel's out-of-memory killer) is handled the same way. When a
call ends by an exception (a worker that cannot start, an interrupt), every
worker is stopped, so no late result can reach a later call. Each worker runs under
``RLIMIT_AS`` = its address space after start-up + ``memory_mb``, so a huge
SymPy integer raises ``MemoryError`` (a failure reward) instead of taking the
machine's memory. Inside a worker the rule runs in the main thread, where
math-verify's own signal timeouts work; the math verifier sets them just past
the hard bound (:func:`worker_timeout`), so that a pathological answer always
meets the same end.

Worst case: a batch of ``n`` samples that all hang takes about
``ceil(n / workers) * timeout`` seconds plus one worker start per hang.

One context cannot have workers: a daemonic ``multiprocessing`` process (a
``multiprocessing.Pool`` worker, as in verl's ``parallel_compute_score``) may
not start processes. There the rule runs in the calling process, in its main
thread, where math-verify's signal timeouts hold, and the pool that owns the
process must bound it (verl's ``parallel_compute_score`` gives up on a task
after 20 s); a warning says so once.
"""

from __future__ import annotations

import importlib
import logging
import math
import multiprocessing
import os
import pickle
import resource
import signal
import sys
import threading
import time
import weakref
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

DEFAULT_TIMEOUT = 5.0
"""Seconds per sample: math-verify's own default for one comparison
(``verify(timeout_seconds=5)``; ``parse`` defaults to 5 as well) and TRL's
``accuracy_reward`` verify timeout (parsing: 10). verl's batch math scorer
(``verl/utils/reward_score/math_verify.py``, ``parallel_compute_score``) allows 20
and its ``prime`` reward manager 300 s, which lets a hostile batch stall a step
for far longer; a correct GSM8K answer takes about 2 ms here."""

MAX_TIMEOUT = 3600.0
"""The largest per-sample timeout accepted (an hour); larger values are mistakes."""

WORKER_MEMORY_MB = 1024
"""Address space a worker may add to what it holds after start-up."""

CHUNK = 32
"""Most samples sent to a worker in one message."""

START_TIMEOUT = 60.0
"""Seconds a new worker may take to start and import the verifier's modules."""

_READY = "ready"
_SLOTS = 64  # positions a chunk may have: CHUNK <= _SLOTS
LOG = logging.getLogger("rewardlab.verifiers")

Item = tuple[int, str, str, Any]
"""(sample index, prompt, response, reference)."""


@dataclass(frozen=True)
class Outcome:
    """One sample's result: ``reward``, or ``reason`` why it failed (then ``reward`` is None)."""

    reward: float | None
    reason: str | None = None


def check_timeout(value: Any, name: str = "timeout") -> float:
    """``value`` as seconds in (0, :data:`MAX_TIMEOUT`]; ``ValueError`` naming ``name`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number of seconds, got {value!r}")
    if not (math.isfinite(value) and 0 < value <= MAX_TIMEOUT):
        raise ValueError(f"{name} must be in (0, {MAX_TIMEOUT:g}] seconds, got {value!r}")
    return float(value)


def default_workers() -> int:
    """Worker processes per verifier: the CPU count, at most 4."""
    return max(1, min(4, os.cpu_count() or 1))


def _limit_memory(extra_bytes: int) -> None:
    """Cap the address space at what the process maps now plus ``extra_bytes``."""
    with open("/proc/self/statm") as statm:
        mapped = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    limit = mapped + extra_bytes
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _check(verifier: Any, item: Item) -> tuple[int, float | None, str | None]:
    """(index, reward, None), or (index, None, why) when the rule raised."""
    index, prompt, response, reference = item
    try:
        return index, float(verifier.check(prompt, response, reference)), None
    except Exception as err:  # noqa: BLE001 - the caller logs it as a failure
        return index, None, f"{type(err).__name__}: {err}"


_worker_timeout: float | None = None  # set only in a worker process, which serves one runner


def worker_timeout() -> float | None:
    """The hard per-sample bound of the worker process this runs in; ``None`` outside one.

    A rule with a soft timeout of its own (math-verify's ``signal.alarm``) sets
    it past this bound, so that the bound decides: a failure reward, logged.
    """
    return _worker_timeout


def _stamp(position: int) -> int:
    """``position`` in a chunk and the time it started, in one integer (see :class:`_Lane`)."""
    return int(time.monotonic() * 1000) * _SLOTS + position


def _worker_main(
    conn: Connection, state: Any, verifier: Any, extra_bytes: int, timeout: float
) -> None:
    """A worker: import, cap memory, say ready, then check every chunk it is sent."""
    global _worker_timeout
    _worker_timeout = timeout
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    for module in getattr(verifier, "preload", ()):
        try:
            importlib.import_module(module)
        except ImportError:
            pass  # the rule raises its own message (naming the extra) on first use
    _limit_memory(extra_bytes)
    conn.send(_READY)
    while True:
        try:
            chunk = conn.recv()
        except EOFError:  # the parent is gone
            return
        results = []
        for position, item in enumerate(chunk):
            state.value = _stamp(position)
            results.append(_check(verifier, item))
        conn.send(results)


@dataclass
class _Lane:
    """One worker process and the chunk it is working on.

    ``state`` is an integer in shared memory that the worker sets before each
    sample: ``start_ms * 64 + position`` (one aligned 8-byte store, so the
    parent never reads a position with another sample's start). Results come
    back once per chunk; the parent reads ``state`` to know which sample is
    running and since when.
    """

    process: Any
    conn: Connection
    state: Any
    chunk: list[Item] = field(default_factory=list)

    def current(self) -> tuple[int, float]:
        """(position in the chunk of the sample running, when it started: monotonic s)."""
        value = self.state.value
        return value % _SLOTS, (value // _SLOTS) / 1000

    def stop(self) -> None:
        self.conn.close()
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5)


def _stop_all(lanes: list[_Lane]) -> None:
    for lane in lanes:
        lane.stop()
    lanes.clear()


class BoundedRunner:
    """Run ``verifier.check`` on many samples in worker processes, ``timeout`` s per sample.

    ``verifier`` must be picklable (it is sent to each worker once); each
    worker imports the modules named by its ``preload`` attribute before its
    first sample. ``preload`` names modules for the forkserver to import when
    it starts. Workers live until :meth:`close` or until the runner is garbage
    collected.
    """

    def __init__(
        self,
        verifier: Any,
        timeout: float,
        workers: int | None = None,
        memory_mb: int = WORKER_MEMORY_MB,
        preload: Sequence[str] = (),
    ) -> None:
        self.verifier = verifier
        self.preload = [*getattr(verifier, "preload", ()), *preload]
        self.timeout = check_timeout(timeout)
        self.workers = workers or default_workers()
        self.memory_mb = memory_mb
        self._lanes: list[_Lane] = []
        self._warned = False
        self._lock = threading.Lock()
        self._finalizer = weakref.finalize(self, _stop_all, self._lanes)

    @property
    def worker_pids(self) -> list[int]:
        """The process ids of the workers now running (to watch their CPU and memory)."""
        return [lane.process.pid for lane in self._lanes]

    def close(self) -> None:
        """Stop every worker (a later :meth:`run` starts new ones)."""
        with self._lock:
            _stop_all(self._lanes)

    def run(self, items: Sequence[Item]) -> dict[int, Outcome]:
        """Every item's :class:`Outcome`, by sample index."""
        with self._lock:
            if multiprocessing.current_process().daemon:
                return self._run_here(items)
            try:
                return self._run(list(items))
            except BaseException:
                _stop_all(self._lanes)  # chunks in flight must not answer a later call
                raise

    def _run_here(self, items: Sequence[Item]) -> dict[int, Outcome]:
        """In this process: a daemonic process may not start workers (module docstring)."""
        if not self._warned:
            self._warned = True
            LOG.warning(
                "verifier %r runs in this daemonic process, which may not start worker "
                "processes: no hard %g s bound here (the pool that owns the process must bound it)",
                self._name(),
                self.timeout,
            )
        checked = [_check(self.verifier, item) for item in items]
        return {index: Outcome(reward, reason) for index, reward, reason in checked}

    def _run(self, items: list[Item]) -> dict[int, Outcome]:
        outcomes: dict[int, Outcome] = {}
        queue: deque[Item] = deque(items)
        size = max(1, min(CHUNK, math.ceil(len(items) / self.workers)))
        while queue or any(lane.chunk for lane in self._lanes):
            self._dispatch(queue, size)
            busy = [lane for lane in self._lanes if lane.chunk]
            deadline = min(lane.current()[1] for lane in busy) + self.timeout
            ready = wait([lane.conn for lane in busy], max(0.0, deadline - time.monotonic()))
            for lane in busy:
                if lane.conn in ready:
                    self._receive(lane, queue, outcomes)
                elif time.monotonic() >= lane.current()[1] + self.timeout:
                    self._fail(lane, queue, outcomes, f"timed out after {self.timeout:g} s")
        return outcomes

    def _dispatch(self, queue: deque[Item], size: int) -> None:
        """Give a chunk of ``size`` to every idle worker, starting workers up to ``workers``."""
        idle = [lane for lane in self._lanes if not lane.chunk]
        wanted = min(math.ceil(len(queue) / size) - len(idle), self.workers - len(self._lanes))
        idle += self._start(wanted)
        for lane in idle:
            if not queue:
                break
            lane.chunk = [queue.popleft() for _ in range(min(size, len(queue)))]
            lane.state.value = _stamp(0)  # the worker is idle: no race
            lane.conn.send(lane.chunk)

    def _receive(self, lane: _Lane, queue: deque[Item], outcomes: dict[int, Outcome]) -> None:
        """The results of ``lane``'s chunk."""
        try:
            results = lane.conn.recv()
        except (EOFError, OSError):
            lane.process.join(timeout=1)
            code = lane.process.exitcode
            self._fail(lane, queue, outcomes, f"the worker process died (exit code {code})")
            return
        for index, reward, reason in results:
            outcomes[index] = Outcome(reward, reason)
        lane.chunk = []

    def _fail(
        self, lane: _Lane, queue: deque[Item], outcomes: dict[int, Outcome], reason: str
    ) -> None:
        """Kill ``lane``'s worker: its current sample fails, the rest of its chunk is re-queued
        (results come once per chunk, so the samples it had finished are checked again)."""
        position = lane.current()[0]
        lane.stop()
        self._lanes.remove(lane)
        outcomes[lane.chunk[position][0]] = Outcome(
            None, f"{reason}; the worker was killed and replaced"
        )
        queue.extendleft(reversed(lane.chunk[:position] + lane.chunk[position + 1 :]))

    def _start(self, count: int) -> list[_Lane]:
        """``count`` new workers, started together, each ready to take samples."""
        spawned = [self._spawn() for _ in range(count)]
        failed = [lane for lane in spawned if not _ready(lane)]
        for lane in spawned:
            if failed:
                lane.stop()
            else:
                self._lanes.append(lane)
        if failed:
            code = failed[0].process.exitcode
            raise RuntimeError(
                f"verifier {self._name()!r}: its worker process did not start within "
                f"{START_TIMEOUT:g} s (exit code {code})"
            )
        return spawned

    def _name(self) -> str:
        return str(getattr(self.verifier, "name", type(self.verifier).__name__))

    def _spawn(self) -> _Lane:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(_preload(self.preload))
        parent, child = ctx.Pipe()
        state = ctx.RawValue("q", 0)
        process = ctx.Process(
            target=_worker_main,
            args=(child, state, self.verifier, self.memory_mb * 1024 * 1024, self.timeout),
            name=f"rewardlab-verifier-{self._name()}",
            daemon=True,
        )
        try:
            process.start()
        except (pickle.PicklingError, TypeError, AttributeError) as err:  # cannot be pickled
            parent.close()
            raise TypeError(
                f"verifier {self._name()!r} cannot be sent to a worker process: "
                f"{type(err).__name__}: {err}"
            ) from None
        finally:
            child.close()
        return _Lane(process, parent, state)


def _preload(modules: Sequence[str]) -> list[str]:
    """What the forkserver imports once, when it starts, so that workers start warm.

    The verifiers, ``modules`` (the runner's ``preload``: the forkserver serves
    every verifier of the process, so it gets them all), and the main module
    when it was run with ``-m``: multiprocessing runs it again in every worker,
    which then costs little.
    """
    modules = ["rewardlab.verifiers", *modules]
    spec = getattr(sys.modules["__main__"], "__spec__", None)
    if spec is not None and spec.name and not spec.name.endswith("__main__"):
        modules.append(spec.name)
    return list(dict.fromkeys(modules))


def _ready(lane: _Lane) -> bool:
    """Whether ``lane``'s worker said it is ready within :data:`START_TIMEOUT`."""
    try:
        return bool(lane.conn.poll(START_TIMEOUT)) and lane.conn.recv() == _READY
    except (EOFError, OSError):
        return False
