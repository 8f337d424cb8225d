"""``gao``: Gao et al.'s functional form fitted to the labelled prompts' gold curve.

Gao, Schulman & Hilton, "Scaling Laws for Reward Model Overoptimization"
(ICML 2023): the gold gain of best-of-n follows R(d) = d(α − βd) on
d = √KL_bon(n) (eq. 1), that of RL R(d) = d(α − β log d) on d = √KL (eq. 2).
The form is fitted by least squares through the origin on the mean gain curve
(:func:`rewardlab.lab.scaling_fit.fit_bon` / ``fit_rl``); its peak d* (α/2β,
or e^{α/β − 1}) is mapped back to the axis: n* solves log n − (n − 1)/n = d*²
(bisection on log n; the left side rises with n) and KL* = d*². With β ≤ 0
the form never turns over. Two parameters smooth the curve and extend it past
the pool (``extrapolated``), at the price of the form's bias where the real
curve is not of that shape.
"""

from __future__ import annotations

import math

import numpy as np

from rewardlab.lab.forecast.axis import Axis
from rewardlab.lab.forecast.methods.base import FORECAST_METHODS, PeakEstimate
from rewardlab.lab.scaling_fit import fit_bon, fit_rl
from rewardlab.optimize.bon import kl_bon

MAX_LOG_N = 700.0  # n = e^700 is beyond any pool; d* past it is "never"


def n_from_d(d: float) -> float:
    """The n ≥ 1 with √(log n − (n − 1)/n) = d (∞ past n = e^700)."""
    target = d * d
    if target <= 0.0:
        return 1.0

    def kl(log_n: float) -> float:
        return log_n - 1.0 + math.exp(-log_n)

    if kl(MAX_LOG_N) < target:
        return math.inf
    low, high = 0.0, MAX_LOG_N
    for _ in range(200):
        mid = 0.5 * (low + high)
        low, high = (mid, high) if kl(mid) < target else (low, mid)
    return math.exp(0.5 * (low + high))


@FORECAST_METHODS.register("gao")
def gao(axis: Axis, mean_curve: np.ndarray) -> PeakEstimate:
    """Gao et al.'s form (bon: d(α − βd); kl: d(α − β log d)) and its peak."""
    curve = np.asarray(mean_curve, dtype=np.float64)
    curve = curve - curve[0]
    fit = (fit_bon if axis.optimizer == "bon" else fit_rl)(axis.d, curve)
    predicted = np.asarray(fit.predict(axis.d), dtype=np.float64)
    first = float(axis.x[0])
    if fit.d_peak is None:
        peak, extrapolated = math.inf, math.inf
    elif fit.d_peak <= 0.0:
        peak, extrapolated = first, None  # α ≤ 0 < β: gold falls from the start
    else:
        peak = n_from_d(fit.d_peak) if axis.optimizer == "bon" else fit.d_peak**2
        extrapolated = None
    if peak >= axis.reach:
        extrapolated = peak
        return PeakEstimate(axis.reach, True, float(predicted[-1]), predicted, extrapolated)
    d_peak = math.sqrt(float(kl_bon(peak)) if axis.optimizer == "bon" else peak)
    gain = float(fit.predict(d_peak)) if peak > first else 0.0
    return PeakEstimate(peak, False, gain, predicted, extrapolated)
