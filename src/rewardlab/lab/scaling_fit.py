"""Gao et al.'s best-of-n functional form for gold reward, fitted in closed form.

Gao, Schulman & Hilton, "Scaling Laws for Reward Model Overoptimization"
(ICML 2023), eq. 1: with d = √KL(π_bon ‖ π_init) = √(log n − (n − 1)/n), the
gold reward of best-of-n relative to the initial policy (n = 1) follows

    R_bon(d) = d·(α − β·d) = α·d − β·d².

The fit is ordinary least squares through the origin on the two regressors
d and −d²: minimising Σ_i (y_i − α·d_i + β·d_i²)² gives the normal equations

    [ Σd²   −Σd³ ] [α]   [  Σd·y  ]
    [ −Σd³   Σd⁴ ] [β] = [ −Σd²·y ],

solved directly (Cramer's rule). The curve rises while d < d* = α/(2β) and
peaks there at R* = α²/(4β) when β > 0; with β ≤ 0 it never turns over (no
peak within the model). Goodness of fit is R² = 1 − SS_res/SS_tot with
SS_tot = Σ(y − ȳ)² over the same points.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class BonFit:
    """Fitted ``R(d) = d(α − βd)``: coefficients, peak (``None`` when β ≤ 0) and R²."""

    alpha: float
    beta: float
    d_peak: float | None
    r_peak: float | None
    r2: float | None
    n_points: int

    def predict(self, d: np.ndarray | float) -> np.ndarray | float:
        """R(d) = d·(α − β·d)."""
        d_arr = np.asarray(d, dtype=np.float64)
        value = d_arr * (self.alpha - self.beta * d_arr)
        return float(value) if value.ndim == 0 else value

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def fit_bon(d: Sequence[float] | np.ndarray, reward: Sequence[float] | np.ndarray) -> BonFit:
    """Least-squares α, β of ``reward ≈ d(α − βd)`` (reward relative to d = 0, i.e. n = 1).

    Needs at least two points with d > 0 (distinct values), all finite.
    """
    d_arr = np.asarray(d, dtype=np.float64).reshape(-1)
    y = np.asarray(reward, dtype=np.float64).reshape(-1)
    if d_arr.shape != y.shape:
        raise ValueError(f"field 'reward': {y.size} rewards for {d_arr.size} distances")
    if not (np.all(np.isfinite(d_arr)) and np.all(np.isfinite(y))):
        raise ValueError("field 'd'/'reward': the fit needs finite values")
    if np.any(d_arr < 0):
        raise ValueError("field 'd': √KL is never negative")
    if np.unique(d_arr[d_arr > 0]).size < 2:
        raise ValueError("field 'd': the fit needs at least two distinct d > 0")
    s2, s3, s4 = (float(np.sum(d_arr**k)) for k in (2, 3, 4))
    b1, b2 = float(np.sum(d_arr * y)), -float(np.sum(d_arr**2 * y))
    det = s2 * s4 - s3 * s3
    alpha = (b1 * s4 + s3 * b2) / det
    beta = (s2 * b2 + s3 * b1) / det
    residual = y - d_arr * (alpha - beta * d_arr)
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    r2 = None if ss_tot == 0.0 else 1.0 - float(np.sum(residual**2)) / ss_tot
    has_peak = beta > 0 and math.isfinite(alpha / beta)
    return BonFit(
        alpha=alpha,
        beta=beta,
        d_peak=alpha / (2 * beta) if has_peak else None,
        r_peak=alpha * alpha / (4 * beta) if has_peak else None,
        r2=r2,
        n_points=int(d_arr.size),
    )
