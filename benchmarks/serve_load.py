"""Load test of the reward server on loopback: batching speedup, and a bounded soak.

**Comparison** (default). Two servers run side by side in child processes,
one micro-batching (``--max-batch``) and one that runs each request in a
forward pass of its own (max batch = ``--items-per-request``; the server
splits a request larger than its max batch, so max batch 1 would cost one
call per item rather than per request). ``c``
closed-loop clients (each sends a request, waits for the answer, sends the
next) hammer ``POST /score`` for ``--duration`` seconds. The settings are
interleaved: for each repeat and each ``c`` both servers are measured back to
back, in alternating order, so a change in the machine's load hits both; the
speedup of a repeat is throughput(batched) / throughput(unbatched) from that
pair. Reported per setting and ``c``: the median over ``--repeats`` of
requests/s and of the latency percentiles p50/p95/p99 (nearest rank), with
their min–max range; the median speedup and its range; failed requests (must
be zero); the mean batch size the server saw (from ``/metrics``); and the CPU
seconds per request spent by the server process and by the load generator
(from ``/proc``), which is what bounds throughput when the model itself costs
no CPU.

The default model is the length baseline plus a simulated forward cost:
``--model-sleep-ms`` per model call and ``--item-sleep-ms`` per item (one call
of n items costs ``fixed + n * per_item`` instead of ``n * (fixed +
per_item)``). The sleep costs no CPU, so the unbatched server is bounded by
the sleep (about ``1 / 21 ms`` ≈ 47 requests/s) while the batched one is
bounded by the CPU cost of HTTP and JSON in the server and the client: its
throughput, and so the speedup, tracks how much CPU the machine has free.

**Soak** (``--soak``). A real encoder reward model (all-MiniLM-L6-v2 frozen,
a linear head trained here on the synthetic arena, or ``--model DIR``) is
served with micro-batching; ``--clients`` clients (default 16) send requests
of ``--items-per-request`` items for ``--soak-seconds`` (default 60, at most
300). Every request's texts are new (a counter is appended), as in RL where
responses never repeat, so the encoder really runs. Reported: requests,
errors (must be 0), p50/p99, the server's resident memory (VmRSS) before
the load (after a 5 s warm-up), every 10 s during it and after it, and the
size of the embedding cache the encoder wrote (a temporary folder).

    python benchmarks/serve_load.py --out results/serve_load.json
    python benchmarks/serve_load.py --soak --out results/serve_soak.json
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
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from rewardlab import __version__
from rewardlab.atomic import write_text_atomic
from rewardlab.models.baselines import LengthReward

MAX_DURATION = 20.0
MAX_SOAK = 300.0


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


def train_encoder_model(cache_dir: str, seed: int = 0) -> Any:
    """A linear head on frozen all-MiniLM-L6-v2 features, trained on a small synthetic arena."""
    from rewardlab.data.synthetic import ArenaConfig, generate_arena, preference_pairs
    from rewardlab.features.encoder import EncoderBackbone
    from rewardlab.models.training.config import TrainConfig
    from rewardlab.models.training.fit import train_reward_model

    arena = generate_arena(ArenaConfig(n_prompts=40, candidates_per_prompt=4, seed=seed))
    pairs = preference_pairs(arena, 120, seed=seed)
    backbone = EncoderBackbone(cache_dir=cache_dir)
    return train_reward_model(pairs, backbone, TrainConfig(n_members=1, epochs=5, seed=seed))[0]


def build_model(spec: str, fixed_ms: float, item_ms: float, cache_dir: str) -> Any:
    if spec == "length":
        model: Any = LengthReward()
    elif spec == "encoder":
        model = train_encoder_model(cache_dir)
    else:
        from rewardlab.models.io import load_model

        model = load_model(spec)
    return SimulatedCost(model, fixed_ms, item_ms) if fixed_ms or item_ms else model


def _serve(
    spec: str, fixed_ms: float, item_ms: float, settings: dict, cache_dir: str, urls: Any, stop: Any
) -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"
    from rewardlab.serve.app import create_app
    from rewardlab.serve.runner import BackgroundServer
    from rewardlab.serve.settings import ServeSettings

    app = create_app(build_model(spec, fixed_ms, item_ms, cache_dir), ServeSettings(**settings))
    with BackgroundServer(app, log_level="error") as server:
        urls.put(server.url)
        stop.wait()


class ServerProcess:
    """A reward server in a child process; ``url`` and ``pid`` once started."""

    def __init__(
        self, spec: str, fixed_ms: float, item_ms: float, settings: dict, cache_dir: str
    ) -> None:
        ctx = mp.get_context("spawn")
        self._urls, self._stop = ctx.Queue(), ctx.Event()
        self.proc = ctx.Process(
            target=_serve,
            args=(spec, fixed_ms, item_ms, settings, cache_dir, self._urls, self._stop),
            daemon=True,
        )
        self.url = ""

    def __enter__(self) -> ServerProcess:
        self.proc.start()
        self.url = self._urls.get(timeout=600)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.proc.join(timeout=15)
        if self.proc.is_alive():
            self.proc.terminate()

    @property
    def pid(self) -> int:
        assert self.proc.pid is not None
        return self.proc.pid


def cpu_seconds(pid: int | None = None) -> float:
    """User + system CPU seconds of a process (this one when ``pid`` is None)."""
    if pid is None:
        t = os.times()
        return t.user + t.system
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    """Resident memory (VmRSS) of a process, MiB."""
    match = re.search(r"^VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.M)
    assert match is not None
    return int(match.group(1)) / 1024


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile: the ceil(q/100 * n)-th smallest value."""
    rank = max(1, math.ceil(q / 100.0 * len(sorted_values)))
    return sorted_values[rank - 1]


