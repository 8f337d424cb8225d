"""Query selection: the ensemble's disagreement Var_k σ(ΔR_k) by hand, and the strategies."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rewardlab.data.trajectory import Trajectory
from rewardlab.lab.agent.queries import (
    QUERY_STRATEGIES,
    pair_disagreement,
    preference_disagreement,
)


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def test_disagreement_is_the_variance_of_member_preference_probabilities():
    gaps = np.array([[0.0, 2.0], [0.0, -2.0], [0.0, 0.0]])  # K = 3 members, 2 pairs
    p = [sigmoid(2.0), sigmoid(-2.0), 0.5]
    mean = sum(p) / 3
    expected = sum((v - mean) ** 2 for v in p) / 3  # population variance
    np.testing.assert_allclose(preference_disagreement(gaps), [0.0, expected])
    with pytest.raises(ValueError, match=r"must be \(K, n\)"):
        preference_disagreement(np.zeros(3))


class Members:
    """Member k scores a trajectory as (k + 1) × its first observation (so members
    disagree in proportion to how different the two segments are)."""

    def score_members(self, prompts, responses):
        first = np.array([float(r.observations[0, 0]) for r in responses])
        return np.stack([(k + 1) * first for k in range(3)])


def step(value: float) -> Trajectory:
    return Trajectory(np.array([[value]], np.float32), np.array([0]))


def test_strategies_pick_random_or_most_disputed_pairs():
    candidates = [(step(0.0), step(0.1)), (step(0.0), step(1.0)), (step(0.0), step(0.0)),
                  (step(2.0), step(0.5))]
    scores = pair_disagreement(Members(), "env", candidates)
    gaps = np.array([[-(k + 1) * 0.1, -(k + 1) * 1.0, 0.0, (k + 1) * 1.5] for k in range(3)])
    np.testing.assert_allclose(scores, preference_disagreement(gaps))
    rng = np.random.default_rng(0)
    disagreement = QUERY_STRATEGIES.get("disagreement")
    assert disagreement.oversample
    assert disagreement.select(candidates, 2, Members(), "env", rng) == [1, 3]
    # before any reward model exists, disagreement queries are random ones
    assert disagreement.select(candidates, 2, None, "env", rng) == [0, 1]
    random = QUERY_STRATEGIES.get("random")
    assert not random.oversample
    assert random.select(candidates, 3, Members(), "env", rng) == [0, 1, 2]
