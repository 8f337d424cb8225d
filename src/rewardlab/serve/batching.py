"""Dynamic micro-batching: concurrent requests share one forward pass, fairly.

A request becomes a *job* of ``n`` items. The collector keeps a list of
*active* jobs (arrived, not yet fully scored). Before each model call it takes
every job waiting in the queue into that list, and while the active jobs hold
fewer than ``max_batch`` unscored items it waits for more jobs, at most
``max_wait_ms`` (the adaptive batching of Clipper, Crankshaw et al., "Clipper:
A Low-Latency Online Prediction Serving System", NSDI 2017, and Triton's
dynamic batcher: under load, batches grow towards ``max_batch`` with no extra
waiting).

**Fairness.** A model call takes at most ``max_batch`` items, dealt out
round-robin over the active jobs in arrival order: one item from each job in
turn until the batch is full or every job's remaining items are in it (a fair
share, as in processor sharing). A 4,096-item request is therefore scored in
chunks, and a 1-item request that arrives meanwhile joins the next call: it
waits for at most the call in flight plus one call, not for the whole large
request. Each job's items keep their order; a job is answered when its last
item is scored, its outputs being the concatenation of its slices.

**Unmerged.** With ``merge=False`` every job is one model call of its own,
whole (never merged, never chunked), jobs taking turns in arrival order: for a
reward whose value depends on the batch it is scored in (a recipe normalizing
per batch or per prompt group), each request is then scored exactly as its
sender batched it.

**Cancellation.** A job whose caller stopped waiting (its future was
cancelled, e.g. because the client disconnected) gets no further items into a
model call: dropped before its first call, it never reaches the model, and a
large job stops after the call in flight.

**Isolation.** When a call that merged several jobs fails, each job's slice is
re-run alone, so one bad request cannot fail the requests that happened to
share its forward pass. A job whose slice fails alone fails with
:class:`InputRejected` (HTTP 422) when the model raised ``ValueError``,
``TypeError`` or ``LookupError`` (the model refusing this input: a tokenizer
error, an unknown symbol), and with :class:`ScoringError` (HTTP 500)
otherwise, or when the model returned the wrong number of outputs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

BatchObserver = Callable[[int, int, float, bool], None]
"""Called after each model call with (items, jobs, seconds, ok)."""

INPUT_ERRORS = (ValueError, TypeError, LookupError)
"""Exceptions that, raised for one request alone, blame that request's input."""


class ScoringError(RuntimeError):
    """The model failed; the requests it was scoring get HTTP 500."""


class InputRejected(RuntimeError):
    """The model refused one request's input when scoring it alone; HTTP 422."""


@dataclass
class _Job:
    columns: tuple[list[Any], ...]
    size: int
    future: asyncio.Future[list[Any]]
    handed: int = 0  # items given to model calls so far
    outputs: list[Any] = field(default_factory=list)

    def part(self, start: int, stop: int) -> tuple[list[Any], ...]:
        return tuple(column[start:stop] for column in self.columns)


Slice = tuple[_Job, int, int]
"""Items ``[start, stop)`` of a job, in one model call."""


def _failure(err: Exception) -> Exception:
    """The error a job that failed alone is answered with."""
    if isinstance(err, (ScoringError, InputRejected)):
        return err
    kind = InputRejected if isinstance(err, INPUT_ERRORS) else ScoringError
    verb = "the model rejected this input" if kind is InputRejected else "scoring failed"
    return kind(f"{verb}: {type(err).__name__}: {err}")


