"""Reward-guided step search: beam search over reasoning steps scored by a process reward.

As in MedS³ (Jiang et al. 2025, "MedS³: Towards Medical Small Language Models
with Self-Evolved Slow Thinking") and PRM-guided beam search generally
(Snell et al. 2024, "Scaling LLM Test-Time Compute Optimally…"), a solution
is built one step at a time:

    beams ← {∅}
    repeat up to max_steps times:
        candidates ← finished beams ∪ {b + s : b active, s ∈ propose(x, b, expansions)}
        beams ← the beam_width candidates of highest value v(x, steps)
        stop when every beam is finished

A beam is finished when the generator proposes the empty step (end of turn)
or ``stop(steps)`` is true. Its value v comes from a process reward model —
anything with ``score_steps(prompts, steps_list)`` (e.g.
:class:`~rewardlab.models.lm.derived.ImplicitProcessReward`), whose step
rewards are reduced by ``reduce``, a step reduction of
:data:`rewardlab.protocols.STEP_REDUCTIONS` (default ``last``, Snell et al.'s
PRM beam-search value) — or from any ``RewardModel`` scoring the partial solution (steps joined by
``separator``). Ties keep the earlier candidate; identical step lists are
merged. The answer is the best finished beam, or the best beam when none
finished.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rewardlab.optimize.generate import StepGenerator
from rewardlab.protocols import SEARCH_REDUCTION, STEP_REDUCTIONS, reduce_steps


@dataclass
class GuidedConfig:
    """Beam search settings.

    Attributes:
        beam_width: beams kept after each step.
        expansions: next steps proposed per active beam.
        max_steps: most steps in a solution.
        reduce: the step reduction giving a partial solution's value.
        separator: joins steps for a ``RewardModel`` without ``score_steps``.
    """

    beam_width: int = 4
    expansions: int = 4
    max_steps: int = 8
    reduce: str = SEARCH_REDUCTION
    separator: str = "\n"

    def __post_init__(self) -> None:
        for name in ("beam_width", "expansions", "max_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"field {name!r}: must be >= 1, got {getattr(self, name)}")
        check_reduction(self.reduce)


def check_reduction(name: str) -> None:
    """``ValueError`` naming the field ``reduce`` unless ``name`` is a step reduction."""
    if name not in STEP_REDUCTIONS:
        raise ValueError(
            f"field 'reduce': expected one of {STEP_REDUCTIONS.names()}, got {name!r}"
        )


@dataclass
class Beam:
    """A partial (or finished) solution and its value."""

    steps: tuple[str, ...]
    value: float = float("-inf")
    finished: bool = False


@dataclass
class SearchResult:
    """The chosen solution, the final beams and how many steps were proposed."""

    best: Beam
    beams: list[Beam]
    proposed: int
    history: list[list[Beam]] = field(default_factory=list)


def partial_values(
    reward: Any, prompt: str, steps_list: Sequence[Sequence[str]], reduce: str, separator: str
) -> np.ndarray:
    """Value of each partial solution: reduced ``score_steps`` or ``score`` of the joined steps."""
    if not steps_list:
        return np.zeros(0)
    prompts = [prompt] * len(steps_list)
    if hasattr(reward, "score_steps"):
        per_step = reward.score_steps(prompts, [list(s) for s in steps_list])
        return np.array([reduce_steps(r, reduce) for r in per_step])
    joined = [separator.join(s) for s in steps_list]
    return np.asarray(reward.score(prompts, joined), dtype=np.float64)


def step_beam_search(
    generator: StepGenerator,
    reward: Any,
    prompt: str,
    config: GuidedConfig | None = None,
    stop: Callable[[Sequence[str]], bool] | None = None,
    progress: Callable[[int, list[Beam]], None] | None = None,
) -> SearchResult:
    """Beam search over steps; ``progress(step, beams)`` is called after each step."""
    config = config or GuidedConfig()
    beams = [Beam(steps=(), value=0.0)]
    history: list[list[Beam]] = []
    proposed = 0
    for depth in range(config.max_steps):
        candidates: dict[tuple[str, ...], Beam] = {}
        for beam in beams:
            if beam.finished:
                candidates.setdefault(beam.steps, beam)
                continue
            proposals = generator.propose(prompt, list(beam.steps), config.expansions)
            proposed += len(proposals)
            for step in proposals:
                if step == "":
                    new = Beam(beam.steps, beam.value, finished=True)
                else:
                    steps = (*beam.steps, step)
                    new = Beam(steps, finished=bool(stop is not None and stop(steps)))
                if new.steps not in candidates or (
                    new.finished and not candidates[new.steps].finished
                ):
                    candidates[new.steps] = new
        fresh = [b for b in candidates.values() if b.value == float("-inf") and b.steps]
        values = partial_values(
            reward, prompt, [b.steps for b in fresh], config.reduce, config.separator
        )
        for beam, value in zip(fresh, values, strict=True):
            beam.value = float(value)
        ranked = sorted(
            (b for b in candidates.values() if b.steps),
            key=lambda b: b.value,
            reverse=True,
        )
        if not ranked:
            break
        beams = ranked[: config.beam_width]
        history.append(list(beams))
        if progress is not None:
            progress(depth + 1, beams)
        if all(b.finished for b in beams):
            break
    finished = [b for b in beams if b.finished]
    best = max(finished or beams, key=lambda b: b.value)
    return SearchResult(best=best, beams=beams, proposed=proposed, history=history)
