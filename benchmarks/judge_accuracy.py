"""Pairwise accuracy of the SmolLM2-135M-Instruct judge on real preference pairs.

Run: ``PYTHONPATH=src python benchmarks/judge_accuracy.py --n 100 --out judge.json``
(``--datasets`` to run one set; ``--max-field-tokens`` caps each response and
the prompt in the judging prompt, see :class:`rewardlab.models.lm.judge.JudgeOptions`).

``judge:smollm2`` (order-averaged P(A) vs P(B), :mod:`rewardlab.models.lm.judge`)
on ``n`` pairs drawn with ``seed`` from the HH-RLHF harmless test split and
from AlpacaEval (pairs of two generators on one instruction, labelled by the
GPT-4-turbo judge, ``min_gap`` 0.5 so the label is clear), beside the
length-only baseline on the same pairs.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from rewardlab.atomic import write_json_atomic
from rewardlab.data.load import load_comparisons
from rewardlab.evaluate.pairwise import evaluate_pairs
from rewardlab.load import load_reward_model
from rewardlab.models.lm.judge import JudgeOptions

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


DATASETS = {
    "hh-rlhf-harmless": lambda data, seed: load_comparisons(
        data / "hh-rlhf" / "harmless-base-test.jsonl.gz", "hh-rlhf").records,
    "alpaca-eval": lambda data, seed: load_comparisons(
        data / "alpaca-eval", "alpaca-eval", min_gap=0.5, pairs_per_prompt=1, seed=seed).records,
}


def sample(records: list, n: int, seed: int) -> list:
    """``n`` records drawn without replacement by a generator seeded with ``seed``."""
    idx = np.random.default_rng(seed).choice(len(records), size=min(n, len(records)),
                                             replace=False)
    return [records[i] for i in sorted(idx)]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100, help="pairs per data set")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", default="judge:smollm2", help="a judge spec")
    parser.add_argument("--data", type=Path, default=DATA, help="the shared data folder")
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--max-field-tokens", type=int, default=512)
    parser.add_argument("--out", type=Path, default=None, help="results JSON")
    return parser


def main(argv: list[str] | None = None) -> dict:
    args = build_parser().parse_args(argv)
    judge = load_reward_model(args.model,
                              judge=JudgeOptions(max_field_tokens=args.max_field_tokens))
    results = {"model": args.model, "seed": args.seed, "n": args.n,
               "max_field_tokens": args.max_field_tokens}
    for name in args.datasets:
        pairs = sample(DATASETS[name](args.data, args.seed), args.n, args.seed)
        start = time.perf_counter()
        report = evaluate_pairs(judge, pairs)
        results[name] = {
            "accuracy": report["accuracy"],
            "length_baseline_accuracy": report["length_baseline_accuracy"],
            "n_pairs": report["n_pairs"],
            "seconds": time.perf_counter() - start,
        }
        if args.out is not None:  # after each set, so a long run keeps what it measured
            write_json_atomic(args.out, results)
    return results


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
