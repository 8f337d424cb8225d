"""Does an ensemble proxy lose less gold than one proxy at equal KL when a diffusion
generator is tuned against it? (Coste et al. 2024's question, for images.)

Run: ``PYTHONPATH=src python benchmarks/diffusion_ensembles.py --out runs/ens``. For each
seed, ``rewardlab lab diffusion --optimizer draft --ensemble 5 --bootstrap --seed S``
(one 5-member proxy on bootstrap resamples; member 0 ``single`` and the ``mean``, ``wco``
and ``uwo`` readings each optimized by DRaFT on its own) in its own process, into
``OUT/seed_S``; a seed whose ``results.json`` is already there is read, not re-run. Each
curve's gold is interpolated linearly in KL at each ``--kl`` (``null`` beyond the
curve's last KL), and ``OUT/ensembles.json`` holds per seed and reading: the gold at
those KLs, the gold peak and its KL, the last gold and its KL and the drop from the
peak; then per reading the mean over the seeds where every seed reached that KL.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from rewardlab.atomic import write_json_atomic


def gold_at(curve: list[dict[str, Any]], kl: float) -> float | None:
    """Gold interpolated linearly in KL at ``kl``; ``None`` beyond the curve's last KL."""
    kls = np.array([p["kl"] for p in curve])
    if kl > kls.max():
        return None
    return float(np.interp(kl, kls, [p["gold"] for p in curve]))


def run_seed(seed: int, out: Path) -> tuple[dict[str, Any], float | None]:
    """The lab's results for ``seed`` (run now unless already there) and the wall time."""
    results = out / "results.json"
    if results.exists():
        return json.loads(results.read_text()), None
    command = [sys.executable, "-m", "rewardlab.cli.main", "--quiet", "lab", "diffusion",
               "--optimizer", "draft", "--ensemble", "5", "--bootstrap", "--seed", str(seed),
               "--out", str(out)]
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return json.loads(results.read_text()), time.perf_counter() - started


def summarize(results: dict[str, Any], kls: list[float]) -> dict[str, Any]:
    """Per reading: gold at each KL, peak, last and drop (module doc)."""
    rows = {}
    for name, result in results["optimizers"].items():
        curve, gold = result["curve"], [p["gold"] for p in result["curve"]]
        peak = int(np.argmax(gold))
        rows[result["reading"]] = {
            "gold_at_kl": {str(k): gold_at(curve, k) for k in kls},
            "gold_start": gold[0], "gold_peak": gold[peak], "kl_at_peak": curve[peak]["kl"],
            "gold_last": gold[-1], "kl_last": curve[-1]["kl"], "gold_drop": gold[peak] - gold[-1],
            "curve": name}
    return rows


def seed_means(per_seed: dict[str, dict[str, Any]], kls: list[float]) -> dict[str, Any]:
    """Per reading, the mean gold at each KL over the seeds (``None`` unless every seed's
    curve reached that KL)."""
    readings = next(iter(per_seed.values())).keys()
    means = {}
    for reading in readings:
        at = {}
        for k in kls:
            values = [seed[reading]["gold_at_kl"][str(k)] for seed in per_seed.values()]
            at[str(k)] = None if any(v is None for v in values) else float(np.mean(values))
        means[reading] = {"gold_at_kl": at, "gold_drop": float(np.mean(
            [seed[reading]["gold_drop"] for seed in per_seed.values()]))}
    return means


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seeds", default="0,1,2", help="comma list of seeds")
    parser.add_argument("--kl", default="10,20,30,40", help="comma list of KLs")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    kls = [float(k) for k in args.kl.split(",")]
    per_seed, wall = {}, {}
    for seed in seeds:
        results, seconds = run_seed(seed, args.out / f"seed_{seed}")
        per_seed[str(seed)] = summarize(results, kls)
        wall[str(seed)] = seconds if seconds is not None else results["timing"]["total_seconds"]
    write_json_atomic(args.out / "ensembles.json", {
        "seeds": seeds, "kl": kls, "per_seed": per_seed, "mean": seed_means(per_seed, kls),
        "seconds": wall})


if __name__ == "__main__":
    main()
