"""Encoder throughput of all-MiniLM-L6-v2 on CPU against the matmul roofline.

Run: ``PYTHONPATH=src python benchmarks/encoder_throughput.py --out enc.json``.

Each repeat measures, back to back on the same real texts (HH-RLHF harmless
prompts and responses, AlpacaEval outputs):

- roofline: the best fp32 ``torch.mm`` rate over the encoder's GEMM shapes
  (384 → 1152, 384 → 1536, 1536 → 384) at 512, 2,048 and 8,192 rows, all
  threads (``matmul_roofline``);
- baseline: ``SentenceTransformer(path).encode(texts, batch_size=64)``;
- exact: ``rewardlab`` packed, token-budget path (``SentenceEncoder``);
- int8: the same with int8 dynamic quantization (opt-in, not exact).

Useful work is counted on real tokens only, FLOPs = Σ_i n_i · L · (24 d² +
4 n_i d) (``rewardlab.features.fast_encode.encoder_flops``), so padding is
waste for every engine. Ratios are taken within each repeat and reported as
medians, which keeps them meaningful on a loaded, shared machine.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def machine_info() -> dict[str, Any]:
    """Date, CPU model, cores, load average and library versions, for every JSON."""
    import torch

    model = platform.processor()
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        model = next(
            (line.split(":", 1)[1].strip() for line in lscpu.splitlines() if "Model name" in line),
            model,
        )
    except OSError:
        pass
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu": model,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_average": list(os.getloadavg()),
        "torch": torch.__version__,
        "python": sys.version.split()[0],
    }


def real_texts(data: Path, n: int, seed: int = 0) -> list[str]:
    """n texts: a third HH prompts, a third HH responses, a third AlpacaEval outputs."""
    from rewardlab.data.formats.hh_rlhf import split_transcripts

    hh_path = data / "hh-rlhf" / "harmless-base-test.jsonl.gz"
    rows = [json.loads(line) for line in gzip.open(hh_path, "rt")]
    prompts, responses = [], []
    for i, row in enumerate(rows):
        prompt, chosen, _ = split_transcripts(row["chosen"], row["rejected"], str(hh_path), i + 1)
        prompts.append(prompt)
        responses.append(chosen)
    with gzip.open(data / "alpaca-eval" / "outputs.jsonl.gz", "rt") as handle:
        outputs = [json.loads(line)["output"] for line in itertools.islice(handle, 20 * n)]
    rng = np.random.default_rng(seed)
    third = n // 3
    pick = [
        [prompts[i] for i in rng.choice(len(prompts), third, replace=False)],
        [responses[i] for i in rng.choice(len(responses), third, replace=False)],
        [outputs[i] for i in rng.choice(len(outputs), n - 2 * third, replace=False)],
    ]
    return [text for group in pick for text in group]


def matmul_gflops(rows: int, inner: int, outer: int, seconds: float = 0.3) -> float:
    """Median GFLOP/s of fp32 (rows, inner) × (inner, outer) over ~``seconds``."""
    import torch

    a, b = torch.randn(rows, inner), torch.randn(inner, outer)
    torch.mm(a, b)
    rates, start = [], time.perf_counter()
    while time.perf_counter() - start < seconds or len(rates) < 3:
        t = time.perf_counter()
        torch.mm(a, b)
        rates.append(2.0 * rows * inner * outer / (time.perf_counter() - t) / 1e9)
    return float(np.median(rates))


def matmul_roofline(hidden: int = 384, rows: tuple[int, ...] = (512, 2048, 8192)) -> float:
    """The machine's fp32 matmul peak: the best median GFLOP/s over the encoder's own
    GEMM shapes (d → 3d fused QKV, d → 4d, 4d → d) at several row counts. A single
    large shape understates the peak, since its operands spill out of cache."""
    shapes = [(hidden, 3 * hidden), (hidden, 4 * hidden), (4 * hidden, hidden)]
    return max(matmul_gflops(n, inner, outer) for n in rows for inner, outer in shapes)


def _timed(fn) -> tuple[float, np.ndarray]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def run(texts: list[str], repeats: int) -> dict[str, Any]:
    from sentence_transformers import SentenceTransformer

    from rewardlab.features.encoder import SentenceEncoder, bundled_encoder_path
    from rewardlab.features.fast_encode import encoder_flops

    path = bundled_encoder_path()
    reference = SentenceTransformer(path, device="cpu")
    exact = SentenceEncoder(path, None, batch_size=256)
    int8 = SentenceEncoder(path, None, batch_size=256, quantize=True)
    config = exact.model.config
    lengths = [len(ids) for ids in exact.token_ids(texts)]
    flops = encoder_flops(lengths, config.num_hidden_layers, config.hidden_size,
                          config.intermediate_size)
    engines = {
        "baseline": lambda batch: reference.encode(batch, batch_size=64),
        "exact": exact.encode,
        "int8": int8.encode,
    }
    for fn in engines.values():  # warm up: load weights, build the packed modules
        fn(texts[:4])
    runs: list[dict[str, float]] = []
    outputs: dict[str, np.ndarray] = {}
    for _ in range(repeats):
        row = {"roofline_gflops": matmul_roofline(config.hidden_size)}
        for name, fn in engines.items():
            row[f"{name}_s"], outputs[name] = _timed(lambda fn=fn: fn(texts))
        for name in engines:
            row[f"{name}_gflops"] = flops / row[f"{name}_s"] / 1e9
            row[f"{name}_roofline_fraction"] = row[f"{name}_gflops"] / row["roofline_gflops"]
        row["exact_speedup"] = row["baseline_s"] / row["exact_s"]
        row["int8_speedup"] = row["baseline_s"] / row["int8_s"]
        runs.append(row)
    cos_exact = (outputs["baseline"] * outputs["exact"]).sum(1)
    cos_int8 = (outputs["baseline"] * outputs["int8"]).sum(1)
    median = {key: float(np.median([r[key] for r in runs])) for key in runs[0]}
    return {
        "n_texts": len(texts),
        "real_tokens": int(sum(lengths)),
        "mean_tokens": float(np.mean(lengths)),
        "flops_per_pass": flops,
        "flops_formula": "sum_i n_i * L * (24 d^2 + 4 n_i d), L=6, d=384, d_ff=4d",
        "median": median,
        "texts_per_s": {k: len(texts) / median[f"{k}_s"] for k in engines},
        "exact_min_cosine": float(cos_exact.min()),
        "exact_max_abs_diff": float(np.abs(outputs["baseline"] - outputs["exact"]).max()),
        "int8_min_cosine": float(cos_int8.min()),
        "int8_mean_cosine": float(cos_int8.mean()),
        "runs": runs,
    }


def table(result: dict[str, Any]) -> str:
    m = result["median"]
    lines = [
        f"texts {result['n_texts']}, real tokens {result['real_tokens']}, "
        f"roofline (best fp32 mm) {m['roofline_gflops']:.1f} GFLOP/s (median of repeats)",
        f"{'engine':<10}{'seconds':>10}{'texts/s':>10}{'GFLOP/s':>10}{'roofline':>10}{'speedup':>9}",
    ]
    for name in ("baseline", "exact", "int8"):
        speed = 1.0 if name == "baseline" else m[f"{name}_speedup"]
        lines.append(
            f"{name:<10}{m[f'{name}_s']:>10.2f}{result['texts_per_s'][name]:>10.1f}"
            f"{m[f'{name}_gflops']:>10.1f}{m[f'{name}_roofline_fraction']:>10.1%}{speed:>8.2f}x"
        )
    lines.append(
        f"exact vs baseline: min cosine {result['exact_min_cosine']:.7f}, "
        f"max |diff| {result['exact_max_abs_diff']:.2e}; int8: min cosine "
        f"{result['int8_min_cosine']:.4f}, mean {result['int8_mean_cosine']:.4f}"
    )
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """The command-line options (``tests/test_readme.py`` checks documented commands)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="the shared data folder")
    parser.add_argument("--n-texts", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("encoder_throughput.json"))
    return parser


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = build_parser().parse_args(argv)
    texts = real_texts(args.data, args.n_texts)
    result = {"machine": machine_info(), **run(texts, args.repeats)}
    result["machine"]["load_average_end"] = list(os.getloadavg())
    args.out.write_text(json.dumps(result, indent=2))
    print(table(result))
    return result


if __name__ == "__main__":
    main()
