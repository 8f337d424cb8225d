"""Helpers shared by the probes: the labelled pairs a probe can use and summary statistics."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rewardlab.data.record import Comparison

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def labelled_pairs(pairs: Sequence[Comparison]) -> list[Comparison]:
    """The records with a chosen and a rejected response and no tie; raise if none."""
    used = [p for p in pairs if len(p.ranking) >= 2 and not p.tie]
    if not used:
        raise ValueError("field 'pairs': no labelled (chosen, rejected) pairs to probe")
    return used


def distribution(values: Sequence[float] | np.ndarray) -> dict:
    """Mean, median and the 5/25/50/75/95 % quantiles of ``values``."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return {"mean": None, "median": None, "quantiles": {}}
    qs = np.quantile(v, QUANTILES)
    return {
        "mean": float(v.mean()),
        "median": float(np.median(v)),
        "quantiles": {f"{q:g}": float(x) for q, x in zip(QUANTILES, qs, strict=True)},
    }
