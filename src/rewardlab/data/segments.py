"""Segments of episodes, pairs of them, and a synthetic labeller of their preferences.

**Segments** (Christiano et al., 2017, "Deep reinforcement learning from human
preferences"): clips of ``length`` steps cut from recorded episodes. A segment
of an episode that terminated may start at any step, and one that starts
within ``length`` steps of the end is shorter and ends in the terminal
state; an episode cut by a time limit gives only full-length segments (what
would have followed the limit is unknown), or itself when it is shorter than
``length``. A pair is two segments drawn independently, episode uniformly,
start uniformly among the allowed ones.

**The synthetic oracle** labels a pair from the environment's true rewards
as a Boltzmann-rational labeller with temperature τ that answers at random
with probability ε (B-Pref's "SimTeacher", Lee et al., 2021; ε as in
Christiano et al.'s 10 % random labels):

    P(σ¹ ≻ σ²) = ε/2 + (1 − ε)·σ((R(σ¹) − R(σ²))/τ),   R(σ) = Σ_t r_t,

and draws the label from it. τ = 0 is the perfectly rational limit: the
segment with the larger return wins, equal returns are a tie (both "equally
preferable"), and ε still randomizes a share of labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from rewardlab.data.record import Comparison
from rewardlab.data.trajectory import Trajectory


def segment_starts(trajectory: Trajectory, length: int) -> np.ndarray:
    """The allowed start steps of a ``length``-step segment of ``trajectory``."""
    if length < 1:
        raise ValueError(f"segment length must be at least 1, got {length}")
    steps = len(trajectory)
    if trajectory.terminated:
        return np.arange(steps)
    return np.arange(max(steps - length, 0) + 1)


def sample_segment(trajectory: Trajectory, length: int, rng: np.random.Generator) -> Trajectory:
    """One segment of ``trajectory`` (see the module doc for the allowed starts)."""
    start = int(rng.choice(segment_starts(trajectory, length)))
    return trajectory.segment(start, min(start + length, len(trajectory)))


def sample_segment_pairs(
    trajectories: Sequence[Trajectory], n: int, length: int, rng: np.random.Generator
) -> list[tuple[Trajectory, Trajectory]]:
    """``n`` pairs of segments, each segment from a uniformly drawn trajectory."""
    if not trajectories:
        raise ValueError("no trajectories to cut segments from")
    picks = rng.integers(0, len(trajectories), size=(n, 2))
    return [(sample_segment(trajectories[a], length, rng),
             sample_segment(trajectories[b], length, rng)) for a, b in picks]


@dataclass(frozen=True)
class BoltzmannOracle:
    """A synthetic labeller of segment pairs from their true returns.

    ``temperature`` τ ≥ 0 (0: the larger return wins, equal returns tie) and
    ``noise`` ε ∈ [0, 1] (the share of uniformly random answers)."""

    temperature: float = 0.0
    noise: float = 0.0

    def __post_init__(self) -> None:
        if not (np.isfinite(self.temperature) and self.temperature >= 0):
            raise ValueError(f"oracle temperature must be >= 0, got {self.temperature}")
        if not 0.0 <= self.noise <= 1.0:
            raise ValueError(f"oracle noise must be in [0, 1], got {self.noise}")

    def probabilities(self, first_returns: np.ndarray, second_returns: np.ndarray) -> np.ndarray:
        """P(first ≻ second) = ε/2 + (1 − ε)·σ(ΔR/τ); at τ = 0, σ(ΔR/τ) is 1, 0 or ½."""
        delta = np.asarray(first_returns, np.float64) - np.asarray(second_returns, np.float64)
        if self.temperature == 0:
            rational = np.where(delta > 0, 1.0, np.where(delta < 0, 0.0, 0.5))
        else:
            rational = expit(delta / self.temperature)
        return self.noise / 2 + (1 - self.noise) * rational

    def labels(
        self, first_returns: np.ndarray, second_returns: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        """One label per pair: 1 (first preferred), 0 (second) or 0.5 (a tie: τ = 0,
        equal returns, and the labeller did not answer at random)."""
        first_returns = np.asarray(first_returns, np.float64)
        second_returns = np.asarray(second_returns, np.float64)
        n = len(first_returns)
        random_answer = rng.random(n) < self.noise
        coin = (rng.random(n) < 0.5).astype(np.float64)
        if self.temperature == 0:
            delta = first_returns - second_returns
            rational = np.where(delta > 0, 1.0, np.where(delta < 0, 0.0, 0.5))
        else:
            p = expit((first_returns - second_returns) / self.temperature)
            rational = (rng.random(n) < p).astype(np.float64)
        return np.where(random_answer, coin, rational)

    def label_pairs(
        self, pairs: Sequence[tuple[Trajectory, Trajectory]], prompt: str,
        rng: np.random.Generator,
    ) -> list[Comparison]:
        """The pairs as labelled :class:`Comparison` records (the segments need rewards)."""
        first = np.array([a.true_return() for a, _ in pairs])
        second = np.array([b.true_return() for _, b in pairs])
        return [labelled_pair(prompt, a, b, label)
                for (a, b), label in zip(pairs, self.labels(first, second, rng), strict=True)]


def labelled_pair(prompt: str, first: Trajectory, second: Trajectory, label: float) -> Comparison:
    """A Comparison of two segments from a label P(first ≻ second) ∈ {1, 0, 0.5}."""
    if label not in (0.0, 0.5, 1.0):
        raise ValueError(f"a pair label is 1, 0 or 0.5, got {label}")
    ranking = (1, 0) if label == 0.0 else (0, 1)
    return Comparison(prompt, (first, second), ranking, tie=label == 0.5)
