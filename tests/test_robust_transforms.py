"""Reward transforms (log-sigmoid centering, z-normalization, clipping) and step transforms."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pytest

from rewardlab.models.baselines import LengthReward
from rewardlab.protocols import RewardModel
from rewardlab.robust.transforms import (
    Clipped,
    LogSigmoidCentered,
    ZNormalized,
    clip_step_rewards,
    delta_step_rewards,
    log_sigmoid,
)


class CountingLength:
    """LengthReward that counts how many responses it has scored."""

    def __init__(self) -> None:
        self.calls = 0

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        self.calls += len(responses)
        return LengthReward().score(prompts, responses)


REFS = {"p": ["a", "a b", "a b c", "a b c d"], "q": "one two"}


def test_log_sigmoid_matches_definition_and_is_stable() -> None:
    z = np.array([-2.0, 0.0, 3.0])
    np.testing.assert_allclose(log_sigmoid(z), np.log(1 / (1 + np.exp(-z))))
    assert np.isfinite(log_sigmoid(np.array([-1000.0, 1000.0]))).all()


def test_log_sigmoid_centered_quantile_reference() -> None:
    model = LogSigmoidCentered(LengthReward(), REFS, quantile=0.85)
    assert isinstance(model, RewardModel)
    # reference rewards 1, 2, 3, 4; the 0.85 quantile sits at position 0.85*3 = 2.55
    r_ref = 3 + 0.55 * (4 - 3)
    out = model.score(["p", "p"], ["a b c d e", "a"])
    expected = [-math.log(1 + math.exp(-(5 - r_ref))), -math.log(1 + math.exp(-(1 - r_ref)))]
    np.testing.assert_allclose(out, expected)


def test_log_sigmoid_centered_single_reference_and_median() -> None:
    single = LogSigmoidCentered(LengthReward(), REFS)
    # one reference response: r_ref = its reward, 2
    np.testing.assert_allclose(single.score(["q"], ["x y z"]), [-math.log(1 + math.exp(-1))])
    median = LogSigmoidCentered(LengthReward(), REFS, quantile=0.5)
    np.testing.assert_allclose(median.reference_rewards(["p"]), [2.5])


def test_reference_rewards_are_scored_once() -> None:
    counting = CountingLength()
    model = LogSigmoidCentered(counting, REFS)
    model.score(["p", "q", "p"], ["a", "b", "c"])
    assert counting.calls == 3 + 4 + 1  # three responses, four refs for p, one for q
    model.score(["p", "q"], ["a", "b"])
    assert counting.calls == 3 + 4 + 1 + 2


def test_log_sigmoid_centered_missing_reference() -> None:
    model = LogSigmoidCentered(LengthReward(), REFS)
    with pytest.raises(ValueError, match="references: no reference responses for prompt 'zzz'"):
        model.score(["zzz"], ["a"])
    with pytest.raises(ValueError, match="empty"):
        LogSigmoidCentered(LengthReward(), {"p": []}).score(["p"], ["a"])
    with pytest.raises(ValueError, match="quantile"):
        LogSigmoidCentered(LengthReward(), REFS, quantile=1.5)


def test_z_normalized_by_hand() -> None:
    model = ZNormalized(LengthReward(), ["p"] * 3, ["a", "a b", "a b c"])
    # reference rewards 1, 2, 3: mean 2, population std sqrt(2/3)
    np.testing.assert_allclose(model.reference_stats(), (2.0, math.sqrt(2 / 3)))
    np.testing.assert_allclose(model.score(["p"], ["a b c d"]), [(4 - 2) / math.sqrt(2 / 3)])


def test_z_normalized_bad_reference() -> None:
    with pytest.raises(ValueError, match="standard deviation is 0"):
        ZNormalized(LengthReward(), ["p", "p"], ["a", "b"]).score(["p"], ["a"])
    with pytest.raises(ValueError, match="empty"):
        ZNormalized(LengthReward(), [], [])


def test_clipped() -> None:
    model = Clipped(LengthReward(), lo=2.0, hi=6.0)
    responses = ["a", " ".join("x" * 5), " ".join("x" * 10)]
    np.testing.assert_array_equal(model.score(["p"] * 3, responses), [2.0, 5.0, 6.0])
    with pytest.raises(ValueError, match="lo must be < hi"):
        Clipped(LengthReward(), lo=3.0, hi=3.0)


def test_clip_step_rewards() -> None:
    # min(r - eta, 0) with eta = 0.4
    expected = [min(0.9 - 0.4, 0), min(0.2 - 0.4, 0), min(0.5 - 0.4, 0)]
    np.testing.assert_allclose(clip_step_rewards([0.9, 0.2, 0.5], eta=0.4), expected)


def test_delta_step_rewards_drop_last() -> None:
    r = [0.7, 0.2, 0.4, 0.8]
    # last step dropped; step K-1 keeps its own reward
    expected = [0.7 - 0.2, 0.2 - 0.4, 0.4, 0.0]
    out = delta_step_rewards(r)
    np.testing.assert_allclose(out, expected)
    # the return from step t telescopes to r_t for every kept step
    np.testing.assert_allclose(np.cumsum(out[::-1])[::-1][:3], r[:3])


def test_delta_step_rewards_keep_last() -> None:
    r = [0.7, 0.2, 0.4, 0.8]
    expected = [0.7 - 0.2, 0.2 - 0.4, 0.4 - 0.8, 0.8]
    np.testing.assert_allclose(delta_step_rewards(r, drop_last=False), expected)
    np.testing.assert_allclose(delta_step_rewards([0.3], drop_last=False), [0.3])
    np.testing.assert_allclose(delta_step_rewards([0.3]), [0.0])


def test_step_rewards_bad_input() -> None:
    with pytest.raises(ValueError, match="step_rewards"):
        clip_step_rewards([], eta=0.1)
    with pytest.raises(ValueError, match="step_rewards"):
        delta_step_rewards([[0.1, 0.2]])
