"""Label noise: does an ensemble resist it, and can its preference strength undo it?

Setup. Pairs (AlpacaEval by default: two generators' outputs on one
instruction, the judge's preferred one chosen) are split by instruction
(``split_by_prompt``, 80/20, seed 0). In the training part a fraction ε = 0.25
of the pairs, drawn without replacement by ``numpy.random.default_rng(seed)``,
get chosen and rejected swapped; the flipped indices are kept and written out.
The training part is split again by prompt 90/10 (seed 0) into fit and
validation pairs (early stopping watches the validation loss, on noisy labels
like a user's). Test labels stay clean.

(a) Robustness. A single Bradley–Terry model vs an ensemble of K = 5 linear
heads trained together on bootstrap resamples (``bootstrap=True``: a linear
head under the convex BT loss otherwise converges to nearly the same solution
for every member). Held-out accuracy (ties ½) of the aggregated score
R = agg_k r_k with agg = mean, min (WCO) and UWO, R = mean − λ·Var with λ = 0.5
(Coste et al., 2024, "Reward Model Ensembles Help Mitigate Overoptimization").
Each also with per-prompt centering (``center_per_prompt``: every member's
mean over a prompt's responses in the test batch subtracted first), which
removes each member's arbitrary per-prompt offset before min/Var compare
members; for the mean, centering moves both responses of a pair by the same
amount, so its accuracy is unchanged (reported as a check).

(b) Correction. Preference strength of the ensemble on every training pair,
μ̂ = (1/K) Σ_k [r_k(x, y_c) − r_k(x, y_r)] (Wang et al., 2024, "Secrets of
RLHF in Large Language Models Part II: Reward Modeling"). The lowest 20% by
μ̂ are flipped back (``flip_lowest``). Against the known flips F and the
predicted set P: precision |P ∩ F| / |P|, recall |P ∩ F| / |F| (at most
0.2/0.25 = 0.8 here), the AUC of −μ̂ as a flip detector, and the share of
training labels that are right before and after. Then one BT model is trained
on the corrected labels and compared with one trained on the noisy labels and
one on the clean labels (the ceiling).

Every number is averaged over ``--seeds`` (noise draw and training seed).
Writes JSON (``--out``, with the command line) and prints a table.

Usage::

    PYTHONPATH=src python benchmarks/noisy_labels.py \\
        --data ../shared/data/alpaca-eval --out noisy_labels.json
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

import rewardlab
from rewardlab.data.fingerprint import fingerprint
from rewardlab.data.load import load_comparisons
from rewardlab.data.record import Comparison
from rewardlab.data.split import split_by_prompt
from rewardlab.evaluate.pairwise import accuracy_report, score_pairs
from rewardlab.features import build_backbone
from rewardlab.features.base import Backbone
from rewardlab.models.baselines import LengthReward
from rewardlab.models.io import write_json_atomic
from rewardlab.models.reward_model import TrainedRewardModel
from rewardlab.models.training.config import TrainConfig
from rewardlab.models.training.fit import train_reward_model
from rewardlab.protocols import RewardModel
from rewardlab.robust.ensemble import AggregatedRewardModel
from rewardlab.robust.strength import flip_lowest, lowest_fraction, preference_strength

DEFAULT_DATA = "../shared/data/alpaca-eval"
AGGREGATIONS = (("mean", {}), ("min", {}), ("uwo", {"lam": 0.5}))


def build_parser() -> argparse.ArgumentParser:
    """The command-line options (``tests/test_readme.py`` checks documented commands)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=DEFAULT_DATA, help="pairs file or AlpacaEval folder")
    parser.add_argument("--format", default="auto", help="loader format of --data")
    parser.add_argument("--backbone", default="encoder", help="backbone spec")
    parser.add_argument("--noise", type=float, default=0.25, help="fraction of train labels flipped")
    parser.add_argument("--flip-fraction", type=float, default=0.2, help="lowest μ̂ share flipped back")
    parser.add_argument("--members", type=int, default=5, help="ensemble size K")
    parser.add_argument("--lam", type=float, default=0.5, help="λ of UWO")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds")
    parser.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    parser.add_argument("--out", type=Path, required=True, help="results JSON")
    return parser


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.seeds = [int(s) for s in args.seeds.split(",")]
    if not 0.0 < args.noise < 1.0 or not 0.0 < args.flip_fraction < 1.0:
        parser.error("--noise and --flip-fraction must be in (0, 1)")
    return args


