"""Gao et al.'s functional forms for gold reward (best-of-n and RL), fitted in closed form.

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

For RL (Gao et al. eq. 2; their PPO runs), with d = √KL(π ‖ π_init),

    R_RL(d) = d·(α − β·log d) = α·d − β·d·log d      (0·log 0 = 0),

fitted the same way on the regressors d and −d·log d:

    [ Σd²          −Σd²·log d  ] [α]   [  Σd·y        ]
    [ −Σd²·log d   Σ(d·log d)² ] [β] = [ −Σd·log d·y  ].

dR/dd = α − β(1 + log d) vanishes at d* = exp(α/β − 1), where R* = β·d*;
with β > 0 that is the peak, with β ≤ 0 the curve never turns over.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class BonFit:
    """Fitted ``R(d) = d(α − βd)`` (``form="bon"``) or ``R(d) = d(α − β log d)``
    (``form="rl"``): coefficients, peak (``None`` when β ≤ 0) and R²."""

    alpha: float
    beta: float
    d_peak: float | None
    r_peak: float | None
    r2: float | None
    n_points: int
    form: str = "bon"

    def predict(self, d: np.ndarray | float) -> np.ndarray | float:
        """R(d) of the fitted form."""
        d_arr = np.asarray(d, dtype=np.float64)
        value = self.alpha * d_arr - self.beta * _second_regressor(d_arr, self.form)
        return float(value) if value.ndim == 0 else value

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


FORMS = ("bon", "rl")


def _second_regressor(d: np.ndarray, form: str) -> np.ndarray:
    """d² (best-of-n) or d·log d with 0·log 0 = 0 (RL)."""
    if form == "bon":
        return d * d
    if form == "rl":
        safe = np.where(d > 0, d, 1.0)
        return np.where(d > 0, d * np.log(safe), 0.0)
    raise ValueError(f"field 'form': expected one of {FORMS}, got {form!r}")


def _checked(d: Sequence[float] | np.ndarray, reward: Sequence[float] | np.ndarray):
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
    return d_arr, y


def _fit(d_arr: np.ndarray, y: np.ndarray, form: str) -> tuple[float, float, float | None]:
    """Least squares of y ≈ α·d − β·g(d) through the origin: (α, β, R²)."""
    g = _second_regressor(d_arr, form)
    s11, s12, s22 = float(np.sum(d_arr * d_arr)), float(np.sum(d_arr * g)), float(np.sum(g * g))
    b1, b2 = float(np.sum(d_arr * y)), -float(np.sum(g * y))
    det = s11 * s22 - s12 * s12
    if det <= 1e-12 * max(s11 * s22, 1e-300):
        raise ValueError("field 'd': the distances do not separate α from β")
    alpha = (b1 * s22 + s12 * b2) / det
    beta = (s11 * b2 + s12 * b1) / det
    residual = y - (alpha * d_arr - beta * g)
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    r2 = None if ss_tot == 0.0 else 1.0 - float(np.sum(residual**2)) / ss_tot
    return alpha, beta, r2


def fit_bon(d: Sequence[float] | np.ndarray, reward: Sequence[float] | np.ndarray) -> BonFit:
    """Least-squares α, β of ``reward ≈ d(α − βd)`` (reward relative to d = 0, i.e. n = 1).

    Needs at least two points with d > 0 (distinct values), all finite.
    """
    d_arr, y = _checked(d, reward)
    alpha, beta, r2 = _fit(d_arr, y, "bon")
    has_peak = beta > 0 and math.isfinite(alpha / beta)
    return BonFit(
        alpha=alpha,
        beta=beta,
        d_peak=alpha / (2 * beta) if has_peak else None,
        r_peak=alpha * alpha / (4 * beta) if has_peak else None,
        r2=r2,
        n_points=int(d_arr.size),
    )


def fit_rl(d: Sequence[float] | np.ndarray, reward: Sequence[float] | np.ndarray) -> BonFit:
    """Least-squares α, β of ``reward ≈ d(α − β log d)`` (reward relative to the initial
    policy, d = √KL). Needs at least two points with distinct d > 0, all finite."""
    d_arr, y = _checked(d, reward)
    alpha, beta, r2 = _fit(d_arr, y, "rl")
    d_peak = None
    if beta > 0 and alpha / beta - 1.0 < 700.0:
        d_peak = math.exp(alpha / beta - 1.0)
    return BonFit(
        alpha=alpha,
        beta=beta,
        d_peak=d_peak,
        r_peak=None if d_peak is None else beta * d_peak,
        r2=r2,
        n_points=int(d_arr.size),
        form="rl",
    )
