"""Feynman-Kac steering: particles advanced step by step and resampled by reward potentials.

Singhal et al. 2025, "A General Framework for Inference-time Scaling and
Steering of Diffusion Models" (FK steering). k particles are advanced one
step at a time by a step-wise generator, each particle drawing its own next
step independently: the m unfinished particles that share a prefix (all k at
the first step, the copies of one parent after a resampling) get the m draws
of one ``propose(prompt, prefix, m)`` call, since a seeded generator such as
:class:`~rewardlab.optimize.generate.TransformersGenerator` answers the same
prefix with the same draws. After each step t every particle i has an
intermediate reward r_t^i of its partial solution. Every
``resample_every`` steps the particles are resampled (multinomially, with
replacement) with probabilities w_i = softmax(λ · φ_t)_i, i.e. by the
potential G_t = exp(λ φ_t) normalized, where, with s the step of the
previous resampling (s = 0 and r_0 = 0 before the first):

    max:        φ_t^i = max_{u ≤ t} r_u^i
    sum:        φ_t^i = Σ_{u ≤ t} r_u^i
    difference: φ_t^i = r_t^i − r_s^i

The difference potential is the product of the one-step potentials
exp(λ(r_u − r_{u−1})) over the steps u = s+1 … t since the last resampling,
so along any lineage the G's telescope to exp(λ r_t). max and sum are the
paper's heuristic alternatives that favour particles whose reward was high at
any or every step; they are applied at the resampling steps only. A resampled
particle takes its parent's steps, rewards and log ∏G of its ancestry.

After the last step the particles are weighted by the final importance
correction (the paper's last potential)

    W^i ∝ exp(λ r_T^i) / ∏_{resamplings} G^i,

so that the weighted particles target p(y|x) · exp(λ r(x, y)) for every
potential and every ``resample_every`` (Del Moral, "Feynman-Kac Formulae",
2004; the G's only steer the particles on the way). With the difference
potential W^i ∝ exp(λ(r_T^i − r_s^i)), uniform when no reward changed after
the last resampling. λ → 0 recovers independent sampling; large λ approaches
greedy selection. A particle whose generator proposes the empty step is
finished: it keeps its steps and its last reward. The result also names the
particle with the highest final reward.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from rewardlab.optimize.generate import StepGenerator
from rewardlab.optimize.guided import check_reduction, partial_values
from rewardlab.protocols import SEARCH_REDUCTION

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
        reduce: the step reduction giving r_t from a process reward's step rewards.
        separator: joins steps for a ``RewardModel`` without ``score_steps``.
        seed: seed of the resampling draws (the proposals come from the generator's own seed).
    """

    n_particles: int = 4
    max_steps: int = 8
    potential: str = "max"
    lam: float = 10.0
    resample_every: int = 1
    reduce: str = SEARCH_REDUCTION
    separator: str = "\n"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.potential not in POTENTIALS:
            raise ValueError(
                f"field 'potential': expected one of {POTENTIALS}, got {self.potential!r}"
            )
        check_reduction(self.reduce)
        for name in ("n_particles", "max_steps", "resample_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"field {name!r}: must be >= 1, got {getattr(self, name)}")
        if self.lam < 0:
            raise ValueError(f"field 'lam': must be >= 0, got {self.lam}")


def potentials(rewards: np.ndarray, kind: str, *, last_resampled: int = 0) -> np.ndarray:
    """φ_t per particle from the reward history r_1 … r_t, shape (k, t) → (k,).

    ``last_resampled`` is the step s of the previous resampling (0, the default: none yet,
    r_0 = 0); only the difference potential r_t − r_s depends on it.
    """
    rewards = np.asarray(rewards, dtype=np.float64)
    if not 0 <= last_resampled < rewards.shape[1]:
        raise ValueError(
            f"field 'last_resampled': need 0 <= s < t = {rewards.shape[1]}, got {last_resampled}"
        )
    if kind == "max":
        return rewards.max(axis=1)
    if kind == "sum":
        return rewards.sum(axis=1)
    if kind == "difference":
        previous = rewards[:, last_resampled - 1] if last_resampled else np.zeros(len(rewards))
        return rewards[:, -1] - previous
    raise ValueError(f"unknown potential {kind!r}; expected one of {POTENTIALS}")


def _softmax(scaled: np.ndarray) -> np.ndarray:
    weights = np.exp(scaled - scaled.max())
    return weights / weights.sum()


def resampling_weights(
    rewards: np.ndarray, kind: str, lam: float, *, last_resampled: int = 0
) -> np.ndarray:
    """w = softmax(λ · φ_t), computed stably (see :func:`potentials`)."""
    return _softmax(lam * potentials(rewards, kind, last_resampled=last_resampled))


def final_weights(final_rewards: np.ndarray, log_potential: np.ndarray, lam: float) -> np.ndarray:
    """W ∝ exp(λ r_T − log ∏G), the importance correction of the final particles."""
    final_rewards = np.asarray(final_rewards, dtype=np.float64)
    return _softmax(lam * final_rewards - np.asarray(log_potential, dtype=np.float64))


@dataclass
class Particle:
    """Steps so far, the reward after each step, whether it has finished, and
    ``log_potential``: log ∏G of the resamplings along its ancestry."""

    steps: tuple[str, ...] = ()
    rewards: tuple[float, ...] = ()
    finished: bool = False
    log_potential: float = 0.0


@dataclass
class SteeringResult:
    """The best particle, all final particles with their importance ``weights``
    (they sum to 1; the weighted particles target p · exp(λ r)), and the
    ancestor index of every resampling."""

    best: Particle
    particles: list[Particle]
    weights: np.ndarray
    ancestors: list[np.ndarray] = field(default_factory=list)


def _propose_each(
    generator: StepGenerator, prompt: str, particles: list[Particle]
) -> dict[int, str]:
    """One independent next step per unfinished particle: the m particles sharing a
    prefix get the m draws of one ``propose(prompt, prefix, m)`` call."""
    groups: dict[tuple[str, ...], list[int]] = {}
    for i, particle in enumerate(particles):
        if not particle.finished:
            groups.setdefault(particle.steps, []).append(i)
    proposals: dict[int, str] = {}
    for steps, members in groups.items():
        drawn = generator.propose(prompt, list(steps), len(members))
        if len(drawn) != len(members):
            raise ValueError(
                f"generator.propose returned {len(drawn)} steps for k = {len(members)}"
            )
        proposals.update(zip(members, drawn, strict=True))
    return proposals


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
    last_resampled = 0
    for step in range(1, config.max_steps + 1):
        proposals = _propose_each(generator, prompt, particles)
        grown = []
        for i, particle in enumerate(particles):
            if particle.finished:
                grown.append(particle)
            elif proposals[i] == "":
                grown.append(replace(particle, finished=True))
            else:
                grown.append(replace(particle, steps=(*particle.steps, proposals[i])))
        moved = [i for i, p in enumerate(grown) if not p.finished]
        values = partial_values(
            reward, prompt, [grown[i].steps for i in moved], config.reduce, config.separator
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
            log_g = config.lam * potentials(
                history, config.potential, last_resampled=last_resampled
            )
            weights = _softmax(log_g)
            index = rng.choice(len(particles), size=len(particles), replace=True, p=weights)
            ancestors.append(index)
            particles = [
                replace(particles[j], log_potential=particles[j].log_potential + log_g[j])
                for j in index
            ]
            last_resampled = step
    final = np.array([p.rewards[-1] for p in particles])
    weights = final_weights(final, np.array([p.log_potential for p in particles]), config.lam)
    best = particles[int(np.argmax(final))]
    return SteeringResult(best=best, particles=particles, weights=weights, ancestors=ancestors)
