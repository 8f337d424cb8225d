"""The forecast in one plain sentence.

With the forecast peak x̂, its interval [lo, hi] at level c, the gain ĝ at the
peak and the pool's reach x_max (n for best-of-n, KL in nats for the KL
optimum; n rounded to an integer, KL to two decimals):

- no gain (x̂ at the start, or ĝ ≤ 0): "Gold is not forecast to rise: …";
- a peak inside the reach: "Gold is forecast to peak at x ≈ x̂ (+ĝ over the
  start; c interval x ≈ lo–hi): safe up to x ≈ lo; past x ≈ hi gold is expected
  to fall." When hi is the reach, the second half says the pool cannot rule
  out gold still rising at the reach;
- censored (no fall within reach): "No fall is forecast up to x = x_max, the
  largest the pool can show (+ĝ over the start; c interval x ≈ lo–x_max): safe up
  to x ≈ lo; past x_max the pool cannot tell", with the extrapolated peak of a
  fitted form when one is given.

"Safe up to lo" reads: the peak lies above lo in all but (1 − c)/2 of the
bootstrap replicates, so gold is still rising there.
"""

from __future__ import annotations

import math


def format_x(optimizer: str, x: float) -> str:
    """"n ≈ 16" style value: an integer n, or KL in nats with two decimals."""
    if optimizer == "bon":
        return "∞" if math.isinf(x) else str(int(round(x)))
    return "∞" if math.isinf(x) else f"{x:.2f}"


def _at(optimizer: str, x: float, exact: bool = False) -> str:
    sign = "=" if exact else "≈"
    if optimizer == "bon":
        return f"n {sign} {format_x(optimizer, x)}"
    return f"KL {sign} {format_x(optimizer, x)} nats"


def _start(optimizer: str) -> str:
    return "n = 1" if optimizer == "bon" else "KL = 0"


def verdict(
    optimizer: str,
    peak: float,
    interval: tuple[float, float],
    censored: bool,
    gain: float,
    reach: float,
    level: float,
    extrapolated: float | None = None,
) -> str:
    """The sentence of the module docstring."""
    low, high = interval
    pct = f"{round(100 * level)}% interval"
    span = f"{format_x(optimizer, low)}–{format_x(optimizer, high)}"
    span = f"n ≈ {span}" if optimizer == "bon" else f"KL ≈ {span} nats"
    over = f"{gain:+.3g} gold over {_start(optimizer)}"
    start = 1.0 if optimizer == "bon" else 0.0
    if gain <= 0.0 or (peak <= start and not censored):
        return (
            f"Gold is not forecast to rise with this proxy (best at {_at(optimizer, peak)}, "
            f"{over}; {pct} {span}): optimizing against it is not expected to help."
        )
    if censored:
        beyond = "past it the pool cannot tell"
        if extrapolated is not None:
            beyond += (
                "; the fitted form never turns over" if math.isinf(extrapolated)
                else f"; the fitted form puts the peak at {_at(optimizer, extrapolated)}"
            )
        return (
            f"No fall is forecast up to {_at(optimizer, reach, exact=True)}, the largest this "
            f"pool can show ({over}; {pct} {span}): safe up to {_at(optimizer, low)}; "
            f"{beyond}."
        )
    tail = (
        f"past {_at(optimizer, high)} gold is expected to fall."
        if high < reach
        else f"the pool cannot rule out gold still rising at {_at(optimizer, reach, exact=True)}."
    )
    return (
        f"Gold is forecast to peak at {_at(optimizer, peak)} ({over}; {pct} {span}): "
        f"safe up to {_at(optimizer, low)}; {tail}"
    )
