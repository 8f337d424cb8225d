"""Reward models that need no training: reference points for every metric.

``LengthReward`` is the length-only baseline (Singhal et al., "A Long Way to
Go: Investigating Length Correlations in RLHF", 2023): reward = the length of
the response, its modality's first trivial statistic (whitespace tokens for
text, pixels for images; :mod:`rewardlab.data.modality`). ``StatisticReward``
is the same baseline for any named statistic (an image's ``brightness`` or
``contrast``). A learned model that does not beat them on a suite has learned
nothing beyond size.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rewardlab.data.modality import response_statistics
from rewardlab.features.base import response_lengths
from rewardlab.protocols import Response, check_lengths


class LengthReward:
    """r(x, y) = |y|, the modality's first statistic (``sign=-1`` prefers shorter)."""

    def __init__(self, sign: float = 1.0) -> None:
        self.sign = sign

    def score(self, prompts: Sequence[str], responses: Sequence[Response]) -> np.ndarray:
        check_lengths(prompts, responses)
        return self.sign * response_lengths(responses)


class StatisticReward:
    """r(x, y) = the trivial statistic ``name`` of y (e.g. ``brightness`` of an image)."""

    def __init__(self, name: str, sign: float = 1.0) -> None:
        self.name = name
        self.sign = sign

    def score(self, prompts: Sequence[str], responses: Sequence[Response]) -> np.ndarray:
        check_lengths(prompts, responses)
        statistics = response_statistics(responses)
        if self.name not in statistics:
            raise ValueError(
                f"statistic {self.name!r} is not one of these responses' statistics "
                f"({', '.join(statistics)})"
            )
        return self.sign * statistics[self.name]
