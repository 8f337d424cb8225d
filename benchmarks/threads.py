"""Torch thread counts side by side: a cached HH-RLHF fit with ``--threads 1``, ``2`` and
``auto`` (:mod:`rewardlab.threads`), interleaved, medians of the repeats.

Run: ``PYTHONPATH=src python benchmarks/threads.py --out threads.json`` (the encoder's
embeddings cached by a first run; ``--data`` defaults to the shared HH-RLHF harmless test
set). Each run is ``rewardlab --threads N train --backbone encoder --test-fraction 0.2``
in its own process; the JSON records each run's fit seconds (``metrics.json``), wall
seconds, the thread count torch used, and the load average before and after, so a
reading on a shared machine says how busy it was.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rewardlab.atomic import write_json_atomic
from rewardlab.threads import auto_threads

ROOT = Path(__file__).resolve().parents[1]
HH = ROOT.parent / "shared" / "data" / "hh-rlhf" / "harmless-base-test.jsonl.gz"


def run(data: Path, threads: str, out: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    command = [sys.executable, "-m", "rewardlab.cli.main", "--quiet", "--threads", threads,
               "train", "--data", str(data), "--backbone", "encoder", "--test-fraction",
               "0.2", "--seed", "0", "--out", str(out)]
    load = os.getloadavg()[0]
    started = time.perf_counter()
    subprocess.run(command, check=True, env=env, capture_output=True)
    wall = time.perf_counter() - started
    metrics = json.loads((out / "metrics.json").read_text())
    return {"threads": threads, "fit_s": metrics["train"]["fit_seconds"], "wall_s": wall,
            "accuracy": metrics["test"]["accuracy"], "load_before": load,
            "auto_would_pick": auto_threads(load=load)}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=HH)
    parser.add_argument("--threads", default="1,2,auto", help="comma list of settings")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None)
    return parser


def main(argv: list[str] | None = None) -> dict:
    args = build_parser().parse_args(argv)
    settings = args.threads.split(",")
    runs: dict[str, list[dict]] = {s: [] for s in settings}
    with tempfile.TemporaryDirectory() as tmp:
        run(args.data, "1", Path(tmp) / "warm")  # fills the embedding cache
        for repeat in range(args.repeats):
            for setting in settings:
                runs[setting].append(run(args.data, setting, Path(tmp) / f"{setting}-{repeat}"))
    results = {
        "data": str(args.data), "cpus": os.cpu_count(), "repeats": args.repeats,
        "runs": runs,
        "median_fit_s": {s: statistics.median(r["fit_s"] for r in runs[s]) for s in settings},
        "median_wall_s": {s: statistics.median(r["wall_s"] for r in runs[s]) for s in settings},
        "accuracy": {s: sorted({r["accuracy"] for r in runs[s]}) for s in settings},
    }
    if args.out is not None:
        write_json_atomic(args.out, results)
    print(json.dumps({k: results[k] for k in ("median_fit_s", "median_wall_s", "accuracy")}))
    return results


if __name__ == "__main__":
    main()