class MicroBatcher:
    """Merge concurrent ``submit`` calls into batches for ``fn``.

    ``fn(*columns)`` receives one list per column (all of the same length) and
    returns a sequence with one output per item. Call :meth:`start` inside the
    running event loop and :meth:`stop` before it closes.
    """

    def __init__(
        self,
        fn: Callable[..., Sequence[Any]],
        *,
        max_batch: int,
        max_wait_ms: float,
        executor: Executor | None = None,
        on_batch: BatchObserver | None = None,
        merge: bool = True,
    ) -> None:
        self.fn = fn
        self.merge = merge
        self.max_batch = max_batch
        self.max_wait_ms = max_wait_ms
        self.executor = executor
        self.on_batch = on_batch
        self._queue: asyncio.Queue[_Job] | None = None
        self._task: asyncio.Task[None] | None = None
        self._getter: asyncio.Task[_Job] | None = None
        self._active: list[_Job] = []

    def start(self) -> None:
        """Start the collector task on the running loop."""
        if self._task is not None:
            raise RuntimeError("MicroBatcher already started")
        self._queue = asyncio.Queue()
        self._task = asyncio.get_running_loop().create_task(self._collect())

    async def stop(self) -> None:
        """Stop collecting; jobs queued or partly scored fail with :class:`ScoringError`."""
        for task in (self._task, self._getter):
            if task is not None:
                task.cancel()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        self._task = self._getter = None
        while self._queue is not None and not self._queue.empty():
            self._active.append(self._queue.get_nowait())
        for job in self._active:
            if not job.future.done():
                job.future.set_exception(ScoringError("the server is shutting down"))
        self._active.clear()

    async def submit(self, *columns: Sequence[Any]) -> list[Any]:
        """Queue one job (equal-length columns) and wait for its outputs.

        Cancelling the awaiting task cancels the job (see the module docstring).
        """
        if self._queue is None or self._task is None or self._task.done():
            raise RuntimeError("MicroBatcher is not running; call start() first")
        size = len(columns[0])
        if any(len(c) != size for c in columns):
            raise ValueError("all columns of a job must have the same length")
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Job(tuple(list(c) for c in columns), size, future))
        return await future

    async def _next(self, timeout: float | None) -> _Job | None:
        """The next queued job, or ``None`` after ``timeout`` seconds; never loses one."""
        assert self._queue is not None
        if self._getter is None:
            try:
                return self._queue.get_nowait()
            except asyncio.QueueEmpty:
                if timeout is not None and timeout <= 0:
                    return None
                self._getter = asyncio.ensure_future(self._queue.get())
        done, _ = await asyncio.wait({self._getter}, timeout=timeout)
        if not done:
            return None
        job = self._getter.result()
        self._getter = None
        return job

    async def _collect(self) -> None:
        while True:
            if not self.merge:
                job = await self._next(None)
                assert job is not None
                if not job.future.done():
                    await self._run([(job, 0, job.size)])
                continue
            await self._gather()
            batch = self._plan()
            if batch:
                await self._run(batch)

    async def _gather(self) -> None:
        """Take every queued job into the active list; wait for more while the batch has room."""
        loop = asyncio.get_running_loop()
        self._active = [job for job in self._active if not job.future.done()]
        if not self._active:
            first = await self._next(None)
            assert first is not None
            self._active.append(first)
        deadline = loop.time() + self.max_wait_ms / 1000.0
        while True:
            unscored = sum(job.size - job.handed for job in self._active if not job.future.done())
            job = await self._next(0.0 if unscored >= self.max_batch else deadline - loop.time())
            if job is None:
                return
            self._active.append(job)

    def _plan(self) -> list[Slice]:
        """The next call's slices: up to ``max_batch`` items, round-robin over active jobs."""
        jobs = [job for job in self._active if not job.future.done()]
        shares = [0] * len(jobs)
        room = self.max_batch
        while room > 0:
            dealt = room
            for k, job in enumerate(jobs):
                if room > 0 and job.handed + shares[k] < job.size:
                    shares[k] += 1
                    room -= 1
            if room == dealt:  # every job is fully dealt
                break
        batch = [(job, job.handed, job.handed + n) for job, n in zip(jobs, shares, strict=True) if n]
        for job, _, stop in batch:
            job.handed = stop
        return batch

    async def _call(self, columns: tuple[list[Any], ...], jobs: int) -> list[Any]:
        """One model call in the executor; raises what the model raised."""
        n = len(columns[0])
        start = time.perf_counter()
        ok = False
        try:
            loop = asyncio.get_running_loop()
            outputs = list(await loop.run_in_executor(self.executor, self.fn, *columns))
            if len(outputs) != n:
                raise ScoringError(f"the model returned {len(outputs)} outputs for {n} items")
            ok = True
            return outputs
        finally:
            if self.on_batch is not None:
                self.on_batch(n, jobs, time.perf_counter() - start, ok)

    async def _run(self, batch: list[Slice]) -> None:
        """One model call for ``batch``; when it fails, each slice alone (see Isolation)."""
        columns = tuple(
            [item for job, a, b in batch for item in job.columns[c][a:b]]
            for c in range(len(batch[0][0].columns))
        )
        try:
            outputs = await self._call(columns, len(batch))
        except Exception as err:  # noqa: BLE001 - isolate: re-run each slice alone
            if len(batch) == 1:
                _fail(batch[0][0], err)
                return
            for job, a, b in batch:
                if not job.future.done():
                    await self._run([(job, a, b)])
            return
        offset = 0
        for job, a, b in batch:
            _deliver(job, outputs[offset : offset + b - a])
            offset += b - a


def _deliver(job: _Job, outputs: list[Any]) -> None:
    """Add a slice's outputs; answer the job when its last item is scored."""
    if job.future.done():
        return
    job.outputs.extend(outputs)
    if len(job.outputs) == job.size:
        job.future.set_result(job.outputs)


def _fail(job: _Job, err: Exception) -> None:
    """Answer ``job`` with the error its slice raised when run alone."""
    job.handed = job.size  # nothing more of it is scored
    if not job.future.done():
        job.future.set_exception(_failure(err))