def _bodies(items: int, unique: bool, offset: int) -> Any:
    """Request bodies: the same one forever, or new texts each time (``unique``)."""
    prompts = [f"prompt {i}: answer the question about item {i}" for i in range(items)]
    responses = [" ".join(["token"] * (10 + 3 * i)) for i in range(items)]
    n = offset
    while True:
        if unique:
            n += 1
            yield {"prompts": prompts, "responses": [f"{r} (draft {n})" for r in responses]}
        else:
            yield {"prompts": prompts, "responses": responses}


class Connection:
    """A minimal HTTP/1.1 keep-alive client on one socket (one per simulated client).

    The load generator shares the machine with the server, so its own CPU cost
    per request must be small: httpx's pooled client spent 1.3-2.9 ms of CPU
    per request here (more with more connections), which at 32 clients capped
    the throughput measured. This client only writes a request and reads
    ``Content-Length`` bytes back.
    """

    def __init__(self, url: str) -> None:
        host, _, port = url.removeprefix("http://").partition(":")
        self.host, self.port = host, int(port)
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        assert self._reader is not None
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n"
        if body:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        self._writer.write(head.encode() + b"\r\n" + body)
        status_line = await self._reader.readuntil(b"\r\n")
        headers = await self._reader.readuntil(b"\r\n\r\n")
        length = re.search(rb"(?im)^content-length:\s*(\d+)", headers)
        data = await self._reader.readexactly(int(length.group(1))) if length else b""
        return int(status_line.split()[1]), data

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


async def load(
    url: str, concurrency: int, duration: float, items: int, unique: bool = False
) -> dict[str, Any]:
    """``concurrency`` closed-loop clients for ``duration`` seconds; latency and throughput."""
    latencies: list[float] = []
    failures: list[str] = []
    connections = [Connection(url) for _ in range(concurrency)]
    warm = _bodies(items, unique, offset=10**9)
    for conn in connections:  # open every connection and warm the model
        await conn.request("POST", "/score", json.dumps(next(warm)).encode())
    before = await _batch_totals(connections[0])
    end = time.perf_counter() + duration

    async def worker(k: int) -> None:
        bodies = _bodies(items, unique, offset=k * 10**7)
        while time.perf_counter() < end:
            start = time.perf_counter()
            try:
                status, data = await connections[k].request(
                    "POST", "/score", json.dumps(next(bodies)).encode()
                )
                if status != 200 or len(json.loads(data)["rewards"]) != items:
                    failures.append(f"HTTP {status}: {data[:200]!r}")
                    continue
            except Exception as err:  # a failed request is counted, not fatal
                failures.append(f"{type(err).__name__}: {err}")
                connections[k].close()
                continue
            latencies.append(time.perf_counter() - start)

    started = time.perf_counter()
    await asyncio.gather(*(worker(k) for k in range(concurrency)))
    elapsed = time.perf_counter() - started
    after = await _batch_totals(connections[0])
    for conn in connections:
        conn.close()
    latencies.sort()
    calls = after[1] - before[1]

    def ms(q: float) -> float | None:
        return round(1000 * percentile(latencies, q), 2) if latencies else None

    return {
        "concurrency": concurrency,
        "items_per_request": items,
        "seconds": round(elapsed, 3),
        "requests": len(latencies),
        "failed": len(failures),
        "failures_sample": failures[:3],
        "requests_per_s": round(len(latencies) / elapsed, 2),
        "p50_ms": ms(50),
        "p95_ms": ms(95),
        "p99_ms": ms(99),
        "model_calls": int(calls),
        "mean_batch_items": round((after[0] - before[0]) / calls, 2) if calls else None,
    }


