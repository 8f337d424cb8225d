"""How training, scoring and best-of-n grow with the number of pairs.

Run: ``PYTHONPATH=src python benchmarks/scaling.py --out scaling.json``.

For each size n (default 1k, 10k, 100k synthetic pairs from
``rewardlab.data.synthetic.preference_pairs``), four stages are timed:

- ``data``: drawing the n pairs from one arena;
- ``train``: ``train_reward_model`` on precomputed random features (each
  text's CRC-32 picks a row of a fixed 4096 × 256 Gaussian table, so feature
  cost is a lookup and the head part is what grows; a fixed 2 epochs, linear
  head), split into ``encode`` (features) and ``fit`` (head);
- ``score``: the trained model scoring the n chosen responses;
- ``bon``: ``best_of_n_curve`` over n candidates in pools of 16 (random proxy
  and gold scores), for n ∈ {1, 2, 4, 8, 16}.

Memory: the peak of ``tracemalloc`` (Python objects and numpy buffers, not
torch's allocator) per stage, and the process's max RSS after it
(``resource.getrusage``). The growth exponent of a stage is the least-squares
slope b of log t = a + b · log n: 1 is linear, 2 quadratic.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
import tracemalloc
import zlib
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from encoder_throughput import machine_info  # noqa: E402

STAGES = ("data", "encode", "fit", "train", "score", "bon")


class RandomFeatures:
    """A backbone of precomputed random features: row CRC-32(text) mod 4096 of a table."""

    def __init__(self, dim: int = 256, rows: int = 4096, seed: int = 0) -> None:
        self.table = np.random.default_rng(seed).normal(size=(rows, dim)).astype(np.float32)

    @property
    def dim(self) -> int:
        return self.table.shape[1]

    def encode(self, prompts, responses, progress=None) -> np.ndarray:
        keys = [zlib.crc32(f"{p}\n\n{r}".encode()) for p, r in zip(prompts, responses,
                                                                     strict=True)]
        return self.table[np.asarray(keys, dtype=np.int64) % len(self.table)]

    def config(self) -> dict[str, Any]:
        return {"kind": "random-features", "dim": self.dim}


def _measure(fn):
    tracemalloc.start()
    start = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out, {"seconds": seconds, "peak_mb": peak / 2**20, "maxrss_mb": rss}


def one_size(n: int, n_prompts: int, seed: int) -> dict[str, Any]:
    from rewardlab.data.synthetic import ArenaConfig, generate_arena, preference_pairs
    from rewardlab.models.training.config import TrainConfig
    from rewardlab.models.training.fit import train_reward_model
    from rewardlab.optimize.bon import best_of_n_curve
    from rewardlab.optimize.pool import PromptPool

    arena = generate_arena(ArenaConfig(n_prompts=n_prompts, seed=seed))
    records, data = _measure(lambda: preference_pairs(arena, n, seed=seed))
    config = TrainConfig(epochs=2, patience=2, seed=seed)
    (model, report), train = _measure(
        lambda: train_reward_model(records, RandomFeatures(seed=seed), config)
    )
    prompts = [r.prompt for r in records]
    chosen = [r.responses[r.ranking[0]] for r in records]
    _, score = _measure(lambda: model.score(prompts, chosen))
    rng = np.random.default_rng(seed)
    pools = [
        PromptPool(f"p{i}", tuple(f"r{j}" for j in range(16)), rng.normal(size=16),
                   gold=rng.normal(size=16))
        for i in range(max(n // 16, 1))
    ]
    _, bon = _measure(lambda: best_of_n_curve(pools, [1, 2, 4, 8, 16]))
    encode = {"seconds": report.encode_seconds}
    fit = {"seconds": report.fit_seconds}
    return {"n": n, "data": data, "encode": encode, "fit": fit, "train": train,
            "score": score, "bon": bon}


def growth_exponents(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Slope of log(seconds) against log(n) for each stage."""
    if len(rows) < 2:
        return {}
    log_n = np.log([row["n"] for row in rows])
    return {
        stage: float(np.polyfit(log_n, np.log([max(row[stage]["seconds"], 1e-9) for row in rows]),
                                1)[0])
        for stage in STAGES
    }


def table(result: dict[str, Any]) -> str:
    lines = [f"{'n pairs':>9}" + "".join(f"{s + ' s':>10}" for s in STAGES)
             + f"{'train MB':>10}{'bon MB':>9}"]
    for row in result["sizes"]:
        lines.append(f"{row['n']:>9}" + "".join(f"{row[s]['seconds']:>10.3f}" for s in STAGES)
                     + f"{row['train']['peak_mb']:>10.1f}{row['bon']['peak_mb']:>9.1f}")
    if result["exponents"]:
        lines.append(f"{'exponent':>9}" + "".join(f"{result['exponents'][s]:>10.2f}"
                                                  for s in STAGES))
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """The command-line options (``tests/test_readme.py`` checks documented commands)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    parser.add_argument("--n-prompts", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("scaling.json"))
    return parser


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = build_parser().parse_args(argv)
    machine = machine_info()
    one_size(min(args.sizes), args.n_prompts, args.seed)  # warm-up: imports, first calls
    rows = [one_size(n, args.n_prompts, args.seed) for n in sorted(args.sizes)]
    result = {"machine": machine, "features": "random table lookup by CRC-32, dim 256",
              "sizes": rows, "exponents": growth_exponents(rows)}
    result["machine"]["load_average_end"] = list(os.getloadavg())
    args.out.write_text(json.dumps(result, indent=2))
    print(table(result))
    return result


if __name__ == "__main__":
    main()
