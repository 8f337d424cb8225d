"""Size bias for every modality: the length probe run on each trivial statistic of the
responses (text: length; images: pixels, brightness, contrast; the list comes from
:mod:`rewardlab.data.modality`).

For each statistic s the report is :func:`rewardlab.evaluate.length_bias.length_bias_report`
with s in place of length: Pearson and Spearman correlation of reward with s over all
scored responses, accuracy on the pairs where the chosen has the lower / higher s beside
the s-only baseline's accuracy on the same pairs, and the non-length reward gain (NRG,
Singhal et al., 2023, §3.1) with buckets one tenth of the observed range of s wide. A
statistic that is constant over the pairs (all images the same size) has no correlation
(``null``). A model that brightens its way up the reward shows a high correlation with
``brightness`` and an NRG ratio near 0 for it.

Headline metrics: ``statistic_max_abs_pearson``, the largest |r| over the statistics
(lower is better), and ``statistic_min_nrg_ratio``, the smallest NRG / ΔR (the share of
the margin left when the statistic is held fixed; higher is better).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from rewardlab.data.modality import response_statistics
from rewardlab.data.record import Comparison
from rewardlab.evaluate.length_bias import length_bias_report
from rewardlab.evaluate.pairwise import score_pairs
from rewardlab.evaluate.preference import require_scalar
from rewardlab.evaluate.probes.base import PROBES, Metric, Probe
from rewardlab.evaluate.probes.common import labelled_pairs
from rewardlab.protocols import RewardModel

BUCKETS = 10


def statistic_bias(model: RewardModel, pairs: Sequence[Comparison]) -> dict:
    """``{statistic: length-bias report with that statistic}`` on the labelled pairs."""
    used = labelled_pairs(pairs)
    scores = score_pairs(model, used)
    n = len(used)
    values = response_statistics([p.chosen for p in used] + [p.rejected for p in used])
    out = {}
    for name, v in values.items():
        width = float(np.ptp(v)) / BUCKETS or 1.0
        report = length_bias_report(scores.chosen, scores.rejected, v[:n], v[n:], width)
        report["statistic_baseline_accuracy"] = report.pop("length_baseline_accuracy")
        out[name] = report
    return out


def statistics_probe(model: RewardModel, pairs: Sequence[Comparison], **_: object) -> dict:
    """Correlations, split accuracy, baseline and NRG per statistic of the responses."""
    return {"statistics": statistic_bias(require_scalar(model, "probe 'statistics'"), pairs)}


def _finite(values) -> list[float]:
    return [float(x) for x in values if x is not None and math.isfinite(x)]


def max_abs_pearson(report: dict) -> float | None:
    found = _finite(abs(r["pearson"]) for r in report["statistics"].values())
    return max(found) if found else None


def min_nrg_ratio(report: dict) -> float | None:
    found = _finite(r["nrg"]["ratio"] for r in report["statistics"].values())
    return min(found) if found else None


PROBES.add("statistics", Probe(statistics_probe, (
    Metric("statistic_max_abs_pearson", False,
           "largest |Pearson r| of reward with a trivial statistic (length, brightness, …)",
           max_abs_pearson),
    Metric("statistic_min_nrg_ratio", True,
           "smallest NRG / ΔR: margin share left with a statistic held fixed", min_nrg_ratio),
)), aliases=("brightness",))  # the image statistic most rewards lean on
