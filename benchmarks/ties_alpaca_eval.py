"""Ties on AlpacaEval: Bradley-Terry vs Davidson (1970) vs Rao-Kupper (1967).

Setup. AlpacaEval pairs as ``rewardlab train`` draws them (``pairs_per_prompt``
per instruction, seed 0), except that every pair is eligible and a pair whose
judge gap is below ``--min-gap`` is kept as a tie (``ties_below_gap``). The
records are split by instruction like ``rewardlab train --test-fraction 0.2``
(80/20, then 90/10 of the training part for early stopping, both seed 0).
Each loss trains one linear head with the trainer's defaults (``--l2 auto``:
λ₂ chosen by 5-fold cross-validation, or one fixed λ₂ for every loss); BT
skips the tie records (the count is reported).

Held out, with Δ = r(better) − r(worse):

- accuracy on the non-tie pairs (Δ = 0 counts ½), as ``rewardlab train`` reports it;
- mean log P(tie) over the tie pairs: Davidson log(ν √(π_i π_j)/(π_i + π_j +
  ν √(π_i π_j))), Rao-Kupper log((θ²−1)π_iπ_j/((π_i+θπ_j)(θπ_i+π_j))); BT gives
  ties probability 0 (reported as null);
- mean log P(better ≻ worse) over the non-tie pairs (BT: log σ(Δ));
- the mean three-outcome log-likelihood over all held-out pairs (null for BT).

Writes JSON (``--out``, with the command line) and prints a table.

Usage::

    PYTHONPATH=src python benchmarks/ties_alpaca_eval.py \\
        --data ../shared/data/alpaca-eval --backbone hashing --out ties.json
"""

from __future__ import annotations

import argparse
import math
import shlex
import sys
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.nn.functional import logsigmoid

import rewardlab
from rewardlab.data.fingerprint import fingerprint
from rewardlab.data.load import load_comparisons
from rewardlab.data.record import Comparison
from rewardlab.data.split import split_by_prompt
from rewardlab.features import build_backbone
from rewardlab.models.io import write_json_atomic
from rewardlab.models.losses.davidson import davidson_log_probs
from rewardlab.models.losses.rao_kupper import rao_kupper_log_probs
from rewardlab.models.reward_model import TrainedRewardModel
from rewardlab.models.training.config import TrainConfig
from rewardlab.models.training.fit import train_reward_model

DEFAULT_DATA = "../shared/data/alpaca-eval"
LOSSES = ("bt", "davidson", "rao-kupper")


def build_parser() -> argparse.ArgumentParser:
    """The command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=DEFAULT_DATA, help="AlpacaEval folder")
    parser.add_argument("--backbone", default="hashing", help="backbone spec")
    parser.add_argument("--min-gap", type=float, default=0.1, help="judge gap below which a tie")
    parser.add_argument("--pairs-per-prompt", type=int, default=8, help="pairs per instruction")
    parser.add_argument("--test-fraction", type=float, default=0.2, help="held-out prompts")
    parser.add_argument("--val-fraction", type=float, default=0.1, help="early-stopping prompts")
    parser.add_argument("--seed", type=int, default=0, help="split, draw and training seed")
    parser.add_argument("--l2", default="auto", help="λ₂ of the L2 penalty, or 'auto' (CV)")
    parser.add_argument("--out", required=True, help="results JSON")
    return parser


def log_probs(loss: str, model: TrainedRewardModel, delta: np.ndarray) -> tuple[np.ndarray, ...]:
    """(log P(better ≻ worse), log P(tie)) per pair under the model's own tie model."""
    d = torch.from_numpy(delta.astype(np.float64))[None]
    learned = {k: torch.tensor(v, dtype=torch.float64) for k, v in
               model.config["loss"]["learned"].items()}
    if loss == "davidson":
        win, _, tie = davidson_log_probs(d, learned["log_nu"][:1])
    elif loss == "rao-kupper":
        win, _, tie = rao_kupper_log_probs(d, learned["log_theta_minus_one"][:1])
    else:
        win, tie = logsigmoid(d), torch.full_like(d, -math.inf)
    return win[0].numpy(), tie[0].numpy()


