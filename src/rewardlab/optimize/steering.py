"""Feynman-Kac steering: particles advanced step by step and resampled by reward potentials.

Singhal et al. 2025, "A General Framework for Inference-time Scaling and
Steering of Diffusion Models" (FK steering). k particles are advanced one
step at a time by a step-wise generator; after each step t every particle i
has an intermediate reward r_t^i of its partial solution and a potential

    max:        φ_t^i = max_{s ≤ t} r_s^i
    sum:        φ_t^i = Σ_{s ≤ t} r_s^i
    difference: φ_t^i = r_t^i − r_{t−1}^i   (r_0 = 0)

and the particles are resampled (multinomially, with replacement) with
probabilities w_i = softmax(λ · φ_t)_i, i.e. G_t = exp(λ φ_t) normalized.
With the difference potential the product of the G's telescopes to
exp(λ r_T), so the particles target p(y|x) · exp(λ r(x, y)); max and sum are
the paper's heuristic alternatives that favour particles whose reward was
high at any or every step. λ → 0 recovers independent sampling; large λ
approaches greedy selection. A resampled particle takes its parent's steps,
rewards and potential history. A particle whose generator proposes the empty
step is finished and keeps its steps; with the difference potential its φ is
0 from then on. The result is the particle with the highest final reward.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rewardlab.optimize.generate import StepGenerator
from rewardlab.optimize.guided import STEP_AGGREGATES, partial_values

POTENTIALS = ("max", "sum", "difference")


@dataclass
class SteeringConfig:
    """FK steering settings.

    Attributes:
        n_particles: k, the particles advanced together.
        max_steps: most steps per particle.
        potential: ``max``, ``sum`` or ``difference``.
        lam: λ, the inverse temperature of the resampling weights.
        resample_every: resample after every this many steps.
        aggregate: how a process reward's step rewards give r_t (see guided search).
        separator: joins steps for a ``RewardModel`` without ``score_steps``.
        seed: seed of the resampling draws.
    """

    n_particles: int = 4
    max_steps: int = 8
    potential: str = "max"
    lam: float = 10.0
    resample_every: int = 1
    aggregate: str = "last"
    separator: str = "\n"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.potential not in POTENTIALS:
            raise ValueError(
                f"field 'potential': expected one of {POTENTIALS}, got {self.potential!r}"
            )
        if self.aggregate not in STEP_AGGREGATES:
            raise ValueError(f"field 'aggregate': expected one of {sorted(STEP_AGGREGATES)}")
        for name in ("n_particles", "max_steps", "resample_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"field {name!r}: must be >= 1, got {getattr(self, name)}")
        if self.lam < 0:
            raise ValueError(f"field 'lam': must be >= 0, got {self.lam}")


def potentials(rewards: np.ndarray, kind: str) -> np.ndarray:
    """φ_t per particle from the reward history, shape (k, t) → (k,)."""
    rewards = np.asarray(rewards, dtype=np.float64)
    if kind == "max":
        return rewards.max(axis=1)
    if kind == "sum":
        return rewards.sum(axis=1)
    if kind == "difference":
        previous = rewards[:, -2] if rewards.shape[1] > 1 else np.zeros(len(rewards))
        return rewards[:, -1] - previous
    raise ValueError(f"unknown potential {kind!r}; expected one of {POTENTIALS}")


def resampling_weights(rewards: np.ndarray, kind: str, lam: float) -> np.ndarray:
    """w = softmax(λ · φ_t), computed stably."""
    scaled = lam * potentials(rewards, kind)
    scaled = scaled - scaled.max()
    weights = np.exp(scaled)
    return weights / weights.sum()


@dataclass
class Particle:
    """Steps so far, the reward after each step, and whether it has finished."""

    steps: tuple[str, ...] = ()
    rewards: tuple[float, ...] = ()
    finished: bool = False


@dataclass
class SteeringResult:
    """The best particle, all final particles, and the ancestor index of every resampling."""

    best: Particle
    particles: list[Particle]
    ancestors: list[np.ndarray] = field(default_factory=list)


def fk_steer(
    generator: StepGenerator,
    reward: Any,
    prompt: str,
    config: SteeringConfig | None = None,
    progress: Callable[[int, list[Particle]], None] | None = None,
) -> SteeringResult:
    """Run FK steering for one prompt; ``progress(step, particles)`` after each step."""
    config = config or SteeringConfig()
    rng = np.random.default_rng(config.seed)
    particles = [Particle() for _ in range(config.n_particles)]
    ancestors: list[np.ndarray] = []
    for step in range(1, config.max_steps + 1):
        grown = []
        for particle in particles:
            if particle.finished:
                grown.append(particle)
                continue
            (proposal,) = generator.propose(prompt, list(particle.steps), 1)
            if proposal == "":
                grown.append(Particle(particle.steps, particle.rewards, finished=True))
            else:
                grown.append(Particle((*particle.steps, proposal), particle.rewards))
        moved = [i for i, p in enumerate(grown) if not p.finished]
        values = partial_values(
            reward, prompt, [grown[i].steps for i in moved], config.aggregate, config.separator
        )
        new_rewards = {i: float(v) for i, v in zip(moved, values, strict=True)}
        for i, particle in enumerate(grown):
            last = particle.rewards[-1] if particle.rewards else 0.0
            particle.rewards = (*particle.rewards, new_rewards.get(i, last))
        particles = grown
        if progress is not None:
            progress(step, particles)
        if all(p.finished for p in particles):
            break
        if step % config.resample_every == 0:
            history = np.array([p.rewards for p in particles])
            weights = resampling_weights(history, config.potential, config.lam)
            index = rng.choice(len(particles), size=len(particles), replace=True, p=weights)
            ancestors.append(index)
            particles = [
                Particle(particles[j].steps, particles[j].rewards, particles[j].finished)
                for j in index
            ]
    best = max(particles, key=lambda p: p.rewards[-1] if p.rewards else float("-inf"))
    return SteeringResult(best=best, particles=particles, ancestors=ancestors)
