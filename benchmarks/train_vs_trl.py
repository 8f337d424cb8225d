"""Training throughput: TRL's RewardTrainer against rewardlab's cached-encoder head.

Run: ``PYTHONPATH=src python benchmarks/train_vs_trl.py --out trl.json``.

Both optimise the Bradley-Terry objective −log σ(r(x, y_w) − r(x, y_l))
(Bradley & Terry 1952; Ouyang et al. 2022) on the same HH-RLHF harmless pairs
(``split_by_prompt(records, (0.8, 0.2), seed=0)``; the first ``--n-train``
training and ``--n-test`` held-out pairs), on the same texts: the prompt
cut from the left to fit ``--max-length`` tokens with the response
(``EncoderBackbone.joined_texts``).

- TRL: ``RewardTrainer`` fine-tunes all of all-MiniLM-L6-v2 (sequence
  classification head, 1 epoch, batch 8, lr 2e-5) on pre-tokenized ids, so
  TRL's length filter drops nothing. ``RewardConfig``'s own defaults stay:
  bf16 autocast (on CPU too) and gradient checkpointing; the JSON records them.
- rewardlab cached head: ``train_reward_model`` with the frozen encoder
  backbone, timed cold (empty embedding cache: encoding + fitting) and warm
  (everything cached: fitting only, plus cache reads).
- rewardlab fine-tuned transformer: ``train_transformer_reward_model``
  (``rewardlab.models.lm.transformer_train``) with the same model, epochs, batch,
  learning rate, max length, objective (centering weight 0, as TRL's
  default) and dtype (bf16 autocast, as TRL's default), one process; timed
  by its own ``train_seconds``, as TRL by ``trainer.train()`` (model loading
  and tokenization excluded for both).

Held-out accuracy counts ties as ½. pairs/s = training pairs / wall seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from encoder_throughput import DATA, machine_info  # noqa: E402


def pair_accuracy(chosen: np.ndarray, rejected: np.ndarray) -> float:
    """Share of pairs with r(chosen) > r(rejected), ties counted ½."""
    return float(np.mean((chosen > rejected) + 0.5 * (chosen == rejected)))


def load_split(data: Path, n_train: int, n_test: int) -> tuple[list, list]:
    from rewardlab.data.load import load_comparisons
    from rewardlab.data.split import split_by_prompt

    records = load_comparisons(data / "hh-rlhf" / "harmless-base-test.jsonl.gz", "hh-rlhf").records
    train, test = split_by_prompt(records, (0.8, 0.2), seed=0)
    return train[:n_train], test[:n_test]


def _sides(records: list) -> tuple[list[str], list[str], list[str]]:
    return (
        [r.prompt for r in records],
        [r.responses[r.ranking[0]] for r in records],
        [r.responses[r.ranking[1]] for r in records],
    )


def run_trl(train: list, test: list, max_length: int, workdir: Path) -> dict[str, Any]:
    import torch
    from datasets import Dataset
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from trl import RewardConfig, RewardTrainer

    from rewardlab.features.encoder import EncoderBackbone

    backbone = EncoderBackbone(max_length=max_length)
    tokenizer = AutoTokenizer.from_pretrained(backbone.model_path)

    def ids(records: list) -> tuple[list[list[int]], list[list[int]]]:
        prompts, chosen, rejected = _sides(records)
        enc = lambda responses: tokenizer(  # noqa: E731
            backbone.joined_texts(prompts, responses), truncation=True, max_length=max_length
        )["input_ids"]
        return enc(chosen), enc(rejected)

    train_c, train_r = ids(train)
    dataset = Dataset.from_dict({"chosen_ids": train_c, "rejected_ids": train_r})
    args = RewardConfig(
        output_dir=str(workdir / "trl"),
        num_train_epochs=1,
        per_device_train_batch_size=8,
        learning_rate=2e-5,
        max_length=max_length,
        report_to=[],
        save_strategy="no",
        logging_steps=10_000,
        use_cpu=True,
        seed=0,
        disable_tqdm=True,
    )
    model = AutoModelForSequenceClassification.from_pretrained(backbone.model_path, num_labels=1)
    trainer = RewardTrainer(model=model, args=args, train_dataset=dataset,
                            processing_class=tokenizer)
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    model.eval()
    test_c, test_r = ids(test)
    scores = []
    with torch.inference_mode():
        for side in (test_c, test_r):
            out = []
            for i in range(0, len(side), 32):
                batch = tokenizer.pad({"input_ids": side[i : i + 32]}, return_tensors="pt")
                out.append(model(**batch).logits[:, 0].numpy())
            scores.append(np.concatenate(out))
    return {"seconds": seconds, "pairs_per_s": len(train) / seconds,
            "accuracy": pair_accuracy(*scores), "bf16": args.bf16,
            "gradient_checkpointing": args.gradient_checkpointing}


def run_cached_head(train: list, test: list, max_length: int, cache: Path) -> dict[str, Any]:
    from rewardlab.features.encoder import EncoderBackbone
    from rewardlab.models.training.fit import train_reward_model

    prompts, chosen, rejected = _sides(test)
    out: dict[str, Any] = {}
    for phase in ("cold", "warm"):
        backbone = EncoderBackbone(max_length=max_length, cache_dir=str(cache))
        start = time.perf_counter()
        model, report = train_reward_model(train, backbone)
        seconds = time.perf_counter() - start
        accuracy = pair_accuracy(model.score(prompts, chosen), model.score(prompts, rejected))
        out[phase] = {
            "seconds": seconds,
            "encode_seconds": report.encode_seconds,
            "fit_seconds": report.fit_seconds,
            "pairs_per_s": len(train) / seconds,
            "accuracy": accuracy,
        }
    return out


def run_finetuned(train: list, test: list, max_length: int) -> dict[str, Any]:
    from rewardlab.features.encoder import bundled_encoder_path
    from rewardlab.models.lm.transformer_train import (
        TransformerTrainConfig,
        train_transformer_reward_model,
    )

    config = TransformerTrainConfig(
        model=bundled_encoder_path(), epochs=1, batch_size=8, lr=2e-5, max_length=max_length,
        center_weight=0.0, dtype="bf16", use_accelerate=False, seed=0,
    )
    model, report = train_transformer_reward_model(train, config)
    prompts, chosen, rejected = _sides(test)
    accuracy = pair_accuracy(model.score(prompts, chosen), model.score(prompts, rejected))
    return {"seconds": report.train_seconds, "pairs_per_s": len(train) / report.train_seconds,
            "accuracy": accuracy, "dtype": config.dtype}


def run(data: Path, n_train: int, n_test: int, max_length: int) -> dict[str, Any]:
    train, test = load_split(data, n_train, n_test)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        head = run_cached_head(train, test, max_length, work / "cache")
        trl = run_trl(train, test, max_length, work)
        finetuned = run_finetuned(train, test, max_length)
    return {
        "n_train_pairs": len(train),
        "n_test_pairs": len(test),
        "max_length": max_length,
        "split": "split_by_prompt(hh-rlhf harmless-base-test, (0.8, 0.2), seed=0)",
        "trl": trl,
        "rewardlab_cached_head": head,
        "rewardlab_finetuned": finetuned,
        "speedup_cold": trl["seconds"] / head["cold"]["seconds"],
        "speedup_warm": trl["seconds"] / head["warm"]["seconds"],
        "finetuned_time_ratio": finetuned["seconds"] / trl["seconds"],
    }


def table(result: dict[str, Any]) -> str:
    lines = [
        f"{result['n_train_pairs']} train / {result['n_test_pairs']} held-out HH pairs, "
        f"max_length {result['max_length']}",
        f"{'method':<28}{'seconds':>10}{'pairs/s':>10}{'accuracy':>10}{'vs TRL':>9}",
    ]
    rows = [("TRL RewardTrainer (1 ep.)", result["trl"], 1.0)]
    for phase in ("cold", "warm"):
        rows.append((f"rewardlab head ({phase})", result["rewardlab_cached_head"][phase],
                     result[f"speedup_{phase}"]))
    for name, row, speed in rows:
        lines.append(f"{name:<28}{row['seconds']:>10.2f}{row['pairs_per_s']:>10.1f}"
                     f"{row['accuracy']:>10.3f}{speed:>8.1f}x")
    finetuned = result["rewardlab_finetuned"]
    lines.append(f"{'rewardlab fine-tuned (1 ep.)':<28}{finetuned['seconds']:>10.2f}"
                 f"{finetuned['pairs_per_s']:>10.1f}{finetuned['accuracy']:>10.3f}"
                 f"{1 / result['finetuned_time_ratio']:>8.1f}x")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """The command-line options (``tests/test_readme.py`` checks documented commands)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="the shared data folder")
    parser.add_argument("--n-train", type=int, default=1000)
    parser.add_argument("--n-test", type=int, default=400)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--out", type=Path, default=Path("train_vs_trl.json"))
    return parser


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("WANDB_DISABLED", "true")
    result = {"machine": machine_info(), **run(args.data, args.n_train, args.n_test,
                                                 args.max_length)}
    result["machine"]["load_average_end"] = list(os.getloadavg())
    args.out.write_text(json.dumps(result, indent=2))
    print(table(result))
    return result


if __name__ == "__main__":
    main()
