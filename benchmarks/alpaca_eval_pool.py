"""The held-out AlpacaEval candidate pool for best-of-n, as JSONL.

Run: ``PYTHONPATH=src python benchmarks/alpaca_eval_pool.py --out pool.jsonl``.

The split is the one ``rewardlab train --data ALPACA_EVAL_FOLDER
--test-fraction 0.2 --seed S`` makes (``held_out_pairs.held_out``: pairs
sampled with the CLI's defaults, ``split_by_prompt`` by instruction), so a
model trained that way never saw a judgment on these instructions. Every
candidate of every held-out instruction becomes one line ``{prompt, response, generator, gold, length}``: ``gold`` is
the GPT-4-turbo judge's preference in [1, 2] and ``length`` the response's
whitespace-token count (the length-only selector's score). Feed it to
``rewardlab bon --candidates pool.jsonl --gold-column gold``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rewardlab.data.formats import load_alpaca_eval_pool
from rewardlab.data.io import write_jsonl
from rewardlab.features.base import response_lengths

sys.path.insert(0, str(Path(__file__).resolve().parent))
from held_out_pairs import held_out  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "alpaca-eval"


def held_out_pool(folder: Path, seed: int, test_fraction: float) -> list[dict]:
    """Candidates of the instructions ``rewardlab train`` holds out with this seed."""
    prompts = {row["prompt"] for row in held_out(str(folder), seed, test_fraction, None)}
    rows = [row for row in load_alpaca_eval_pool(folder) if row["prompt"] in prompts]
    lengths = response_lengths([row["response"] for row in rows])
    return [
        {"prompt": row["prompt"], "response": row["response"], "generator": row["generator"],
         "gold": row["gold"], "length": float(n)}
        for row, n in zip(rows, lengths, strict=True)
    ]


def build_parser() -> argparse.ArgumentParser:
    """The command-line options (``tests/test_readme.py`` checks documented commands)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="AlpacaEval folder")
    parser.add_argument("--seed", type=int, default=0, help="split seed, as rewardlab train")
    parser.add_argument("--test-fraction", type=float, default=0.2)
    parser.add_argument("--out", type=Path, required=True, help="pool JSONL")
    return parser


def main(argv: list[str] | None = None) -> list[dict]:
    args = build_parser().parse_args(argv)
    rows = held_out_pool(args.data, args.seed, args.test_fraction)
    write_jsonl(args.out, rows)
    n_prompts = len({row["prompt"] for row in rows})
    print(f"{len(rows)} candidates of {n_prompts} held-out instructions -> {args.out}")
    return rows


if __name__ == "__main__":
    main()