async def _batch_totals(conn: Connection) -> tuple[float, float]:
    text = (await conn.request("GET", "/metrics"))[1].decode()
    total = re.search(r'^rewardlab_batch_size_sum\{kind="score"\} (\S+)$', text, re.M)
    count = re.search(r'^rewardlab_batch_size_count\{kind="score"\} (\S+)$', text, re.M)
    return (float(total.group(1)) if total else 0.0, float(count.group(1)) if count else 0.0)


def measure(server: ServerProcess, c: int, args: argparse.Namespace) -> dict[str, Any]:
    """One load run with the CPU seconds per request of server and load generator."""
    server_cpu, client_cpu = cpu_seconds(server.pid), cpu_seconds()
    row = asyncio.run(load(server.url, c, args.duration, args.items_per_request))
    n = max(row["requests"], 1)
    row["server_cpu_ms_per_request"] = round(1000 * (cpu_seconds(server.pid) - server_cpu) / n, 3)
    row["client_cpu_ms_per_request"] = round(1000 * (cpu_seconds() - client_cpu) / n, 3)
    row["load_average_1m"] = round(os.getloadavg()[0], 2)
    return row


def _spread(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 2), "min": min(values), "max": max(values)}


def summarize(runs: list[dict[str, Any]], concurrency: list[int]) -> dict[str, Any]:
    """Medians and ranges per (setting, clients), and the speedup of each interleaved pair."""
    table = {}
    for setting in ("batched", "unbatched"):
        for c in concurrency:
            rows = [r for r in runs if r["setting"] == setting and r["concurrency"] == c]
            keys = ("requests_per_s", "p50_ms", "p95_ms", "p99_ms", "mean_batch_items")
            keys += ("server_cpu_ms_per_request", "client_cpu_ms_per_request")
            table[f"{setting}/{c}"] = {
                k: _spread([r[k] for r in rows if r[k] is not None]) for k in keys
            }
    speedup = {}
    for c in concurrency:
        ratios = []
        for rep in sorted({r["repeat"] for r in runs}):
            pair = {r["setting"]: r for r in runs if r["concurrency"] == c and r["repeat"] == rep}
            if pair["unbatched"]["requests_per_s"]:
                ratios.append(
                    pair["batched"]["requests_per_s"] / pair["unbatched"]["requests_per_s"]
                )
        speedup[str(c)] = {**_spread([round(x, 2) for x in ratios]), "each": ratios}
    return {"table": table, "speedup": speedup}


HEADER = (
    f"{'rep':>3} {'setting':<10}{'clients':>8}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}"
    f"{'p99 ms':>9}{'batch':>7}{'srv cpu':>9}{'cli cpu':>9}{'load':>7}{'failed':>7}"
)


def _row(r: dict[str, Any]) -> str:
    return (
        f"{r['repeat']:>3} {r['setting']:<10}{r['concurrency']:>8}{r['requests_per_s']:>9.1f}"
        f"{r['p50_ms'] or 0:>9.1f}{r['p95_ms'] or 0:>9.1f}{r['p99_ms'] or 0:>9.1f}"
        f"{r['mean_batch_items'] or 0:>7.1f}{r['server_cpu_ms_per_request']:>9.2f}"
        f"{r['client_cpu_ms_per_request']:>9.2f}{r['load_average_1m']:>7.1f}{r['failed']:>7}"
    )


def compare(args: argparse.Namespace, cache_dir: str) -> dict[str, Any]:
    common = (args.model, args.model_sleep_ms, args.item_sleep_ms)
    batched = {"max_batch": args.max_batch, "max_wait_ms": args.max_wait_ms, "port": 0}
    single = {**batched, "max_batch": args.items_per_request}
    settings = {"batched": batched, "unbatched": single}
    runs: list[dict[str, Any]] = []
    print(HEADER, flush=True)
    with (
        ServerProcess(*common, batched, cache_dir) as b,
        ServerProcess(*common, single, cache_dir) as u,
    ):
        servers = {"batched": b, "unbatched": u}
        for rep in range(args.repeats):
            for c in args.concurrency:
                order = ["batched", "unbatched"] if rep % 2 == 0 else ["unbatched", "batched"]
                for name in order:
                    row = {"repeat": rep, "setting": name, **measure(servers[name], c, args)}
                    row["max_batch"] = settings[name]["max_batch"]
                    runs.append(row)
                    print(_row(row), flush=True)
    summary = summarize(runs, args.concurrency)
    print(
        "batching speedup, median [min-max] over interleaved pairs: "
        + ", ".join(
            f"{c} clients x{s['median']} [{s['min']}-{s['max']}]"
            for c, s in summary["speedup"].items()
        )
    )
    return {
        "mode": "compare",
        "model_sleep_ms": args.model_sleep_ms,
        "item_sleep_ms": args.item_sleep_ms,
        "items_per_request": args.items_per_request,
        "max_batch": args.max_batch,
        "max_wait_ms": args.max_wait_ms,
        "duration_s": args.duration,
        "repeats": args.repeats,
        "runs": runs,
        **summary,
        "failed_requests": sum(r["failed"] for r in runs),
    }


