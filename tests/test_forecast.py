"""The pieces of the overoptimization forecast, each against a hand or independent computation."""

from __future__ import annotations

import itertools
import math
import re

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import norm

from rewardlab.lab.forecast.axis import (
    Axis,
    bon_axis,
    bon_gold_curves,
    kl_gold_curves,
    kl_sweep,
    n_grid,
)
from rewardlab.lab.forecast.bootstrap import (
    bootstrap_forecast,
    percentile_interval,
    resampled_means,
)
from rewardlab.lab.forecast.methods import FORECAST_METHODS
from rewardlab.lab.forecast.methods.gao import n_from_d
from rewardlab.lab.forecast.peaks import falls_before, interpolated_peak, realized
from rewardlab.lab.forecast.verdict import verdict
from rewardlab.optimize.bon import bon_weights, kl_bon
from rewardlab.optimize.pool import PromptPool


def pool(scores, gold=None, name="p") -> PromptPool:
    return PromptPool(name, tuple(f"r{i}" for i in range(len(scores))), np.array(scores, float),
                      None if gold is None else np.array(gold, float))


def test_n_grid_is_quarter_octaves_by_hand():
    # round(2^{k/4}) for k = 0..16: 1,1,1,2,2,2,3,3,4,5,6,7,8,10,11,13,16
    assert n_grid(16) == [1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 13, 16]
    assert n_grid(12) == [1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12]
    assert n_grid(2) == [1, 2]
    with pytest.raises(ValueError, match="at least 2"):
        n_grid(1)


def test_bon_gold_curve_matches_every_subset():
    """Unbiased best-of-n gold = the mean over all C(N, n) subsets of the gold of the
    subset's proxy-argmax, enumerated directly."""
    scores, gold = [0.1, 0.4, 0.2, 0.3, 0.9], [1.0, 2.0, 3.0, 4.0, -1.0]
    axis = bon_axis(5)
    got = bon_gold_curves([pool(scores, gold)], axis)[0]
    for k, n in enumerate(axis.x.astype(int)):
        picks = [gold[max(c, key=lambda i: scores[i])]
                 for c in itertools.combinations(range(5), n)]
        assert got[k] == pytest.approx(np.mean(picks), abs=1e-12)
    # by hand at n = 2: rank weights C(i−1, 1)/C(5, 2) = (0, 1, 2, 3, 4)/10 over gold sorted
    # by proxy (1, 3, 4, 2, −1)
    assert got[list(axis.x).index(2)] == pytest.approx((3 + 8 + 6 - 4) / 10)


def test_kl_curve_is_the_tilted_policy_by_hand():
    """E_{π_β}[gold] with π_β ∝ exp(r/β) over a uniform pool, β in the proxy's scale units."""
    pools = [pool([0.0, 1.0, 3.0], [2.0, 1.0, 0.0], "a"), pool([1.0, 0.0, 0.5, 2.0],
                                                              [0.0, 1.0, 1.0, 3.0], "b")]
    sweep = kl_sweep(pools)
    axis = sweep.axis
    got = kl_gold_curves(sweep, pools, [0, 1])
    assert np.isinf(axis.betas[0]) and axis.x[0] == 0.0
    assert np.all(np.diff(axis.x) >= 0)
    for k in (0, 5, 20, len(axis) - 1):
        kls = []
        for p, row in enumerate(pools):
            logits = row.scores / axis.betas[k] if np.isfinite(axis.betas[k]) else 0 * row.scores
            pi = np.exp(logits - logsumexp(logits))
            assert got[p, k] == pytest.approx(float(pi @ row.gold), abs=1e-9)
            kls.append(float(np.sum(pi * np.log(pi * len(pi)))))
        assert axis.x[k] == pytest.approx(np.mean(kls), abs=1e-9)


