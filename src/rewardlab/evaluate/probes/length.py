"""Length bias: correlation of reward with length, accuracy split by which response is
longer, and the non-length reward gain (Singhal et al., 2023, "A Long Way to Go:
Investigating Length Correlations in RLHF"; formulas in
:mod:`rewardlab.evaluate.length_bias`).

Headline metrics: ``length_pearson``, the Pearson r of reward with length over
all scored responses (closer to 0 is better, lower is reported as better), and
``length_nrg_ratio`` = NRG / ΔR, the share of the reward margin that survives
when length is held fixed (higher is better).
"""

from __future__ import annotations

from collections.abc import Sequence

from rewardlab.data.record import Comparison
from rewardlab.evaluate.length_bias import evaluate_length_bias
from rewardlab.evaluate.preference import require_scalar
from rewardlab.evaluate.probes.base import PROBES, Metric, Probe
from rewardlab.protocols import RewardModel


def length_probe(
    model: RewardModel, pairs: Sequence[Comparison], bin_width: float = 20.0, **_: object
) -> dict:
    """Length-bias report (correlations, split accuracy, baseline, NRG) on the pairs."""
    return evaluate_length_bias(require_scalar(model, "probe 'length'"), pairs, bin_width)


PROBES.add("length", Probe(length_probe, (
    Metric("length_pearson", False, "Pearson r of reward with length",
           lambda res: res["pearson"]),
    Metric("length_nrg_ratio", True, "NRG / ΔR: margin share not explained by length",
           lambda res: res["nrg"]["ratio"]),
)))
