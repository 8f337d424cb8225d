"""What a forecast method is: a function from a mean gold gain curve to a peak estimate.

A method sees the axis (:class:`~rewardlab.lab.forecast.axis.Axis`) and the
mean over some prompts of their gold gain along it, y_k = mean_p(G_p(x_k) −
G_p(x_0)); it returns the forecast gain curve on the grid and where it peaks.
The same function runs on the labelled prompts (the point forecast) and on
each bootstrap resample of them (the interval), so it must be deterministic
and cheap.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from rewardlab.lab.forecast.axis import Axis
from rewardlab.registry import Registry


@dataclass(frozen=True)
class PeakEstimate:
    """A method's forecast from one mean curve.

    Attributes:
        peak: x where gold peaks (n or KL), clipped to the pool's reach.
        censored: gold is not forecast to fall within the reach (``peak`` is the reach).
        gain: forecast gold gain over x[0] at the peak.
        curve: forecast gold gain at each grid point.
        extrapolated: the method's peak beyond the reach when it has a model that
            extends past the pool (``inf``: the model never turns over); ``None`` otherwise.
    """

    peak: float
    censored: bool
    gain: float
    curve: np.ndarray
    extrapolated: float | None = None


Method = Callable[[Axis, np.ndarray], PeakEstimate]
"""``method(axis, mean_gain_curve) -> PeakEstimate``."""

FORECAST_METHODS: Registry[Method] = Registry("forecast method")
