"""Segments cut from episodes and the synthetic Boltzmann labeller, by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rewardlab.data.segments import (
    BoltzmannOracle,
    labelled_pair,
    sample_segment_pairs,
    segment_starts,
)
from rewardlab.data.trajectory import Trajectory


def episode(steps: int, terminated: bool, reward: float = 1.0) -> Trajectory:
    dones = np.zeros(steps, dtype=bool)
    dones[-1] = terminated
    return Trajectory(np.arange(steps, dtype=np.float32)[:, None], np.zeros(steps, np.int64),
                      np.full(steps, reward), dones)


def test_segment_starts_follow_the_end_of_the_episode():
    # a terminated episode: any start (the last segments are shorter and end in the fall)
    np.testing.assert_array_equal(segment_starts(episode(6, True), 4), np.arange(6))
    # a truncated one: full-length segments only; a short one is itself
    np.testing.assert_array_equal(segment_starts(episode(6, False), 4), [0, 1, 2])
    np.testing.assert_array_equal(segment_starts(episode(3, False), 4), [0])
    pairs = sample_segment_pairs([episode(6, False)], 50, 4, np.random.default_rng(0))
    assert {len(s) for pair in pairs for s in pair} == {4}
    pairs = sample_segment_pairs([episode(6, True)], 200, 4, np.random.default_rng(0))
    lengths = {len(s) for pair in pairs for s in pair}
    assert lengths == {1, 2, 3, 4}
    assert all(s.terminated == (len(s) < 4 or s.observations[-1, 0] == 5)
               for pair in pairs for s in pair)


def test_boltzmann_probabilities_by_hand():
    oracle = BoltzmannOracle(temperature=2.0, noise=0.2)
    p = oracle.probabilities(np.array([3.0, 1.0]), np.array([2.0, 1.0]))
    expected = 0.1 + 0.8 / (1 + math.exp(-0.5))
    np.testing.assert_allclose(p, [expected, 0.5])
    rational = BoltzmannOracle(temperature=0.0, noise=0.0)
    np.testing.assert_array_equal(rational.probabilities([1.0, 0.0, 2.0], [0.0, 1.0, 2.0]),
                                  [1.0, 0.0, 0.5])
    with pytest.raises(ValueError, match="temperature must be >= 0"):
        BoltzmannOracle(temperature=-1.0)
    with pytest.raises(ValueError, match=r"noise must be in \[0, 1\]"):
        BoltzmannOracle(noise=1.5)


def test_labels_are_drawn_with_those_probabilities():
    rng = np.random.default_rng(0)
    n = 20_000
    oracle = BoltzmannOracle(temperature=2.0, noise=0.2)
    labels = oracle.labels(np.full(n, 3.0), np.full(n, 2.0), rng)
    p = oracle.probabilities(np.array([3.0]), np.array([2.0]))[0]
    assert set(np.unique(labels)) == {0.0, 1.0}
    assert abs(labels.mean() - p) < 4 * math.sqrt(p * (1 - p) / n)
    # rational labeller: ties exactly when returns are equal; noise answers at random
    exact = BoltzmannOracle().labels(np.array([1.0, 0.0, 2.0]), np.array([0.0, 1.0, 2.0]), rng)
    np.testing.assert_array_equal(exact, [1.0, 0.0, 0.5])
    noisy = BoltzmannOracle(noise=0.5).labels(np.ones(n), np.zeros(n), rng)
    assert abs(noisy.mean() - 0.75) < 0.02  # half random (mean ½), half right (1)


def test_label_pairs_makes_comparisons_from_true_returns():
    a, b = episode(3, False, reward=2.0), episode(3, False, reward=1.0)
    records = BoltzmannOracle().label_pairs([(a, b), (b, a), (a, a)], "env",
                                            np.random.default_rng(0))
    assert [(r.ranking, r.tie) for r in records] == [((0, 1), False), ((1, 0), False),
                                                   ((0, 1), True)]
    assert records[1].chosen is a
    with pytest.raises(ValueError, match="a pair label is 1, 0 or 0.5"):
        labelled_pair("env", a, b, 0.3)
