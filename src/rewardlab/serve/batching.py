"""Dynamic micro-batching: concurrent requests share one forward pass.

A request becomes a *job* of ``n`` items. A collector task takes the first
waiting job, then keeps adding jobs while the batch holds fewer than
``max_batch`` items and less than ``max_wait_ms`` has passed since it started
waiting; a job that would overflow the batch opens the next one. The merged
columns go to the scoring function once, in a worker thread
(``run_in_executor``) so the event loop keeps accepting requests, and the
outputs are cut back per job by offset: job ``k`` gets outputs
``[o_k, o_k + n_k)`` with ``o_k = n_0 + ... + n_{k-1}``. While one batch runs,
new jobs queue up, so under load batches grow towards ``max_batch`` with no
extra waiting: the adaptive batching of Clipper (Crankshaw et al., "Clipper: A
Low-Latency Online Prediction Serving System", NSDI 2017) and Triton's dynamic
batcher. A job larger than ``max_batch`` runs alone, in consecutive chunks of
``max_batch`` items.

**Unmerged.** With ``merge=False`` every job is one model call of its own,
whole (never merged, never chunked): for a reward whose value depends on the
batch it is scored in (a recipe normalizing per batch or per prompt group),
each request is then scored exactly as its sender batched it.

**Cancellation.** A job whose caller stopped waiting (its future was
cancelled, e.g. because the client disconnected) is dropped before its batch
runs, and a job running alone in chunks stops after the chunk in flight.

**Isolation.** When a batch of several jobs fails, each job is re-run alone,
so one bad request cannot fail the requests that happened to share its
forward pass. A job that fails alone fails with :class:`InputRejected` (HTTP
422) when the model raised ``ValueError``, ``TypeError`` or ``LookupError``
(the model refusing this input: a tokenizer error, an unknown symbol), and
with :class:`ScoringError` (HTTP 500) otherwise, or when the model returned
the wrong number of outputs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
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

    def start(self) -> None:
        """Start the collector task on the running loop."""
        if self._task is not None:
            raise RuntimeError("MicroBatcher already started")
        self._queue = asyncio.Queue()
        self._task = asyncio.get_running_loop().create_task(self._collect())

    async def stop(self) -> None:
        """Stop collecting; jobs still queued fail with :class:`ScoringError`."""
        for task in (self._task, self._getter):
            if task is not None:
                task.cancel()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        self._task = self._getter = None
        while self._queue is not None and not self._queue.empty():
            job = self._queue.get_nowait()
            if not job.future.done():
                job.future.set_exception(ScoringError("the server is shutting down"))

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
        loop = asyncio.get_running_loop()
        carry: _Job | None = None
        while True:
            first = carry if carry is not None else await self._next(None)
            carry = None
            assert first is not None
            if first.future.done():  # cancelled while queued
                continue
            if not self.merge:
                await self._run_alone(first, chunk=first.size)
                continue
            batch, total = [first], first.size
            deadline = loop.time() + self.max_wait_ms / 1000.0
            while total < self.max_batch:
                job = await self._next(deadline - loop.time())
                if job is None:
                    break
                if job.future.done():
                    continue
                if total + job.size > self.max_batch:
                    carry = job
                    break
                batch.append(job)
                total += job.size
            await self._run(batch)

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

    async def _run(self, batch: list[_Job]) -> None:
        batch = [job for job in batch if not job.future.done()]
        if len(batch) == 1:
            await self._run_alone(batch[0])
        if len(batch) <= 1:
            return
        columns = tuple(
            [item for job in batch for item in job.columns[c]] for c in range(len(batch[0].columns))
        )
        try:
            outputs = await self._call(columns, len(batch))
        except Exception:  # isolate: re-run each job alone
            for job in batch:
                await self._run_alone(job)
            return
        offset = 0
        for job in batch:
            if not job.future.done():
                job.future.set_result(outputs[offset : offset + job.size])
            offset += job.size

    async def _run_alone(self, job: _Job, chunk: int | None = None) -> None:
        """Run one job by itself, in chunks of ``chunk`` items (default ``max_batch``),
        stopping if it is cancelled."""
        step = chunk or self.max_batch
        outputs: list[Any] = []
        for start in range(0, job.size, step):
            if job.future.done():
                return
            part = tuple(c[start : start + step] for c in job.columns)
            try:
                outputs.extend(await self._call(part, 1))
            except Exception as err:  # one failed job must not stop the server
                if not job.future.done():
                    job.future.set_exception(_failure(err))
                return
        if not job.future.done():
            job.future.set_result(outputs)
