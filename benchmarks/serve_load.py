"""Load test of the reward server on loopback: throughput and latency percentiles.

For each server setting (micro-batching with ``--max-batch``, and no batching
with max batch 1) the server runs in a child process and ``c`` closed-loop
clients (each sends a request, waits for the answer, sends the next) hammer
``POST /score`` for ``--duration`` seconds, for every ``c`` in
``--concurrency``. Reported per run: requests/s, items/s, latency p50/p95/p99
(nearest-rank percentiles), failed requests (must be zero) and the mean batch
size the server saw (from ``/metrics``). The batching speedup is
throughput(batched) / throughput(max batch 1) at the same concurrency.

The default model is the length baseline plus a simulated forward cost:
``--model-sleep-ms`` per model call and ``--item-sleep-ms`` per item, so that
batching's benefit is realistic (one call of n items costs
``fixed + n * per_item`` instead of ``n * (fixed + per_item)``).

    python benchmarks/serve_load.py --out results/serve_load.json
    python benchmarks/serve_load.py --model runs/rm --model-sleep-ms 0
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing as mp
import os
import platform
import re
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from rewardlab import __version__
from rewardlab.models.baselines import LengthReward

MAX_DURATION = 20.0


class SimulatedCost:
    """Wraps a model; each ``score`` call sleeps ``fixed_ms + n * item_ms`` first."""

    def __init__(self, model: Any, fixed_ms: float, item_ms: float) -> None:
        self.model = model
        self.fixed_ms = fixed_ms
        self.item_ms = item_ms
        self.config = getattr(model, "config", {})

    def score(self, prompts, responses) -> np.ndarray:
        time.sleep((self.fixed_ms + self.item_ms * len(prompts)) / 1000.0)
        return self.model.score(prompts, responses)


def build_model(spec: str, fixed_ms: float, item_ms: float) -> Any:
    if spec == "length":
        model: Any = LengthReward()
    else:
        from rewardlab.models.io import load_model

        model = load_model(spec)
    return SimulatedCost(model, fixed_ms, item_ms) if fixed_ms or item_ms else model


def _serve(
    spec: str, fixed_ms: float, item_ms: float, settings: dict, urls: Any, stop: Any
) -> None:
    from rewardlab.serve.app import create_app
    from rewardlab.serve.runner import BackgroundServer
    from rewardlab.serve.settings import ServeSettings

    app = create_app(build_model(spec, fixed_ms, item_ms), ServeSettings(**settings))
    with BackgroundServer(app, log_level="error") as server:
        urls.put(server.url)
        stop.wait()


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile: the ceil(q/100 * n)-th smallest value."""
    rank = max(1, math.ceil(q / 100.0 * len(sorted_values)))
    return sorted_values[rank - 1]


async def _load(url: str, concurrency: int, duration: float, items: int) -> dict[str, Any]:
    import httpx

    prompts = [f"prompt {i}" for i in range(items)]
    responses = [" ".join(["token"] * (10 + 3 * i)) for i in range(items)]
    body = {"prompts": prompts, "responses": responses}
    latencies: list[float] = []
    failures: list[str] = []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=30.0, limits=limits) as client:
        for _ in range(2):  # warm the connections
            await client.post("/score", json=body)
        before = await _batch_totals(client)
        end = time.perf_counter() + duration

        async def worker() -> None:
            while time.perf_counter() < end:
                start = time.perf_counter()
                try:
                    r = await client.post("/score", json=body)
                    if r.status_code != 200 or len(r.json()["rewards"]) != items:
                        failures.append(f"HTTP {r.status_code}: {r.text[:200]}")
                        continue
                except Exception as err:  # a failed request is counted, not fatal
                    failures.append(f"{type(err).__name__}: {err}")
                    continue
                latencies.append(time.perf_counter() - start)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
        after = await _batch_totals(client)
    latencies.sort()
    calls = after[1] - before[1]
    return {
        "concurrency": concurrency,
        "items_per_request": items,
        "seconds": round(elapsed, 3),
        "requests": len(latencies),
        "failed": len(failures),
        "failures_sample": failures[:3],
        "requests_per_s": round(len(latencies) / elapsed, 2),
        "items_per_s": round(len(latencies) * items / elapsed, 2),
        "p50_ms": round(1000 * percentile(latencies, 50), 2) if latencies else None,
        "p95_ms": round(1000 * percentile(latencies, 95), 2) if latencies else None,
        "p99_ms": round(1000 * percentile(latencies, 99), 2) if latencies else None,
        "model_calls": int(calls),
        "mean_batch_items": round((after[0] - before[0]) / calls, 2) if calls else None,
    }


