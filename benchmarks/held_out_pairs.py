"""The pairs ``rewardlab train --test-fraction F --seed S`` holds out, as TRL JSONL.

Run: ``PYTHONPATH=src python benchmarks/held_out_pairs.py --data PATH --out test.jsonl``
(``--sample N`` keeps N of them, drawn with ``random.Random(seed)``).

Each line is ``{prompt, chosen, rejected}``, ready for ``rewardlab eval
--data test.jsonl``: the audit in docs/results/audit.md evaluates a model on exactly the
prompts it never trained on.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

from rewardlab.data.io import write_jsonl
from rewardlab.data.load import load_comparisons
from rewardlab.data.split import split_by_prompt


def held_out(data: str, seed: int, test_fraction: float, sample: int | None) -> list[dict]:
    """The held-out split of ``data`` as TRL rows, optionally a seeded sample of it.

    An AlpacaEval folder's pairs are sampled with ``seed`` too, as the CLI does."""
    options = {"seed": seed} if Path(data).is_dir() else {}
    records = load_comparisons(data, **options).records
    test = split_by_prompt(records, (1 - test_fraction, test_fraction), seed)[1]
    if sample is not None and sample < len(test):
        test = random.Random(seed).sample(test, sample)
    return [{"prompt": r.prompt, "chosen": r.chosen, "rejected": r.rejected} for r in test]


def build_parser() -> argparse.ArgumentParser:
    """The command-line options (``tests/test_readme.py`` checks documented commands)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="data file or AlpacaEval folder")
    parser.add_argument("--seed", type=int, default=0, help="split seed, as rewardlab train")
    parser.add_argument("--test-fraction", type=float, default=0.2)
    parser.add_argument("--sample", type=int, default=None, help="keep this many pairs")
    parser.add_argument("--out", type=Path, required=True, help="TRL JSONL to write")
    return parser


def main(argv: list[str] | None = None) -> list[dict]:
    args = build_parser().parse_args(argv)
    rows = held_out(args.data, args.seed, args.test_fraction, args.sample)
    write_jsonl(args.out, rows)
    print(f"{len(rows)} held-out pairs -> {args.out}")
    return rows


if __name__ == "__main__":
    main()
