"""Ensemble training cost: one member vs K members trained together in one batched pass.

``rewardlab.models.training.loop`` trains the K heads of an ensemble in one
forward/backward pass per batch (members share the minibatch, gathered once,
and the heads evaluate it in one matrix product), so the issue "Robust
rewards" targets

    ratio = median wall time (K members) / median wall time (1 member) ≤ 1.5.

Protocol: load the pairs, encode them once (the encoder's embedding cache is
then warm, so every timed run reads features from the cache), then for each
repeat time ``train_reward_model`` with ``n_members=1`` and with
``n_members=K`` back to back, alternating which goes first so drift in the
machine's load hits both alike. Two settings:

- ``fixed``: ``epochs`` epochs with early stopping off (``patience = epochs``)
  and no validation set: the same work per member, the pure cost of the
  batched members;
- ``early_stopping``: the default ``TrainConfig`` with a 20% validation split
  by prompt; an ensemble runs until no member improves, which is what a user
  pays.

Reported per setting: medians of the end-to-end time (cache lookup + fit) and
of the fit alone (``TrainReport.fit_seconds``), their K/1 ratios, and epochs
run. Writes JSON (``--out``) and prints a table.

Usage::

    PYTHONPATH=src python benchmarks/ensemble_timing.py \\
        --data ../shared/data/hh-rlhf/harmless-base-test.jsonl.gz --out timing.json
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

import rewardlab
from rewardlab.data.fingerprint import fingerprint
from rewardlab.data.load import load_comparisons
from rewardlab.data.split import split_by_prompt
from rewardlab.features import build_backbone
from rewardlab.models.io import write_json_atomic
from rewardlab.models.training.config import TrainConfig
from rewardlab.models.training.fit import train_reward_model
from rewardlab.models.training.units import pair_table

DEFAULT_DATA = "../shared/data/hh-rlhf/harmless-base-test.jsonl.gz"
TARGET_RATIO = 1.5


def build_parser() -> argparse.ArgumentParser:
    """The command-line options (``tests/test_readme.py`` checks documented commands)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=DEFAULT_DATA, help="pairs file (any loader format)")
    parser.add_argument("--format", default="auto", help="loader format of --data")
    parser.add_argument("--backbone", default="encoder", help="backbone spec")
    parser.add_argument("--members", type=int, default=8, help="K of the ensemble")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs of each size")
    parser.add_argument("--epochs", type=int, default=20, help="epochs of the 'fixed' setting")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True, help="results JSON")
    return parser


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = build_parser()
    return parser.parse_args(argv)


def timed_train(train, val, backbone, config: TrainConfig) -> dict[str, float]:
    """One ``train_reward_model`` run: wall, fit seconds and epochs run."""
    start = time.perf_counter()
    _, report = train_reward_model(train, backbone, config, val)
    wall = time.perf_counter() - start
    return {"wall": wall, "fit": report.fit_seconds, "epochs": len(report.history)}


def compare(train, val, backbone, config: TrainConfig, members: int, repeats: int) -> dict:
    """Alternate 1-member and K-member runs ``repeats`` times; medians and ratios."""
    sizes = {1: replace(config, n_members=1), members: replace(config, n_members=members)}
    runs: dict[int, list[dict[str, float]]] = {1: [], members: []}
    for repeat in range(repeats):
        order = [1, members] if repeat % 2 == 0 else [members, 1]
        for k in order:
            runs[k].append(timed_train(train, val, backbone, sizes[k]))
    medians = {
        k: {key: statistics.median(r[key] for r in rows) for key in ("wall", "fit", "epochs")}
        for k, rows in runs.items()
    }
    return {
        "runs": {str(k): rows for k, rows in runs.items()},
        "median": {str(k): m for k, m in medians.items()},
        "ratio_wall": medians[members]["wall"] / medians[1]["wall"],
        "ratio_fit": medians[members]["fit"] / medians[1]["fit"],
    }


def run(args: argparse.Namespace, command: str) -> dict[str, Any]:
    records = load_comparisons(args.data, args.format).records
    backbone = build_backbone(args.backbone)
    table = pair_table(records)
    warm_start = time.perf_counter()
    backbone.encode(table.prompts + table.prompts, table.chosen + table.rejected)
    warm_seconds = time.perf_counter() - warm_start
    fit_part, val_part = split_by_prompt(records, (0.8, 0.2), seed=args.seed)
    fixed = TrainConfig(epochs=args.epochs, patience=args.epochs, seed=args.seed)
    settings = {
        "fixed": compare(records, (), backbone, fixed, args.members, args.repeats),
        "early_stopping": compare(
            fit_part, val_part, backbone, TrainConfig(seed=args.seed), args.members, args.repeats
        ),
    }
    return {
        "command": command,
        "rewardlab_version": rewardlab.__version__,
        "data": str(args.data),
        "data_fingerprint": fingerprint(records),
        "n_pairs": len(table),
        "backbone": backbone.config(),
        "members": args.members,
        "repeats": args.repeats,
        "fixed_epochs": args.epochs,
        "first_encode_seconds": warm_seconds,
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg(),
        "platform": platform.platform(),
        "target_ratio": TARGET_RATIO,
        "settings": settings,
    }


def format_table(result: dict[str, Any]) -> str:
    k = str(result["members"])
    lines = [
        f"{result['n_pairs']} pairs, backbone {result['backbone']['kind']}, "
        f"{result['repeats']} repeats, medians (target ratio <= {result['target_ratio']})",
        f"{'setting':<16}{'wall 1':>9}{'wall ' + k:>9}{'ratio':>7}"
        f"{'fit 1':>9}{'fit ' + k:>9}{'ratio':>7}{'epochs 1/' + k:>12}",
    ]
    for name, s in result["settings"].items():
        one, many = s["median"]["1"], s["median"][k]
        lines.append(
            f"{name:<16}{one['wall']:>8.2f}s{many['wall']:>8.2f}s{s['ratio_wall']:>7.2f}"
            f"{one['fit']:>8.2f}s{many['fit']:>8.2f}s{s['ratio_fit']:>7.2f}"
            f"{one['epochs']:>6.0f}/{many['epochs']:<5.0f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    result = run(args, shlex.join(["PYTHONPATH=src", "python", "benchmarks/ensemble_timing.py", *argv]))
    write_json_atomic(args.out, result)
    print(format_table(result))
    print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    main()
