"""Image rewards on the digits: a Bradley-Terry model on the built-in ``conv`` backbone
against the pixel-count, brightness and contrast baselines, and agreement with the gold.

For each seed, ``rewardlab.data.synthetic.digit_files.write_digits`` writes the ``gold``
task (400 prompts, 80% for training; ``--n-pairs`` labelled training pairs and
``--test-pairs`` labelled test pairs on the held-out prompts, ties on top, 10% label
noise) as Pick-a-Pic Parquet; the training file is read back with
``load_comparisons(format="pickapic")``, split 90/10 by prompt for early stopping (as
``rewardlab train`` does) and fitted with the defaults (linear head, BT, ``--l2 auto``,
the ``conv`` backbone). Reported per seed, on the held-out pairs: accuracy against the
noisy labels (``test.parquet``) and against the gold order (``test-gold.parquet``), each
with the baselines r = pixels, r = brightness, r = contrast (ties ½), and the encode and
fit times. The ``noise`` task (a clean scan against the same scan with heavy noise) is run
once per seed the same way.

Usage::

    PYTHONPATH=src python benchmarks/image_digits.py --seeds 0,1,2 --test-pairs 1000 \\
        --out image_digits.json
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import rewardlab
from rewardlab.data.load import load_comparisons
from rewardlab.data.split import split_by_prompt
from rewardlab.data.synthetic.digit_files import write_digits
from rewardlab.evaluate.pairwise import evaluate_pairs
from rewardlab.features.backbones import build_backbone
from rewardlab.models.training.config import TrainConfig
from rewardlab.models.training.fit import train_reward_model


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="0,1,2", help="Comma list of data and training seeds.")
    parser.add_argument("--n-pairs", type=int, default=1000, help="Labelled training pairs.")
    parser.add_argument("--test-pairs", type=int, default=1000, help="Labelled test pairs.")
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write.")
    return parser


def run_task(folder: Path, task: str, seed: int, n_pairs: int, test_pairs: int) -> dict:
    """Write the task, train on its train file, evaluate on its test file(s)."""
    write_digits(folder, task, n_pairs, test_pairs, seed=seed)
    train = load_comparisons(folder / "train.parquet", "pickapic").records
    fit, val = split_by_prompt(train, (0.9, 0.1), seed)
    model, report = train_reward_model(fit, build_backbone("conv"), TrainConfig(seed=seed), val)
    out: dict[str, Any] = {"n_train_pairs": report.n_train_pairs, "n_val_pairs": report.n_val_pairs,
                           "encode_seconds": report.encode_seconds,
                           "fit_seconds": report.fit_seconds, "l2": report.l2["value"]}
    names = ("test", "test-gold") if task == "gold" else ("test",)
    for name in names:
        result = evaluate_pairs(model, load_comparisons(folder / f"{name}.parquet").records)
        out[name] = {"accuracy": result["accuracy"], "n_pairs": result["n_pairs"],
                     "baselines": result["baselines"]}
    return out


def main(argv: list[str] | None = None) -> dict:
    args = build_parser().parse_args(argv)
    import torch

    seeds = [int(s) for s in args.seeds.split(",")]
    result: dict[str, Any] = {
        "command": "python benchmarks/image_digits.py " + shlex.join(argv or sys.argv[1:]),
        "rewardlab_version": rewardlab.__version__,
        "machine": {"date": datetime.now(UTC).isoformat(timespec="seconds"),
                    "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                    "load_average": list(os.getloadavg())},
        "runs": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:
            for task in ("gold", "noise"):
                start = time.perf_counter()
                run = run_task(Path(tmp) / f"{task}-{seed}", task, seed, args.n_pairs,
                               min(args.test_pairs, 500) if task == "noise" else args.test_pairs)
                run["wall_seconds"] = time.perf_counter() - start
                result["runs"][f"{task}-{seed}"] = run
                tests = {k: v for k, v in run.items() if k.startswith("test")}
                print(f"{task} seed {seed}: " + "; ".join(
                    f"{k} {v['accuracy']:.4f} (pixels {v['baselines']['pixels']:.4f}, brightness "
                    f"{v['baselines']['brightness']:.4f}, contrast {v['baselines']['contrast']:.4f},"
                    f" {v['n_pairs']} pairs)" for k, v in tests.items())
                    + f"; fit {run['fit_seconds']:.1f}s, wall {run['wall_seconds']:.1f}s")
    result["machine"]["load_average_end"] = list(os.getloadavg())
    args.out.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