def flip_labels(
    records: Sequence[Comparison], fraction: float, seed: int
) -> tuple[list[Comparison], np.ndarray]:
    """Swap chosen/rejected of round(fraction·n) records drawn without replacement."""
    rng = np.random.default_rng(seed)
    flipped = np.sort(rng.choice(len(records), size=round(fraction * len(records)), replace=False))
    mask = np.zeros(len(records), bool)
    mask[flipped] = True
    noisy = [replace(r, ranking=r.ranking[::-1]) if f else r for r, f in zip(records, mask, strict=True)]
    return noisy, flipped


def detection(predicted: np.ndarray, truth: np.ndarray, mu: np.ndarray) -> dict[str, float]:
    """Precision and recall of the predicted flips, and the AUC of −μ̂, against the true flips."""
    hits = int(np.sum(predicted & truth))
    return {
        "precision": hits / max(int(predicted.sum()), 1),
        "recall": hits / max(int(truth.sum()), 1),
        "auc": float(roc_auc_score(truth, -mu)),
        "mu_mean_flipped": float(mu[truth].mean()),
        "mu_mean_clean": float(mu[~truth].mean()),
    }


def accuracy(model: RewardModel, pairs: Sequence[Comparison]) -> float:
    return float(accuracy_report(score_pairs(model, pairs))["accuracy"])


class MemoBackbone:
    """Keeps every (prompt, response) row it has encoded, so the many fits and evaluations
    here join, tokenize and look up each text once (features are identical)."""

    def __init__(self, backbone: Backbone) -> None:
        self.backbone = backbone
        self.rows: dict[tuple[str, str], np.ndarray] = {}

    @property
    def dim(self) -> int:
        return self.backbone.dim

    def encode(self, prompts: Sequence[str], responses: Sequence[str], progress=None) -> np.ndarray:
        keys = list(zip(prompts, responses, strict=True))
        if not keys:
            return np.zeros((0, self.dim), np.float32)
        new = list(dict.fromkeys(k for k in keys if k not in self.rows))
        if new:
            features = self.backbone.encode([p for p, _ in new], [r for _, r in new], progress)
            self.rows.update(zip(new, features, strict=True))
        return np.stack([self.rows[k] for k in keys]).astype(np.float32, copy=False)

    def config(self) -> dict[str, Any]:
        return self.backbone.config()


class _Member:
    """Member k of a trained ensemble as a reward model."""

    def __init__(self, model: TrainedRewardModel, k: int) -> None:
        self.model, self.k = model, k

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        return self.model.score_members(prompts, responses)[self.k]