def test_gao_recovers_alpha_beta_and_the_peak():
    """On an exact d(α − βd) curve the fit returns it, and n* solves KL_bon(n*) = (α/2β)²."""
    axis = bon_axis(256)
    alpha, beta = 1.3, 0.45
    curve = axis.d * (alpha - beta * axis.d)
    estimate = FORECAST_METHODS.get("gao")(axis, curve)
    d_star = alpha / (2 * beta)
    assert not estimate.censored
    assert float(kl_bon(estimate.peak)) == pytest.approx(d_star**2, rel=1e-9)
    assert estimate.gain == pytest.approx(alpha**2 / (4 * beta), rel=1e-9)
    np.testing.assert_allclose(estimate.curve, curve, atol=1e-12)
    # the same form with β ≤ 0 never turns over: censored at the reach, peak "never"
    rising = FORECAST_METHODS.get("gao")(axis, axis.d * (1.0 + 0.1 * axis.d))
    assert rising.censored and rising.peak == 256 and math.isinf(rising.extrapolated)
    # a peak past the pool is reported at the reach, with the fit's own peak beside it
    late = FORECAST_METHODS.get("gao")(axis, axis.d * (1.0 - 0.1 * axis.d))
    assert late.censored and late.peak == 256
    assert float(kl_bon(late.extrapolated)) == pytest.approx(25.0, rel=1e-9)


def test_n_from_d_inverts_the_kl_bound():
    for n in (1.0, 1.5, 7.0, 300.0, 1e6):
        assert n_from_d(float(np.sqrt(kl_bon(n)))) == pytest.approx(n, rel=1e-9)
    assert math.isinf(n_from_d(40.0))


def test_empirical_peak_is_the_parabola_vertex_in_log_n():
    """A curve that is an exact parabola in log n peaks at its vertex, here n = 12."""
    axis = bon_axis(256)
    curve = -((axis.u - math.log(12.0)) ** 2)
    estimate = FORECAST_METHODS.get("empirical")(axis, curve)
    assert estimate.peak == pytest.approx(12.0, rel=1e-9)
    assert estimate.gain == pytest.approx(curve.max() - curve[0])
    assert not estimate.censored
    assert interpolated_peak(axis, curve) == pytest.approx(12.0, rel=1e-9)


def test_censoring_and_falls_before_by_hand():
    axis = Axis("bon", np.array([1.0, 2, 4, 8, 16]), np.zeros(5), np.log([1.0, 2, 4, 8, 16]))
    rising = np.array([0.0, 1, 2, 3, 4])
    estimate = FORECAST_METHODS.get("empirical")(axis, rising)
    assert estimate.censored and estimate.peak == 16
    assert realized(axis, rising[None, :]).censored
    assert not falls_before(axis, rising, 8)
    peaked = np.array([0.0, 1.0, 2.0, 1.95, 0.5])
    truth = realized(axis, np.stack([peaked, peaked + 1]))
    assert truth.grid_peak == 4 and not truth.censored
    # vertex of the parabola through (ln 2, 1), (ln 4, 2), (ln 8, 1.95), equal steps h = ln 2:
    # ln 4 + h·(1 − 1.95) / (2·(1 − 2·2 + 1.95)) = ln 4 + 0.4524 h
    assert truth.peak == pytest.approx(4 * 2 ** (0.95 / 2.1), rel=1e-12)
    assert falls_before(axis, peaked, 8)  # 1.95 < 2 at n = 8
    assert not falls_before(axis, peaked, 8, tolerance=0.05)  # a fall of 2.5% of the gain
    assert falls_before(axis, peaked, 16, tolerance=0.05)
    assert not falls_before(axis, peaked, 3)  # the grid up to 3 is 1, 2: still rising
    # ties: the first maximum, n = 2; the parabola through (0, 1, 1) peaks half a step later
    tied = realized(axis, np.array([[0.0, 1, 1, 1, 0]]))
    assert tied.grid_peak == 2 and tied.peak == pytest.approx(2 * 2**0.5, rel=1e-12)


