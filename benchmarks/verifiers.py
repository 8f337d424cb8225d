"""Verifier throughput: the code sandbox with a worker pool, and math-verify on GSM8K.

Sandbox: the correct solutions of the project's code problems
(``tests/data/code_problems/problems.jsonl``), one sandboxed run per test
case, cycled to ``--runs`` runs, run by :func:`rewardlab.verifiers.sandbox.run_many`
with 1 and with ``--workers`` workers. Reported: runs per second (runs / wall
time of the batch) and the median and 90th-percentile latency of one run
(process start to exit, as :class:`~rewardlab.verifiers.sandbox.RunResult`
measures it), and the isolation layers in use.

Math: the math verifier on ``--n-math`` GSM8K test solutions scored against
their own gold answers (all must score 1): verifications per second for the
whole batch, and the median latency of one verification (one sample per call,
on up to 100 further solutions, since math-verify caches what it has parsed).

Writes JSON (``--out``, atomically) and prints a table.

Usage::

    PYTHONPATH=src python benchmarks/verifiers.py --runs 120 --workers 2 --out verifiers.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rewardlab.atomic import write_json_atomic
from rewardlab.verifiers import make_verifier
from rewardlab.verifiers.code import tests_for
from rewardlab.verifiers.sandbox import Job, SandboxLimits, isolation, run_many

ROOT = Path(__file__).resolve().parents[1]
PROBLEMS = ROOT / "tests" / "data" / "code_problems" / "problems.jsonl"
DATA = ROOT / ".." / "shared" / "data"


def machine_info() -> dict[str, Any]:
    """Date, CPU, cores, load average and Python version."""
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "load_average": list(os.getloadavg()),
        "python": sys.version.split()[0],
    }


def sandbox_jobs(n: int) -> list[Job]:
    """``n`` runs: every test case of every problem's correct solution, cycled."""
    jobs: list[Job] = []
    for line in PROBLEMS.read_text(encoding="utf-8").splitlines():
        problem = json.loads(line)
        jobs += [test.job for test in tests_for(problem["correct"], problem["reference"])]
    return [jobs[i % len(jobs)] for i in range(n)]


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def bench_sandbox(runs: int, workers: int) -> dict[str, Any]:
    """Runs/s and latency with 1 worker and with ``workers``."""
    jobs = sandbox_jobs(runs)
    out: dict[str, Any] = {"runs": runs, "limits": asdict(SandboxLimits())}
    for w in sorted({1, workers}):
        start = time.perf_counter()
        results = run_many(jobs, SandboxLimits(), workers=w)
        wall = time.perf_counter() - start
        latencies = [r.seconds for r in results]
        out[f"workers_{w}"] = {
            "ok": sum(r.status == "ok" for r in results),
            "seconds": wall,
            "runs_per_second": runs / wall,
            "median_latency_s": statistics.median(latencies),
            "p90_latency_s": _quantile(latencies, 0.9),
        }
    return out


def bench_math(data: Path, n: int) -> dict[str, Any]:
    """Verifications/s over a batch and the median single-sample latency."""
    rows = [json.loads(x) for x in (data / "gsm8k" / "test.jsonl").read_text().splitlines()]
    golds = [r["answer"] for r in rows[:n]]
    # single-sample latency on other solutions: math-verify caches what it has parsed
    others = [r["answer"] for r in rows[n : n + 100]] or golds[:100]
    verifier = make_verifier("math")
    verifier.score([""], ["The answer is 1."], ["1"])  # imports math-verify and SymPy
    start = time.perf_counter()
    rewards = verifier.score([""] * len(golds), golds, golds)
    wall = time.perf_counter() - start
    single = []
    for gold in others:
        t0 = time.perf_counter()
        verifier.score([""], [gold], [gold])
        single.append(time.perf_counter() - t0)
    return {
        "n": len(golds),
        "correct": int(rewards.sum()),
        "seconds": wall,
        "per_second": len(golds) / wall,
        "median_latency_s": statistics.median(single),
    }


def table(result: dict[str, Any]) -> str:
    lines = ["| what | workers | runs/s | median latency (s) | p90 latency (s) |",
             "|---|---|---|---|---|"]
    sandbox = result["sandbox"]
    for key, row in sandbox.items():
        if key.startswith("workers_"):
            lines.append(f"| sandbox ({sandbox['runs']} runs) | {key.split('_')[1]} | "
                         f"{row['runs_per_second']:.1f} | {row['median_latency_s']:.3f} | "
                         f"{row['p90_latency_s']:.3f} |")
    m = result["math"]
    lines.append(f"| math-verify ({m['n']} GSM8K) | 1 | {m['per_second']:.0f} | "
                 f"{m['median_latency_s']:.4f} | — |")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """The command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="the shared data folder")
    parser.add_argument("--runs", type=int, default=120, help="sandbox runs per setting")
    parser.add_argument("--workers", type=int, default=2, help="sandbox worker pool size")
    parser.add_argument("--n-math", type=int, default=500, help="GSM8K solutions to verify")
    parser.add_argument("--out", type=Path, default=Path("verifiers.json"))
    return parser


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = build_parser().parse_args(argv)
    result: dict[str, Any] = {"machine": machine_info(),
                              "isolation": {k: str(v) for k, v in asdict(isolation()).items()}}
    result["sandbox"] = bench_sandbox(args.runs, args.workers)
    result["math"] = bench_math(args.data, args.n_math)
    result["machine"]["load_average_end"] = list(os.getloadavg())
    write_json_atomic(args.out, result)
    print(table(result))
    return result


if __name__ == "__main__":
    main()
