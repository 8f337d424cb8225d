"""Drift watch: PSI by hand, and the served-reward histogram and PSI on /metrics."""

from __future__ import annotations

import math
import re

import httpx
import numpy as np
import pytest

from rewardlab.models.baselines import LengthReward
from rewardlab.serve.app import create_app
from rewardlab.serve.drift import RewardDrift, bin_shares, psi, quantile_edges
from rewardlab.serve.runner import BackgroundServer
from rewardlab.serve.settings import ServeSettings


def test_quantile_edges_and_bin_shares_by_hand():
    ref = np.array([0.0, 1.0, 2.0, 3.0])
    edges = quantile_edges(ref, 2)
    assert edges.tolist() == [1.5]  # the median
    # bins (−inf, 1.5) and [1.5, inf)
    assert bin_shares(np.array([1.5, 3.0, 0.0, 9.0]), edges).tolist() == [0.25, 0.75]
    assert quantile_edges(np.array([1.0, 1.0, 1.0, 2.0]), 4).tolist() == [1.0, 1.25]


def test_psi_formula_by_hand():
    # p = (0.2, 0.8), q = (0.5, 0.5): (−0.3) ln(0.4) + 0.3 ln(1.6)
    assert psi(np.array([0.2, 0.8]), np.array([0.5, 0.5])) == pytest.approx(
        -0.3 * math.log(0.4) + 0.3 * math.log(1.6)
    )
    assert psi(np.array([0.5, 0.5]), np.array([0.5, 0.5])) == 0.0
    # an empty bin is floored at ε = 1e-4 and stays finite
    assert psi(np.array([0.0, 1.0]), np.array([0.5, 0.5])) == pytest.approx(
        (1e-4 - 0.5) * math.log(1e-4 / 0.5) + 0.5 * math.log(2.0)
    )


def test_reward_drift_windows():
    drift = RewardDrift(reference_size=4, bins=2)
    drift.observe([0.0, 1.0, 2.0])
    assert drift.psi() is None and drift.reference_items == 3
    drift.observe([3.0, 0.0, 1.0, 2.0])
    assert drift.psi() is None and drift.current_items == 3  # current window not full
    drift.observe([3.0])
    assert drift.psi() == 0.0  # same shares as the reference
    drift.observe([5.0, 6.0, 7.0])  # window now [3, 5, 6, 7]: all above the median 1.5
    assert drift.psi() == pytest.approx((1e-4 - 0.5) * math.log(1e-4 / 0.5) + 0.5 * math.log(2))


def _metric(text: str, line: str) -> float:
    match = re.search(rf"^{re.escape(line)} (\S+)$", text, re.MULTILINE)
    assert match is not None, line
    return float(match.group(1))


def test_served_rewards_histogram_and_psi_on_metrics():
    settings = ServeSettings(drift_reference=4, drift_bins=2)
    with BackgroundServer(create_app(LengthReward(), settings)) as server:
        url = server.url
        first = ["", "a", "a b", "a b c"]  # rewards 0, 1, 2, 3: the reference
        later = ["a b c d e", "a b c d e f", "a b", "a b c d e f g"]  # 5, 6, 2, 7
        httpx.post(f"{url}/score", json={"prompts": ["p"] * 4, "responses": first})
        text = httpx.get(f"{url}/metrics").text
        assert 'rewardlab_reward_psi{route="/score"}' not in text
        httpx.post(f"{url}/score", json={"prompts": ["p"] * 4, "responses": later})
        llama = {"model": "m", "messages": ["x y"]}
        httpx.post(f"{url}/v1/score/evaluation", json=llama)
        text = httpx.get(f"{url}/metrics").text
    assert _metric(text, 'rewardlab_reward_bucket{route="/score",le="2"}') == 4  # 0, 1, 2, 2
    assert _metric(text, 'rewardlab_reward_bucket{route="/score",le="5"}') == 6
    assert _metric(text, 'rewardlab_reward_sum{route="/score"}') == 26.0
    assert _metric(text, 'rewardlab_reward_count{route="/v1/score/evaluation"}') == 1
    # current window (5, 6, 2, 7) is entirely above the reference median 1.5
    expected = (1e-4 - 0.5) * math.log(1e-4 / 0.5) + 0.5 * math.log(2)
    assert _metric(text, 'rewardlab_reward_psi{route="/score"}') == pytest.approx(expected)
    assert _metric(text, 'rewardlab_reward_reference_items{route="/score"}') == 4
    assert _metric(text, 'rewardlab_reward_window_items{route="/v1/score/evaluation"}') == 0


def test_drift_settings_are_checked():
    with pytest.raises(ValueError, match="drift_bins"):
        ServeSettings(drift_reference=4, drift_bins=5).validate()
    with pytest.raises(ValueError, match="drift_reference"):
        ServeSettings(drift_reference=0).validate()
