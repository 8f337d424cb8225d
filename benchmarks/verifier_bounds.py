"""What the time bound costs: the math verifier in-process vs in bounded worker processes.

Scores the GSM8K test solutions (``--n``, default all 1,319) against their own
gold answers (every one must score 1.0) three ways:

- ``in_process``: ``check`` called in this process with no time bound (the
  path before :mod:`rewardlab.verifiers.bounded`; a verifier with
  ``timeout = None``);
- ``bounded``: the default, worker processes with a per-sample timeout, warm
  (the workers already started, as in a server or a training loop);
- ``bounded_1_worker``: the same with one worker process, so the cost of the
  round trips shows without the gain of a second core;
- ``bounded_cold``: the default with new workers (start-up included), once.

Each warm setting runs ``--repeats`` times (default 3); the median wall time
and the median CPU time (this process and its workers, user + system) are
reported. Writes JSON (``--out``, atomically) and prints a table.

Usage::

    PYTHONPATH=src python benchmarks/verifier_bounds.py --out verifier_bounds.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rewardlab.atomic import write_json_atomic
from rewardlab.verifiers import make_verifier
from rewardlab.verifiers.bounded import BoundedRunner, default_workers

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def solutions(data: Path, n: int | None) -> list[str]:
    """The first ``n`` GSM8K test solutions (all when ``n`` is None)."""
    lines = (data / "gsm8k" / "test.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["answer"] for line in lines[:n]]


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of this process and of the processes ``pids``."""
    total = time.process_time()
    tick = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


def _timed(score: Any, texts: list[str], pids: Any) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds of this process and the workers, solutions scored 1)."""
    cpu, start = _cpu_seconds(pids()), time.perf_counter()
    rewards = score(texts)
    wall = time.perf_counter() - start
    return wall, _cpu_seconds(pids()) - cpu, sum(r == 1.0 for r in rewards)


def _verifier_score(verifier: Any) -> Any:
    return lambda texts: verifier.score([""] * len(texts), texts, texts)


def _runner_score(runner: BoundedRunner) -> Any:
    def score(texts: list[str]) -> list[float | None]:
        outcomes = runner.run([(i, "", t, t) for i, t in enumerate(texts)])
        return [outcomes[i].reward for i in range(len(texts))]

    return score


def run(texts: list[str], repeats: int) -> dict[str, Any]:
    """Median wall and CPU seconds of each setting, and how many solutions scored 1.

    The warm settings take turns within each repeat, so a change in the
    machine's load falls on all of them alike. CPU seconds add this process's
    and its workers' user and system time: what the bound costs the machine,
    whatever else runs on it.
    """
    out: dict[str, Any] = {"n": len(texts), "repeats": repeats, "workers": default_workers()}
    cold = make_verifier("math")
    wall, cpu, correct = _timed(_verifier_score(cold), texts, list)
    out["bounded_cold"] = {"seconds": wall, "correct": correct}
    in_process = make_verifier("math")
    in_process.timeout = None
    one = BoundedRunner(make_verifier("math"), cold.timeout, workers=1)
    settings = {
        "in_process": (_verifier_score(in_process), list),
        "bounded": (_verifier_score(cold), lambda: cold.runner().worker_pids),
        "bounded_1_worker": (_runner_score(one), lambda: one.worker_pids),
    }
    for score, _ in settings.values():
        score(["The answer is 1."])  # imports; starts the workers
    runs: dict[str, list[tuple[float, float, int]]] = {name: [] for name in settings}
    for _ in range(repeats):
        for name, (score, pids) in settings.items():
            runs[name].append(_timed(score, texts, pids))
    one.close()
    for name, timed in runs.items():
        out[name] = {
            "seconds": statistics.median(w for w, _, _ in timed),
            "cpu_seconds": statistics.median(c for _, c, _ in timed),
            "runs": [w for w, _, _ in timed],
            "correct": min(c for _, _, c in timed),
        }
    base = out["in_process"]
    for name in ("bounded", "bounded_1_worker"):
        suffix = name.removeprefix("bounded")
        out[f"overhead{suffix}"] = out[name]["seconds"] / base["seconds"]
        out[f"cpu_overhead{suffix}"] = out[name]["cpu_seconds"] / base["cpu_seconds"]
    return out


def build_parser() -> argparse.ArgumentParser:
    """The command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="the shared data folder")
    parser.add_argument("--n", type=int, default=None, help="solutions to score (default all)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("verifier_bounds.json"))
    return parser


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = build_parser().parse_args(argv)
    result = run(solutions(args.data, args.n), args.repeats)
    result["machine"] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        "load_average": list(os.getloadavg()),
        "python": sys.version.split()[0],
    }
    write_json_atomic(args.out, result)
    print(f"| setting | wall s (median of {args.repeats}) | CPU s | correct of {result['n']} |")
    print("|---|---|---|---|")
    for name in ("in_process", "bounded", "bounded_1_worker", "bounded_cold"):
        row = result[name]
        cpu = f"{row['cpu_seconds']:.2f}" if "cpu_seconds" in row else "–"
        print(f"| {name} | {row['seconds']:.2f} | {cpu} | {row['correct']} |")
    print(f"bounded ({result['workers']} workers) / in-process: wall {result['overhead']:.2f}, "
          f"CPU {result['cpu_overhead']:.2f}; 1 worker: wall {result['overhead_1_worker']:.2f}, "
          f"CPU {result['cpu_overhead_1_worker']:.2f}")
    return result


if __name__ == "__main__":
    main()
