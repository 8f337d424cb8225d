"""Uncertainty of a forecast: the bootstrap over prompts.

The labelled prompts are a sample of the prompts the optimizer will meet, and
a prompt's whole gold curve moves together, so the unit of resampling is the
prompt (a cluster bootstrap; Efron & Tibshirani 1993, ch. 6 and 13). Each of
R replicates draws L prompts with replacement from the L labelled ones
(multinomial counts, so memory is R × L), averages their gain curves, and
runs the method on that mean. The interval at level c is the percentile
interval [q_{(1−c)/2}, q_{(1+c)/2}] of the replicate peaks, taken in the
interpolation coordinate u (log n, √KL) and mapped back; censored replicates
count at the reach, so an interval whose upper end is the reach means "gold
may not fall within the pool". The gain interval and the pointwise band of
the forecast curve are percentiles of the same replicates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rewardlab.lab.forecast.axis import Axis
from rewardlab.lab.forecast.methods.base import Method, PeakEstimate
from rewardlab.lab.forecast.peaks import falls_before, from_u


@dataclass(frozen=True)
class Forecast:
    """One method's forecast with its bootstrap uncertainty.

    Attributes:
        estimate: the method on all labelled prompts.
        interval: percentile interval of the peak's x at ``level``.
        gain_interval: percentile interval of the gain at the peak.
        band: (2, K) pointwise percentile band of the forecast gain curve.
        censored_share: share of replicates whose peak is censored.
        peaks: the replicates' peaks (x).
        level: the interval's coverage level.
        replicate_curves: (R, K) the replicates' forecast gain curves.
    """

    estimate: PeakEstimate
    interval: tuple[float, float]
    gain_interval: tuple[float, float]
    band: np.ndarray
    censored_share: float
    peaks: np.ndarray
    level: float
    replicate_curves: np.ndarray

    def falls_probability(self, axis: Axis, limit: float, tolerance: float = 0.0) -> float:
        """Share of replicates whose forecast curve falls before ``limit``."""
        return float(
            np.mean([falls_before(axis, curve, limit, tolerance) for curve in
                     self.replicate_curves])
        )


def resampled_means(
    per_prompt: np.ndarray, replicates: int, rng: np.random.Generator
) -> np.ndarray:
    """(R, K) means of ``per_prompt`` (L, K) over R resamples of its rows with replacement."""
    rows = per_prompt.shape[0]
    counts = rng.multinomial(rows, np.full(rows, 1.0 / rows), size=replicates)
    return counts @ per_prompt / rows


def percentile_interval(values: np.ndarray, level: float) -> tuple[float, float]:
    """[q_{(1−level)/2}, q_{(1+level)/2}] of ``values`` (linear between order statistics)."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"field 'level': expected a level in (0, 1), got {level!r}")
    low, high = np.quantile(np.asarray(values, dtype=np.float64),
                            [(1.0 - level) / 2.0, (1.0 + level) / 2.0])
    return float(low), float(high)


def _to_u(axis: Axis, x: np.ndarray) -> np.ndarray:
    return np.log(x) if axis.optimizer == "bon" else np.sqrt(np.maximum(x, 0.0))


def bootstrap_forecast(
    axis: Axis,
    per_prompt: np.ndarray,
    method: Method,
    replicates: int,
    level: float,
    rng: np.random.Generator,
) -> Forecast:
    """``method`` on the mean of the labelled prompts' gain curves, and on R resamples."""
    per_prompt = np.asarray(per_prompt, dtype=np.float64)
    if per_prompt.ndim != 2 or per_prompt.shape[1] != len(axis):
        raise ValueError(
            f"field 'per_prompt': expected (prompts, {len(axis)}) gold values, "
            f"got shape {per_prompt.shape}"
        )
    if per_prompt.shape[0] < 2:
        raise ValueError("field 'per_prompt': the bootstrap needs at least 2 labelled prompts")
    if replicates < 2:
        raise ValueError(f"field 'replicates': expected at least 2, got {replicates}")
    gains = per_prompt - per_prompt[:, :1]
    estimate = method(axis, gains.mean(axis=0))
    draws = [method(axis, mean) for mean in resampled_means(gains, replicates, rng)]
    peaks = np.array([d.peak for d in draws])
    low_u, high_u = percentile_interval(_to_u(axis, peaks), level)
    low, high = (float(np.clip(from_u(axis, u), axis.x[0], axis.reach)) for u in (low_u, high_u))
    curves = np.stack([d.curve for d in draws])
    band_low = np.quantile(curves, (1.0 - level) / 2.0, axis=0)
    band_high = np.quantile(curves, (1.0 + level) / 2.0, axis=0)
    return Forecast(
        estimate=estimate,
        interval=(low, high),
        gain_interval=percentile_interval(np.array([d.gain for d in draws]), level),
        band=np.stack([band_low, band_high]),
        censored_share=float(np.mean([d.censored for d in draws])),
        peaks=peaks,
        level=level,
        replicate_curves=curves,
    )
