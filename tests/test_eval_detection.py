"""Detection AUROC (Mann-Whitney, ties ½)."""

from __future__ import annotations

import pytest

from rewardlab.evaluate.detection import auroc, detection_auroc
from rewardlab.models.baselines import LengthReward


def test_auroc_by_hand():
    # pairs: 3>2, 3>1, 2=2 (½), 2>1, 2=2 (½), 2>1 → 5 of 6
    assert auroc([3, 2, 2], [2, 1]) == pytest.approx(5 / 6)
    assert auroc([1], [1]) == 0.5
    assert auroc([0, 0], [1, 2]) == 0.0


def test_detection_with_length_reward():
    res = detection_auroc(LengthReward(), ["p", "p"], ["a b c", "a b"], ["p"], ["a"])
    assert res["auroc"] == 1.0
    assert res["mean_positive"] == 2.5


def test_empty_population_is_an_error():
    with pytest.raises(ValueError, match="negative"):
        auroc([1.0], [])