def tie_parameter(loss: str, model: TrainedRewardModel) -> dict[str, float] | None:
    """ν of Davidson or θ of Rao-Kupper, with P(tie | Δ = 0)."""
    learned = model.config["loss"]["learned"]
    if loss == "davidson":
        nu = math.exp(learned["log_nu"][0])
        return {"nu": nu, "p_tie_at_zero": nu / (2 + nu)}
    if loss == "rao-kupper":
        theta = 1 + math.exp(learned["log_theta_minus_one"][0])
        return {"theta": theta, "p_tie_at_zero": (theta - 1) / (theta + 1)}
    return None


def evaluate(loss: str, model: TrainedRewardModel, test: Sequence[Comparison]) -> dict[str, Any]:
    """Held-out accuracy and log-likelihoods (see the module docstring)."""
    prompts = [r.prompt for r in test]
    delta = model.score(prompts, [r.responses[0] for r in test]) - model.score(
        prompts, [r.responses[1] for r in test]
    )
    tie = np.array([r.tie for r in test])
    win_lp, tie_lp = log_probs(loss, model, delta)
    right = (delta[~tie] > 0) + 0.5 * (delta[~tie] == 0)
    observed = np.where(tie, tie_lp, win_lp)
    finite = bool(np.isfinite(observed).all())
    return {
        "accuracy": float(right.mean()),
        "tie_log_likelihood": float(tie_lp[tie].mean()) if loss != "bt" else None,
        "win_log_likelihood": float(win_lp[~tie].mean()),
        "log_likelihood": float(observed.mean()) if finite else None,
        "n_pairs": int((~tie).sum()),
        "n_ties": int(tie.sum()),
    }


def run(args: argparse.Namespace, command: str) -> dict[str, Any]:
    """Train each loss on the same split and evaluate it."""
    loaded = load_comparisons(
        args.data, "alpaca-eval", min_gap=args.min_gap, pairs_per_prompt=args.pairs_per_prompt,
        seed=args.seed, ties_below_gap=True,
    )
    records, test = split_by_prompt(
        loaded.records, (1 - args.test_fraction, args.test_fraction), args.seed
    )
    train, val = split_by_prompt(records, (1 - args.val_fraction, args.val_fraction), args.seed)
    backbone = build_backbone(args.backbone)
    results = {}
    for loss in LOSSES:
        start = time.perf_counter()
        l2 = args.l2 if args.l2 == "auto" else float(args.l2)
        config = TrainConfig(loss=loss, seed=args.seed, l2=l2)
        model, report = train_reward_model(train, backbone, config, val)
        results[loss] = {
            **evaluate(loss, model, test),
            "tie_parameter": tie_parameter(loss, model),
            "l2": report.l2["value"] if report.l2 else None,
            "train_units": report.n_train_pairs,
            "skipped_ties": report.skipped_ties,
            "seconds": time.perf_counter() - start,
        }
    return {
        "command": command,
        "rewardlab_version": rewardlab.__version__,
        "data_fingerprint": fingerprint(loaded.records),
        "records": len(loaded.records),
        "ties": sum(r.tie for r in loaded.records),
        "train_records": len(train),
        "test_records": len(test),
        "backbone": args.backbone,
        "min_gap": args.min_gap,
        "l2": args.l2,
        "results": results,
    }


def format_table(result: dict[str, Any]) -> str:
    """A plain-text table of the results."""

    def cell(value: float | None) -> str:
        return "—" if value is None else f"{value:.4f}"

    lines = [f"{'loss':<11} accuracy  log P(tie)  log P(win)  log-lik  tie parameter"]
    for loss, r in result["results"].items():
        param = r["tie_parameter"] or {}
        shown = ", ".join(f"{k} {v:.3f}" for k, v in param.items()) or "—"
        lines.append(
            f"{loss:<11} {cell(r['accuracy']):>8}  {cell(r['tie_log_likelihood']):>10}  "
            f"{cell(r['win_log_likelihood']):>10}  {cell(r['log_likelihood']):>7}  {shown}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    command = shlex.join(["PYTHONPATH=src", "python", "benchmarks/ties_alpaca_eval.py", *argv])
    result = run(args, command)
    write_json_atomic(args.out, result)
    print(format_table(result))
    print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    main()
