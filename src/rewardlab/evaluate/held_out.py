"""The metrics a freshly trained model is saved with: its accuracy on held-out labelled data.

Pairs are scored with the model's reward (``score``), or with its own
P(a ≻ b) when it is a preference model without one (``prob``); ties are left
out. For a process reward model with step labels the metrics are step and
first-error accuracy with their baselines, and the pair accuracy (when there
are pairs, as in PRMBench) sits under ``"pairwise"``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rewardlab.data.record import Comparison


def held_out_metrics(model: Any, records: Sequence[Comparison]) -> dict[str, Any] | None:
    """Accuracy metrics of ``model`` on ``records``; None when they hold nothing to score."""
    from rewardlab.evaluate.pairwise import evaluate_pairs, evaluate_preference_pairs
    from rewardlab.models.structured.prm import ProcessRewardModel, evaluate_prm

    metrics: dict[str, Any] | None = None
    if isinstance(model, ProcessRewardModel) and any(r.step_labels for r in records):
        metrics = evaluate_prm(model, records)
    pairs = [r for r in records if len(r.ranking) >= 2 and not r.tie]
    if not pairs:
        return metrics
    scorer = evaluate_pairs if hasattr(model, "score") else evaluate_preference_pairs
    pair_metrics = scorer(model, pairs)
    if metrics is not None:  # a process reward model's pairs (PRMBench)
        metrics["pairwise"] = pair_metrics
        return metrics
    return pair_metrics


def held_out_summary(metrics: dict[str, Any]) -> list[str]:
    """One line per kind of held-out metric, for a terminal."""
    from rewardlab.models.structured.prm import prm_summary

    lines = []
    pairs = metrics.get("pairwise", metrics)
    if "step_accuracy" in metrics:
        lines.append(prm_summary(metrics))
    if "accuracy" in pairs:
        baselines = ", ".join(f"{name} {value:.4f}" for name, value in pairs["baselines"].items())
        lines.append(
            f"held-out accuracy {pairs['accuracy']:.4f} on {pairs['n_pairs']} pairs "
            f"(baselines by {baselines})"
        )
    return lines
