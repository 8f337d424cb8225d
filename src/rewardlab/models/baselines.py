"""Reward models that need no training: reference points for every metric.

``LengthReward`` is the length-only baseline (Singhal et al., "A Long Way to
Go: Investigating Length Correlations in RLHF", 2023): reward = number of
whitespace-separated tokens of the response. A learned model that does not
beat it on a suite has learned nothing beyond length.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rewardlab.features.base import response_lengths
from rewardlab.protocols import check_lengths


class LengthReward:
    """r(x, y) = |y| in whitespace tokens (``sign=-1`` prefers shorter)."""

    def __init__(self, sign: float = 1.0) -> None:
        self.sign = sign

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        check_lengths(prompts, responses)
        return self.sign * response_lengths(responses)
