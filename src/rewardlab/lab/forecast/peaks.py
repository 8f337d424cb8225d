"""Where a gold curve peaks on an axis, and whether it falls before a given point.

Definitions shared by the forecast, the realized curve and the benchmark:

- **grid peak**: k* = the first argmax of the curve over the grid (ties: the
  smallest x). The peak is **censored** when k* is the last point: gold has
  not fallen within the pool's reach, so the true peak is only known to be
  ≥ the reach (it is reported as the reach).
- **interpolated peak**: for an interior k*, the vertex of the parabola through
  the three points (u_{k*−1}, u_{k*}, u_{k*+1}) (u = log n for best-of-n, √KL
  for the KL optimum), clipped to that bracket; at k* = 0 or a censored k* it
  is the grid point itself. It makes the peak a continuous function of the
  curve, so bootstrap percentiles are not stuck on grid points.
- **falls before x_lim**: with j the last grid point with x ≤ x_lim, the first
  argmax of the curve over points 0 … j is before j, and gold at j is below
  that maximum by more than ``tolerance`` × (maximum − gold at x[0]) (strict
  fall: ``tolerance`` = 0). When the reach is below x_lim, j is the reach.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rewardlab.lab.forecast.axis import Axis


def grid_peak(curve: np.ndarray) -> int:
    """Index of the first maximum of ``curve``."""
    return int(np.argmax(np.asarray(curve, dtype=np.float64)))


def is_censored(axis: Axis, index: int) -> bool:
    """The peak index is the last grid point (gold never fell within reach)."""
    return index == len(axis) - 1


def interpolated_peak(axis: Axis, curve: np.ndarray) -> float:
    """The peak's x: the parabola's vertex in u around an interior grid maximum (see the
    module docstring), else the grid point."""
    curve = np.asarray(curve, dtype=np.float64)
    k = grid_peak(curve)
    if k == 0 or is_censored(axis, k):
        return float(axis.x[k])
    u = axis.u[k - 1 : k + 2]
    y = curve[k - 1 : k + 2]
    # divided differences of the parabola through three points
    slope_left = (y[1] - y[0]) / (u[1] - u[0])
    slope_right = (y[2] - y[1]) / (u[2] - u[1])
    curvature = (slope_right - slope_left) / (u[2] - u[0])
    if curvature >= 0:  # flat (equal values): keep the grid point
        return float(axis.x[k])
    vertex = 0.5 * (u[0] + u[1]) - slope_left / (2 * curvature)
    vertex = float(np.clip(vertex, u[0], u[2]))
    return from_u(axis, vertex)


def from_u(axis: Axis, u: float) -> float:
    """x from the interpolation coordinate: n = e^u (best-of-n) or KL = u² (kl)."""
    return math.exp(u) if axis.optimizer == "bon" else u * u


def falls_before(axis: Axis, curve: np.ndarray, limit: float, tolerance: float = 0.0) -> bool:
    """Gold falls before ``limit`` (see the module docstring)."""
    curve = np.asarray(curve, dtype=np.float64)
    j = axis.last_index_within(limit)
    k = grid_peak(curve[: j + 1])
    if k == j:
        return False
    gain = max(curve[k] - curve[0], 0.0)
    return bool(curve[k] - curve[j] > tolerance * gain)


def value_at(axis: Axis, curve: np.ndarray, x: float) -> float:
    """The curve at ``x``, linear in u between grid points (clipped to the grid)."""
    u = math.log(x) if axis.optimizer == "bon" else math.sqrt(max(x, 0.0))
    return float(np.interp(u, axis.u, np.asarray(curve, dtype=np.float64)))


@dataclass(frozen=True)
class Realized:
    """The realized curve of a pool with gold on every prompt.

    Attributes:
        curve: mean over all prompts of the gold gain over x[0], per grid point.
        peak: the realized x*: the grid argmax refined by the parabola, as a forecast's
            (:func:`interpolated_peak`), so a forecast from every prompt equals it.
        grid_peak: x at the first grid argmax itself.
        censored: the argmax is the reach (gold never fell within it).
    """

    curve: np.ndarray
    peak: float
    grid_peak: float
    censored: bool


def realized(axis: Axis, per_prompt: np.ndarray) -> Realized:
    """The realized peak from (P, K) gold values of every prompt of the pool."""
    per_prompt = np.asarray(per_prompt, dtype=np.float64)
    curve = (per_prompt - per_prompt[:, :1]).mean(axis=0)
    k = grid_peak(curve)
    return Realized(curve, interpolated_peak(axis, curve), float(axis.x[k]),
                    is_censored(axis, k))
