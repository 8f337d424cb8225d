"""Pairwise accuracy of a reward model on labelled comparisons.

For a pair with chosen y⁺ and rejected y⁻ the model is right when
r(x, y⁺) > r(x, y⁻); an exact tie counts ½ (so a constant model scores 0.5).
The length-only baseline (Singhal et al., 2023) is the same accuracy with
r = response length, reported beside every model; ``baselines`` holds the same
accuracy for every trivial statistic of the responses' modality
(:func:`statistic_baselines`: ``length`` for text; ``pixels``, ``brightness``
and ``contrast`` for images), the first being the length-only baseline.

A :class:`~rewardlab.protocols.PreferenceModel` is right when
P(y⁺ ≻ y⁻) > ½ (= ½ counts ½); :func:`compare_pairs` stores its
probabilities as ``chosen`` against a constant ½ as ``rejected``, so the same
report applies to both kinds of model.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from rewardlab.data.modality import response_statistics
from rewardlab.data.record import Comparison
from rewardlab.evaluate.preference import is_preference_model
from rewardlab.protocols import PreferenceModel, RewardModel


@dataclass
class PairScores:
    """Rewards of the chosen and rejected response of each pair."""

    chosen: np.ndarray
    rejected: np.ndarray
    categories: list[str | None] = field(default_factory=list)


def score_pairs(model: RewardModel, pairs: Sequence[Comparison]) -> PairScores:
    """Score chosen and rejected of every pair in one call to ``model.score``."""
    pairs = [p for p in pairs if len(p.ranking) >= 2 and not p.tie]
    prompts = [p.prompt for p in pairs]
    rewards = np.asarray(
        model.score(prompts + prompts, [p.chosen for p in pairs] + [p.rejected for p in pairs]),
        dtype=np.float64,
    )
    n = len(pairs)
    return PairScores(rewards[:n], rewards[n:], [p.category for p in pairs])


def compare_pairs(model: RewardModel | PreferenceModel, pairs: Sequence[Comparison]) -> PairScores:
    """Rewards of each side, or (P(chosen ≻ rejected), ½) for a preference model."""
    if not is_preference_model(model):
        return score_pairs(model, pairs)
    pairs = [p for p in pairs if len(p.ranking) >= 2 and not p.tie]
    probs = np.asarray(
        model.prob([p.prompt for p in pairs], [p.chosen for p in pairs],
                   [p.rejected for p in pairs]),
        dtype=np.float64,
    )
    return PairScores(probs, np.full_like(probs, 0.5), [p.category for p in pairs])


def pair_outcomes(chosen: np.ndarray, rejected: np.ndarray) -> np.ndarray:
    """1 where chosen scores higher, 0 where lower, ½ on an exact tie."""
    return np.where(chosen > rejected, 1.0, np.where(chosen < rejected, 0.0, 0.5))


def accuracy_report(scores: PairScores) -> dict:
    """Overall accuracy (ties ½), per-category accuracy and counts."""
    outcomes = pair_outcomes(scores.chosen, scores.rejected)
    by_category: dict[str, list[float]] = defaultdict(list)
    for category, outcome in zip(scores.categories, outcomes, strict=True):
        if category is not None:
            by_category[category].append(float(outcome))
    return {
        "accuracy": float(outcomes.mean()) if len(outcomes) else float("nan"),
        "n_pairs": int(len(outcomes)),
        "ties": int(np.sum(scores.chosen == scores.rejected)),
        "per_category": {
            c: {"accuracy": float(np.mean(v)), "n_pairs": len(v)}
            for c, v in sorted(by_category.items())
        },
    }


def statistic_baselines(pairs: Sequence[Comparison]) -> dict[str, dict]:
    """:func:`accuracy_report` of r = each trivial statistic of the pairs' modality, in the
    modality's order (the first is the length-only baseline)."""
    used = [p for p in pairs if len(p.ranking) >= 2 and not p.tie]
    n = len(used)
    statistics = response_statistics([p.chosen for p in used] + [p.rejected for p in used])
    categories = [p.category for p in used]
    return {
        name: accuracy_report(PairScores(values[:n], values[n:], categories))
        for name, values in statistics.items()
    }


def with_baselines(report: dict, pairs: Sequence[Comparison]) -> dict:
    """``report`` plus ``length_baseline_accuracy`` (and per category) and ``baselines``:
    {statistic: accuracy} on the same pairs (:func:`statistic_baselines`)."""
    baselines = statistic_baselines(pairs)
    length = next(iter(baselines.values()))
    report["length_baseline_accuracy"] = length["accuracy"]
    report["length_baseline_per_category"] = {
        c: v["accuracy"] for c, v in length["per_category"].items()
    }
    report["baselines"] = {name: b["accuracy"] for name, b in baselines.items()}
    return report


def evaluate_pairs(model: RewardModel | PreferenceModel, pairs: Sequence[Comparison]) -> dict:
    """Accuracy report of ``model`` (either kind) with the length-only baseline, and the
    baseline of every trivial statistic, on the same pairs."""
    return with_baselines(accuracy_report(compare_pairs(model, pairs)), pairs)


def evaluate_preference_pairs(model: PreferenceModel, pairs: Sequence[Comparison]) -> dict:
    """Accuracy of a pairwise model: P(chosen ≻ rejected) > ½ is right, = ½ counts ½."""
    return evaluate_pairs(model, pairs)
