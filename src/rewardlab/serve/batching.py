"""Dynamic micro-batching: concurrent requests share one forward pass.

A request becomes a *job* of ``n`` items. A collector task takes the first
waiting job, then keeps adding jobs while the batch holds fewer than
``max_batch`` items and less than ``max_wait_ms`` has passed since it started
waiting; a job that would overflow the batch opens the next one (a single job
larger than ``max_batch`` runs alone, unsplit). The merged columns go to the
scoring function once, in a worker thread (``run_in_executor``) so the event
loop keeps accepting requests, and the outputs are cut back per job by offset:
job ``k`` gets outputs ``[o_k, o_k + n_k)`` with ``o_k = n_0 + ... + n_{k-1}``.
While one batch runs, new jobs queue up, so under load batches grow towards
``max_batch`` with no extra waiting: the adaptive batching of Clipper
(Crankshaw et al., "Clipper: A Low-Latency Online Prediction Serving System",
NSDI 2017) and Triton's dynamic batcher.

If the scoring function raises, or returns the wrong number of outputs, every
job of that batch (and only that batch) fails with :class:`ScoringError`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

BatchObserver = Callable[[int, int, float, bool], None]
"""Called after each batch with (items, jobs, seconds, ok)."""


class ScoringError(RuntimeError):
    """The model failed on a batch; every request in that batch gets this error."""


@dataclass
class _Job:
    columns: tuple[list[Any], ...]
    size: int
    future: asyncio.Future[list[Any]]


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
    ) -> None:
        self.fn = fn
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
        """Queue one job (equal-length columns) and wait for its outputs."""
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
            batch, total = [first], first.size
            deadline = loop.time() + self.max_wait_ms / 1000.0
            while total < self.max_batch:
                job = await self._next(deadline - loop.time())
                if job is None:
                    break
                if total + job.size > self.max_batch:
                    carry = job
                    break
                batch.append(job)
                total += job.size
            await self._run(batch, total)

    async def _run(self, batch: list[_Job], total: int) -> None:
        loop = asyncio.get_running_loop()
        columns = tuple(
            [item for job in batch for item in job.columns[c]] for c in range(len(batch[0].columns))
        )
        start = time.perf_counter()
        try:
            outputs = list(await loop.run_in_executor(self.executor, self.fn, *columns))
            if len(outputs) != total:
                raise ScoringError(f"the model returned {len(outputs)} outputs for {total} items")
        except Exception as err:  # one failed batch must not stop the server
            error = (
                err
                if isinstance(err, ScoringError)
                else ScoringError(f"scoring failed: {type(err).__name__}: {err}")
            )
            for job in batch:
                if not job.future.done():
                    job.future.set_exception(error)
            self._observe(total, len(batch), time.perf_counter() - start, False)
            return
        offset = 0
        for job in batch:
            if not job.future.done():
                job.future.set_result(outputs[offset : offset + job.size])
            offset += job.size
        self._observe(total, len(batch), time.perf_counter() - start, True)

    def _observe(self, items: int, jobs: int, seconds: float, ok: bool) -> None:
        if self.on_batch is not None:
            self.on_batch(items, jobs, seconds, ok)