def one_seed(
    seed: int,
    train: list[Comparison],
    test: list[Comparison],
    fit: Callable[[list[Comparison], int, bool, int], TrainedRewardModel],
    args: argparse.Namespace,
) -> dict[str, Any]:
    """Noise draw ``seed``: (a) single vs aggregated ensemble, (b) μ̂ correction."""
    noisy, flipped = flip_labels(train, args.noise, seed)
    truth = np.zeros(len(train), bool)
    truth[flipped] = True
    single = fit(noisy, 1, False, seed)
    ensemble = fit(noisy, args.members, True, seed)
    aggregated = {}
    for name, params in AGGREGATIONS:
        params = {"lam": args.lam} if name == "uwo" else params
        for center in (False, True):
            model = AggregatedRewardModel(ensemble, name, center=center, **params)
            aggregated[f"{name}{'_centered' if center else ''}"] = accuracy(model, test)
    mu, sigma = preference_strength(ensemble, noisy)
    predicted = lowest_fraction(mu, args.flip_fraction)
    corrected = flip_lowest(noisy, mu, args.flip_fraction)
    return {
        "seed": seed,
        "flipped_indices": flipped.tolist(),
        "single_noisy": accuracy(single, test),
        "members": [accuracy(_Member(ensemble, k), test) for k in range(args.members)],
        "ensemble": aggregated,
        "detection": detection(predicted, truth, mu),
        "sigma_mean": float(sigma.mean()),
        "label_accuracy_noisy": float(1.0 - truth.mean()),
        "label_accuracy_corrected": float(1.0 - np.mean(truth ^ predicted)),
        "single_corrected": accuracy(fit(corrected, 1, False, seed), test),
        "single_clean": accuracy(fit(train, 1, False, seed), test),
    }


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean and (population) std over seeds of every scalar result."""

    def stat(values: list[float]) -> dict[str, float]:
        return {"mean": float(np.mean(values)), "std": float(np.std(values))}

    keys = ("single_noisy", "single_corrected", "single_clean", "label_accuracy_noisy",
            "label_accuracy_corrected", "sigma_mean")
    summary: dict[str, Any] = {key: stat([r[key] for r in runs]) for key in keys}
    summary["member_mean"] = stat([float(np.mean(r["members"])) for r in runs])
    summary["ensemble"] = {k: stat([r["ensemble"][k] for r in runs]) for k in runs[0]["ensemble"]}
    summary["detection"] = {
        k: stat([r["detection"][k] for r in runs]) for k in runs[0]["detection"]
    }
    return summary


def run(args: argparse.Namespace, command: str) -> dict[str, Any]:
    started = time.perf_counter()
    records = [
        r for r in load_comparisons(args.data, args.format).records if r.is_pair and not r.tie
    ]
    train, test = split_by_prompt(records, (0.8, 0.2), seed=0)
    position = {id(r): i for i, r in enumerate(train)}
    fit_part, val_part = split_by_prompt(train, (0.9, 0.1), seed=0)
    fit_idx = [position[id(r)] for r in fit_part]
    val_idx = [position[id(r)] for r in val_part]
    backbone = MemoBackbone(build_backbone(args.backbone))

    def fit(labels: list[Comparison], k: int, bootstrap: bool, seed: int) -> TrainedRewardModel:
        config = TrainConfig(n_members=k, bootstrap=bootstrap, epochs=args.epochs, seed=seed)
        fit_records = [labels[i] for i in fit_idx]
        return train_reward_model(fit_records, backbone, config, [labels[i] for i in val_idx])[0]

    runs = [one_seed(seed, train, test, fit, args) for seed in args.seeds]
    return {
        "command": command,
        "rewardlab_version": rewardlab.__version__,
        "data": str(args.data),
        "data_fingerprint": fingerprint(records),
        "backbone": backbone.config(),
        "n_pairs": len(records),
        "n_train_pairs": len(train),
        "n_fit_pairs": len(fit_idx),
        "n_val_pairs": len(val_idx),
        "n_test_pairs": len(test),
        "noise": args.noise,
        "flip_fraction": args.flip_fraction,
        "members": args.members,
        "uwo_lambda": args.lam,
        "seeds": args.seeds,
        "length_baseline_test_accuracy": accuracy(LengthReward(), test),
        "summary": summarize(runs),
        "runs": runs,
        "seconds": time.perf_counter() - started,
    }


def format_table(result: dict[str, Any]) -> str:
    s = result["summary"]

    def cell(value: dict[str, float]) -> str:
        return f"{value['mean']:.4f} ± {value['std']:.4f}"

    rows = [
        ("single BT, noisy labels", s["single_noisy"]),
        ("ensemble member (mean of K)", s["member_mean"]),
        *[(f"ensemble {k}", v) for k, v in s["ensemble"].items()],
        ("single BT, μ̂-corrected labels", s["single_corrected"]),
        ("single BT, clean labels", s["single_clean"]),
    ]
    d = s["detection"]
    lines = [
        f"{result['data']}: {result['n_train_pairs']} train / {result['n_test_pairs']} test pairs, "
        f"{result['noise']:.0%} train labels flipped, K={result['members']}, "
        f"seeds {result['seeds']}, length baseline {result['length_baseline_test_accuracy']:.4f}",
        f"{'held-out accuracy (clean labels)':<34}{'mean ± std':>18}",
        *[f"{name:<34}{cell(value):>18}" for name, value in rows],
        f"flip-back lowest {result['flip_fraction']:.0%} by μ̂: precision {cell(d['precision'])}, "
        f"recall {cell(d['recall'])}, AUC {cell(d['auc'])}",
        f"train labels right: noisy {cell(s['label_accuracy_noisy'])}, "
        f"corrected {cell(s['label_accuracy_corrected'])}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    result = run(args, shlex.join(["PYTHONPATH=src", "python", "benchmarks/noisy_labels.py", *argv]))
    write_json_atomic(args.out, result)
    print(format_table(result))
    print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    main()
