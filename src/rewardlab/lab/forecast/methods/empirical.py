"""``empirical``: the peak of the unbiased gold curve of the labelled prompts.

The mean over labelled prompts of the unbiased best-of-n gold estimate
(Nakano et al. 2021, "WebGPT", App.; Coste et al. 2024, App. B) is an
unbiased estimate of the population curve at every n, and the realized curve
of the full pool is the same estimator on more prompts; so the forecast is
that curve itself, and its peak the grid argmax interpolated by a parabola in
log n (√KL for the KL optimum; :func:`rewardlab.lab.forecast.peaks.interpolated_peak`).
It assumes no shape and cannot see beyond the pool; its uncertainty is all in
the sampling of prompts, which the bootstrap over prompts measures (Efron &
Tibshirani 1993, ch. 13, percentile intervals).
"""

from __future__ import annotations

import numpy as np

from rewardlab.lab.forecast.axis import Axis
from rewardlab.lab.forecast.methods.base import FORECAST_METHODS, PeakEstimate
from rewardlab.lab.forecast.peaks import grid_peak, interpolated_peak, is_censored


@FORECAST_METHODS.register("empirical")
def empirical(axis: Axis, mean_curve: np.ndarray) -> PeakEstimate:
    """The curve as measured; its interpolated argmax."""
    curve = np.asarray(mean_curve, dtype=np.float64)
    curve = curve - curve[0]
    k = grid_peak(curve)
    return PeakEstimate(
        peak=interpolated_peak(axis, curve),
        censored=is_censored(axis, k),
        gain=float(curve[k]),
        curve=curve,
    )