def soak(args: argparse.Namespace, cache_dir: str) -> dict[str, Any]:
    settings = {"max_batch": args.max_batch, "max_wait_ms": args.max_wait_ms, "port": 0}
    spec = args.model
    with ServerProcess(spec, 0.0, 0.0, settings, cache_dir) as server:
        warm = asyncio.run(load(server.url, args.clients, 5.0, args.items_per_request, True))
        rss_before = rss_mib(server.pid)
        timeline: list[float] = []
        done = threading.Event()

        def sample() -> None:  # the server's RSS every 10 s, to tell a plateau from a leak
            while not done.wait(10.0):
                timeline.append(round(rss_mib(server.pid), 1))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        row = asyncio.run(
            load(server.url, args.clients, args.soak_seconds, args.items_per_request, True)
        )
        done.set()
        sampler.join()
        rss_after = rss_mib(server.pid)
    cache_files = [f for f in Path(cache_dir).rglob("*") if f.is_file()]
    result = {
        "mode": "soak",
        "model": spec,
        "clients": args.clients,
        "items_per_request": args.items_per_request,
        "max_batch": args.max_batch,
        "max_wait_ms": args.max_wait_ms,
        "warmup": {k: warm[k] for k in ("seconds", "requests", "failed")},
        **row,
        "rss_mib_before": round(rss_before, 1),
        "rss_mib_after": round(rss_after, 1),
        "rss_mib_every_10s": timeline,
        "embedding_cache_files": len(cache_files),
        "embedding_cache_mib": round(sum(f.stat().st_size for f in cache_files) / 2**20, 1),
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
        "failed_requests": row["failed"],
    }
    print(
        f"soak: {row['requests']} requests in {row['seconds']} s, {row['failed']} errors, "
        f"p50 {row['p50_ms']} ms, p99 {row['p99_ms']} ms, "
        f"RSS {rss_before:.1f} -> {rss_after:.1f} MiB (every 10 s: {timeline}); "
        f"embedding cache {result['embedding_cache_files']} files, "
        f"{result['embedding_cache_mib']} MiB"
    )
    return result


def build_parser() -> argparse.ArgumentParser:
    """The command line of this script."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--model",
        default=None,
        help="'length' (built in, with a simulated cost; the default), 'encoder' (trained "
        "here; the default with --soak) or a saved model directory",
    )
    p.add_argument("--model-sleep-ms", type=float, default=20.0, help="simulated cost per call")
    p.add_argument("--item-sleep-ms", type=float, default=0.25, help="simulated cost per item")
    p.add_argument(
        "--concurrency", type=lambda s: [int(x) for x in s.split(",")], default=[1, 8, 32]
    )
    p.add_argument(
        "--duration", type=float, default=5.0, help=f"seconds per run (at most {MAX_DURATION:g})"
    )
    p.add_argument("--repeats", type=int, default=3, help="interleaved repeats per setting")
    p.add_argument("--items-per-request", type=int, default=4)
    p.add_argument("--max-batch", type=int, default=64)
    p.add_argument("--max-wait-ms", type=float, default=5.0)
    p.add_argument("--soak", action="store_true", help="run the soak test instead")
    p.add_argument("--clients", type=int, default=16, help="soak: concurrent clients")
    p.add_argument(
        "--soak-seconds",
        type=float,
        default=60.0,
        help=f"soak: seconds of load (at most {MAX_SOAK:g})",
    )
    p.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    return p


def main(argv: list[str] | None = None) -> int:
    p = build_parser()
    args = p.parse_args(argv)
    if args.model is None:
        args.model = "encoder" if args.soak else "length"
    if not 0 < args.duration <= MAX_DURATION:
        p.error(f"--duration must be in (0, {MAX_DURATION:g}]")
    if not 0 < args.soak_seconds <= MAX_SOAK:
        p.error(f"--soak-seconds must be in (0, {MAX_SOAK:g}]")
    if args.repeats < 1 or args.clients < 1:
        p.error("--repeats and --clients must be at least 1")

    with tempfile.TemporaryDirectory(prefix="rewardlab-serve-load-") as cache_dir:
        load_before = round(os.getloadavg()[0], 2)
        body = soak(args, cache_dir) if args.soak else compare(args, cache_dir)
    result = {
        "benchmark": "serve_load",
        "rewardlab_version": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "load_average_1m_at_start": load_before,
        "model": args.model,
        **body,
    }
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(args.out, json.dumps(result, indent=2) + "\n")
    if result["failed_requests"]:
        print(f"FAILED: {result['failed_requests']} requests failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