def test_percentile_interval_and_resampling_by_hand():
    assert percentile_interval(np.arange(11.0), 0.8) == pytest.approx((1.0, 9.0))
    per_prompt = np.array([[0.0, 1.0], [0.0, 3.0]])
    means = resampled_means(per_prompt, 2000, np.random.default_rng(0))
    # each replicate averages two draws of {1, 3}: 1, 2 or 3 with probabilities ¼, ½, ¼
    assert set(np.unique(means[:, 1])) == {1.0, 2.0, 3.0}
    assert np.mean(means[:, 1] == 2.0) == pytest.approx(0.5, abs=0.04)


def _population_curve(axis: Axis, slope: float, curvature: float) -> np.ndarray:
    """E[slope·z − curvature·z²] of the maximum of n standard normals, by quadrature of the
    density n φ(z) Φ(z)^{n−1}, minus its value at n = 1."""
    z = np.linspace(-9, 9, 40001)
    values = []
    for n in axis.x.astype(int):
        density = n * norm.pdf(z) * norm.cdf(z) ** (n - 1)
        values.append(np.trapezoid((slope * z - curvature * z * z) * density, z))
    return np.array(values) - values[0]


def test_bootstrap_interval_covers_the_known_peak_at_its_level():
    """Synthetic generator with a known population peak: per prompt, proxy z ~ N(0, 1) on 32
    candidates and gold = a_p z − 0.3 z² + c_p + noise (a_p ~ N(1, 0.5)); the population
    best-of-n gold is ā E[z_(n)] − 0.3 E[z_(n)²], so n* is known. The 80% interval of the
    empirical method, from 100 prompts, must cover it in about 80% of 150 data sets (measured
    0.77 over 300 with 64 candidates)."""
    size, prompts, level = 32, 100, 0.8
    axis = bon_axis(size)
    truth = interpolated_peak(axis, _population_curve(axis, 1.0, 0.3))
    assert 8 <= truth <= 20  # an interior peak
    weights = np.stack([bon_weights(size, int(n)) for n in axis.x])
    rng = np.random.default_rng(1)
    method = FORECAST_METHODS.get("empirical")
    covered = []
    for r in range(150):
        z = rng.standard_normal((prompts, size))
        gold = (rng.normal(1.0, 0.5, (prompts, 1)) * z - 0.3 * z * z
                + rng.normal(0, 1, (prompts, 1)) + rng.normal(0, 0.5, (prompts, size)))
        by_proxy = np.take_along_axis(gold, np.argsort(z, axis=1), axis=1)
        forecast = bootstrap_forecast(axis, by_proxy @ weights.T, method, 200, level,
                                      np.random.default_rng([r]))
        covered.append(forecast.interval[0] <= truth <= forecast.interval[1])
    assert 0.65 <= np.mean(covered) <= 0.92


NUMBER = r"([0-9]+(?:\.[0-9]+)?)"


def test_verdict_states_the_numbers():
    text = verdict("bon", 16.4, (11.2, 40.3), False, 0.8123, 256, 0.8)
    assert text == (
        "Gold is forecast to peak at n ≈ 16 (+0.812 gold over n = 1; 80% interval n ≈ 11–40): "
        "safe up to n ≈ 11; past n ≈ 40 gold is expected to fall."
    )
    safe, fall = re.search(rf"safe up to n ≈ {NUMBER}; past n ≈ {NUMBER}", text).groups()
    assert (int(safe), int(fall)) == (round(11.2), round(40.3))
    censored = verdict("bon", 56, (30.6, 56), True, 0.45, 56, 0.8, extrapolated=190.2)
    assert "No fall is forecast up to n = 56" in censored
    assert "safe up to n ≈ 31" in censored and "puts the peak at n ≈ 190" in censored
    open_top = verdict("bon", 40, (20, 56), False, 0.3, 56, 0.9)
    assert "90% interval n ≈ 20–56" in open_top
    assert "cannot rule out gold still rising at n = 56" in open_top
    flat = verdict("bon", 1, (1, 1.4), False, 0.0, 56, 0.8)
    assert flat.startswith("Gold is not forecast to rise")
    kl = verdict("kl", 1.234, (0.9, 2.0), False, 0.5, 4.0, 0.8)
    assert "peak at KL ≈ 1.23 nats" in kl and "past KL ≈ 2.00 nats" in kl
