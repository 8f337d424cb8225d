"""The closed-form fit of Gao et al.'s R_bon(d) = d(α − βd), checked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from rewardlab.lab.scaling_fit import fit_bon
from rewardlab.optimize.bon import kl_bon


def test_three_points_on_the_curve_give_alpha_beta_peak_exactly():
    # d = 0, 1, 2 with R = 0, 1, 0:  α − β = 1 and 2α − 4β = 0  ⇒  α = 2, β = 1,
    # peak at d* = α/2β = 1 with R* = α²/4β = 1, and the fit is exact (R² = 1).
    fit = fit_bon([0.0, 1.0, 2.0], [0.0, 1.0, 0.0])
    assert fit.alpha == pytest.approx(2.0)
    assert fit.beta == pytest.approx(1.0)
    assert fit.d_peak == pytest.approx(1.0)
    assert fit.r_peak == pytest.approx(1.0)
    assert fit.r2 == pytest.approx(1.0)
    assert fit.predict(0.5) == pytest.approx(0.5 * (2.0 - 0.5))


def test_recovers_known_alpha_beta_from_a_best_of_n_curve():
    ns = np.array([1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024])
    d = np.sqrt(kl_bon(ns))
    alpha, beta = 1.3, 0.45
    fit = fit_bon(d, d * (alpha - beta * d))
    assert (fit.alpha, fit.beta) == pytest.approx((alpha, beta))
    assert fit.d_peak == pytest.approx(alpha / (2 * beta))
    assert fit.n_points == 11


def test_least_squares_when_points_do_not_lie_on_one_curve():
    # d = (1, 1, 2), y = (0, 2, 2). Normal equations: Σd² = 6, Σd³ = 10, Σd⁴ = 18,
    # Σdy = 6, −Σd²y = −10, det = 6·18 − 10² = 8:
    # α = (6·18 + 10·(−10))/8 = 1,  β = (6·(−10) + 10·6)/8 = 0.
    # Residuals (−1, 1, 0): SS_res = 2; ȳ = 4/3, SS_tot = 8/3, so R² = 1 − 2/(8/3) = 0.25.
    fit = fit_bon([1.0, 1.0, 2.0], [0.0, 2.0, 2.0])
    assert fit.alpha == pytest.approx(1.0)
    assert fit.beta == pytest.approx(0.0, abs=1e-12)
    assert fit.r2 == pytest.approx(0.25)


def test_no_peak_when_the_curve_never_turns_over():
    d = np.array([0.0, 0.5, 1.0, 1.5])
    fit = fit_bon(d, d * (1.0 + 0.2 * d))  # β = −0.2
    assert fit.beta == pytest.approx(-0.2)
    assert fit.d_peak is None and fit.r_peak is None


@pytest.mark.parametrize(
    ("d", "y", "message"),
    [
        ([0.0, 1.0, 1.0], [0.0, 1.0, 1.0], "two distinct"),
        ([0.0, 1.0], [0.0], "rewards for"),
        ([0.0, -1.0, 2.0], [0.0, 1.0, 1.0], "never negative"),
        ([0.0, 1.0, 2.0], [0.0, float("nan"), 1.0], "finite"),
    ],
)
def test_bad_input_is_one_clear_error(d, y, message):
    with pytest.raises(ValueError, match=message):
        fit_bon(d, y)