async def _batch_totals(client: Any) -> tuple[float, float]:
    text = (await client.get("/metrics")).text
    total = re.search(r'^rewardlab_batch_size_sum\{kind="score"\} (\S+)$', text, re.M)
    count = re.search(r'^rewardlab_batch_size_count\{kind="score"\} (\S+)$', text, re.M)
    return (float(total.group(1)) if total else 0.0, float(count.group(1)) if count else 0.0)


def run_setting(args: argparse.Namespace, name: str, max_batch: int) -> list[dict[str, Any]]:
    ctx = mp.get_context("spawn")
    urls, stop = ctx.Queue(), ctx.Event()
    settings = {"max_batch": max_batch, "max_wait_ms": args.max_wait_ms, "port": 0}
    proc = ctx.Process(
        target=_serve,
        args=(args.model, args.model_sleep_ms, args.item_sleep_ms, settings, urls, stop),
        daemon=True,
    )
    proc.start()
    try:
        url = urls.get(timeout=60)
        results = []
        for c in args.concurrency:
            row = asyncio.run(_load(url, c, args.duration, args.items_per_request))
            results.append({"setting": name, "max_batch": max_batch, **row})
            print(_row(results[-1]), flush=True)
        return results
    finally:
        stop.set()
        proc.join(timeout=15)
        if proc.is_alive():
            proc.terminate()


HEADER = f"{'setting':<10}{'clients':>8}{'req/s':>10}{'items/s':>10}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'batch':>7}{'failed':>7}"


def _row(r: dict[str, Any]) -> str:
    return (
        f"{r['setting']:<10}{r['concurrency']:>8}{r['requests_per_s']:>10.1f}{r['items_per_s']:>10.1f}"
        f"{r['p50_ms'] or 0:>9.1f}{r['p95_ms'] or 0:>9.1f}{r['p99_ms'] or 0:>9.1f}{r['mean_batch_items'] or 0:>7.1f}{r['failed']:>7}"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--model", default="length", help="'length' (built in) or a saved model directory"
    )
    p.add_argument(
        "--model-sleep-ms", type=float, default=20.0, help="simulated cost per model call"
    )
    p.add_argument("--item-sleep-ms", type=float, default=0.25, help="simulated cost per item")
    p.add_argument(
        "--concurrency", type=lambda s: [int(x) for x in s.split(",")], default=[1, 8, 32]
    )
    p.add_argument(
        "--duration", type=float, default=5.0, help=f"seconds per run (at most {MAX_DURATION:g})"
    )
    p.add_argument("--items-per-request", type=int, default=4)
    p.add_argument("--max-batch", type=int, default=64)
    p.add_argument("--max-wait-ms", type=float, default=5.0)
    p.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    args = p.parse_args(argv)
    if not 0 < args.duration <= MAX_DURATION:
        p.error(f"--duration must be in (0, {MAX_DURATION:g}]")

    print(HEADER)
    runs = run_setting(args, "batched", args.max_batch) + run_setting(args, "unbatched", 1)
    speedup = {}
    for c in args.concurrency:
        b = next(r for r in runs if r["setting"] == "batched" and r["concurrency"] == c)
        u = next(r for r in runs if r["setting"] == "unbatched" and r["concurrency"] == c)
        speedup[str(c)] = (
            round(b["requests_per_s"] / u["requests_per_s"], 2) if u["requests_per_s"] else None
        )
    print(
        "batching speedup (throughput batched / max batch 1): "
        + ", ".join(f"{c} clients x{s}" for c, s in speedup.items())
    )
    failed = sum(r["failed"] for r in runs)
    result = {
        "benchmark": "serve_load",
        "rewardlab_version": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
        "model": args.model,
        "model_sleep_ms": args.model_sleep_ms,
        "item_sleep_ms": args.item_sleep_ms,
        "items_per_request": args.items_per_request,
        "max_wait_ms": args.max_wait_ms,
        "duration_s": args.duration,
        "runs": runs,
        "speedup": speedup,
        "failed_requests": failed,
    }
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    if failed:
        print(f"FAILED: {failed} requests failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
