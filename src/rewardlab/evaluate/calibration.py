"""Calibration of Bradley-Terry preference probabilities.

A scalar reward model implies P(chosen ≻ rejected) = σ(Δ/T), Δ = r(y⁺) − r(y⁻)
(Bradley & Terry, 1952; temperature T = 1 by default). Metrics, for predicted
probabilities pᵢ and outcomes yᵢ ∈ {0, 1}:

* Brier score = mean (pᵢ − yᵢ)²  (Brier, 1950)
* NLL = −mean [yᵢ log pᵢ + (1 − yᵢ) log(1 − pᵢ)]
* ECE = Σ_b (n_b / N) · |acc_b − conf_b|  (Naeini et al., 2015; Guo et al., 2017)
  over ``n_bins`` equal-width bins of [0, 1] (default 10; bin b holds
  b/B ≤ p < (b+1)/B, the last bin also holds p = 1), where acc_b is the mean
  outcome and conf_b the mean probability in the bin. Empty bins are skipped.

For labelled pairs every outcome is "chosen wins", so each pair enters in both
presentation orders, (σ(Δ/T), 1) and (σ(−Δ/T), 0); Brier and NLL are unchanged
by this and the reliability diagram becomes symmetric about ½. A general
:class:`~rewardlab.protocols.PreferenceModel` is asked in both orders too:
(P(y⁺ ≻ y⁻), 1) and (P(y⁻ ≻ y⁺), 0), since it need not be antisymmetric.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.special import expit, log_expit

from rewardlab.data.record import Comparison
from rewardlab.protocols import PreferenceModel


def reliability_bins(probs: np.ndarray, labels: np.ndarray, n_bins: int = 10) -> dict:
    """Bin centers, accuracy, confidence and counts of equal-width bins over [0, 1]."""
    if n_bins < 1:
        raise ValueError("field 'n_bins': must be at least 1")
    idx = np.minimum((probs * n_bins).astype(int), n_bins - 1)
    centers, acc, conf, counts = [], [], [], []
    for b in range(n_bins):
        mask = idx == b
        n = int(mask.sum())
        centers.append((b + 0.5) / n_bins)
        counts.append(n)
        acc.append(float(labels[mask].mean()) if n else float("nan"))
        conf.append(float(probs[mask].mean()) if n else float("nan"))
    return {"centers": centers, "accuracy": acc, "confidence": conf, "counts": counts}


def calibration_report(
    probs: Sequence[float], labels: Sequence[float], n_bins: int = 10
) -> dict:
    """ECE, Brier, NLL and reliability-diagram data for probabilities and 0/1 outcomes."""
    p = np.asarray(probs, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    if p.shape != y.shape or p.ndim != 1 or p.size == 0:
        raise ValueError("field 'probs': must be a non-empty 1-D array shaped like labels")
    if np.any((p < 0) | (p > 1)):
        raise ValueError("field 'probs': probabilities must lie in [0, 1]")
    if np.any((y != 0) & (y != 1)):
        raise ValueError("field 'labels': outcomes must be 0 or 1")
    bins = reliability_bins(p, y, n_bins)
    n = np.asarray(bins["counts"], dtype=np.float64)
    gaps = np.abs(np.nan_to_num(np.asarray(bins["accuracy"]) - np.asarray(bins["confidence"])))
    eps = 1e-12
    nll = -np.mean(y * np.log(np.clip(p, eps, 1)) + (1 - y) * np.log(np.clip(1 - p, eps, 1)))
    return {
        "ece": float(np.sum(n / p.size * gaps)),
        "brier": float(np.mean((p - y) ** 2)),
        "nll": float(nll),
        "n_bins": n_bins,
        "reliability": bins,
    }


def pair_calibration(
    chosen: Sequence[float],
    rejected: Sequence[float],
    n_bins: int = 10,
    temperature: float = 1.0,
) -> dict:
    """Calibration of σ(Δ/T) on labelled pairs, each entered in both orders."""
    if temperature <= 0:
        raise ValueError("field 'temperature': must be positive")
    delta = (np.asarray(chosen, dtype=np.float64) - np.asarray(rejected, dtype=np.float64))
    delta = delta / temperature
    probs = np.concatenate([expit(delta), expit(-delta)])
    labels = np.concatenate([np.ones_like(delta), np.zeros_like(delta)])
    report = calibration_report(probs, labels, n_bins)
    report["nll"] = float(-np.mean(log_expit(delta)))  # exact, also for very large |Δ|
    report["temperature"] = temperature
    report["n_pairs"] = int(delta.size)
    return report


def preference_calibration(
    model: PreferenceModel, pairs: Sequence[Comparison], n_bins: int = 10
) -> dict:
    """Calibration of a preference model's P(first ≻ second) on labelled pairs, both orders."""
    used = [p for p in pairs if len(p.ranking) >= 2 and not p.tie]
    if not used:
        raise ValueError("field 'pairs': no labelled (chosen, rejected) pairs")
    prompts = [p.prompt for p in used]
    chosen, rejected = [p.chosen for p in used], [p.rejected for p in used]
    probs = np.asarray(
        model.prob(prompts + prompts, chosen + rejected, rejected + chosen), dtype=np.float64
    )
    labels = np.concatenate([np.ones(len(used)), np.zeros(len(used))])
    report = calibration_report(probs, labels, n_bins)
    report["n_pairs"] = len(used)
    return report
