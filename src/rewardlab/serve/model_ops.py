"""What a served model can do, and the batch functions the server runs on it.

The server takes any object: it scores when it has ``score`` (a
``RewardModel``), reports spread when it has ``score_with_uncertainty``,
compares when it has ``prob`` (a ``PreferenceModel``) and returns per-step
rewards when it has ``score_steps(prompts, steps_list) -> list[np.ndarray]``
(a process reward model, Lightman et al., "Let's Verify Step by Step", 2023).
A PRM without ``score`` gets the outcome reward of its weakest step,
``r = min_t r_t`` (the min aggregation of Math-Shepherd, Wang et al., 2024).
A response sent without explicit steps is cut into steps by the model's own
``split_steps`` (a :class:`~rewardlab.protocols.StepRewardModel`), else by
:func:`rewardlab.protocols.split_steps` (non-blank lines; an empty response is
one empty step).

A reward that judges responses against per-sample references (a verifier, a
recipe: :class:`~rewardlab.protocols.ReferenceRewardModel`) or that reports
named parts (:class:`~rewardlab.protocols.ComponentRewardModel`) is scored
through :func:`rewardlab.protocols.score_components`, with the references as
a third column; each item's output is ``(total, {component: value})``. A
model with ``batch_dependent`` true (its values depend on the samples scored
with it) is scored one request per call.

A scalar reward model compares two responses by the Bradley-Terry rule
(Bradley & Terry, Biometrika 1952; the model under reward-model training,
Ouyang et al. 2022): P(a ≻ b | x) = σ(r(x, a) − r(x, b)) with
σ(z) = 1 / (1 + e^{−z}); a ``PreferenceModel`` answers with its own ``prob``.

Every batch function checks the model's output shape and refuses non-finite
values (:class:`ModelOutputError`), so a broken model fails its batch with a
clear error instead of sending invalid JSON.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rewardlab.protocols import (
    ComponentRewardModel,
    ReferenceRewardModel,
    score_components,
    split_steps,
)

COMPARE_RULES = ("preference_model", "bradley_terry")
"""What ``/compare`` reports in ``rule``: the model's ``prob``, or σ(r(a) − r(b))."""


class ModelOutputError(RuntimeError):
    """The model returned outputs of the wrong shape, or non-finite values."""


@dataclass(frozen=True)
class Capabilities:
    """Which methods the model has."""

    score: bool
    uncertainty: bool
    compare: bool
    steps: bool
    references: bool
    requires_reference: bool
    batch_dependent: bool


def capabilities(model: object) -> Capabilities:
    """Inspect ``model`` for the optional methods."""

    def has(name: str) -> bool:
        return callable(getattr(model, name, None))

    return Capabilities(
        score=has("score"),
        uncertainty=has("score_with_uncertainty"),
        compare=has("prob"),
        steps=has("score_steps"),
        references=isinstance(model, ReferenceRewardModel | ComponentRewardModel),
        requires_reference=bool(getattr(model, "requires_reference", False)),
        batch_dependent=bool(getattr(model, "batch_dependent", False)),
    )


def model_id(model: object) -> str:
    """The model's ``id`` attribute, else its class name."""
    ident = getattr(model, "id", None)
    return str(ident) if ident else type(model).__name__


def model_info(model: object) -> dict[str, Any]:
    """What ``/info`` shows: id, class, capabilities, component names and ``config``."""
    config = getattr(model, "config", None)
    caps = capabilities(model)
    return {
        "model": model_id(model),
        "class": f"{type(model).__module__}.{type(model).__qualname__}",
        "capabilities": {
            "score": caps.score,
            "uncertainty": caps.uncertainty,
            "compare": caps.compare,
            "steps": caps.steps,
            "references": caps.references,
            "requires_reference": caps.requires_reference,
            "batch_dependent": caps.batch_dependent,
        },
        "components": component_names(model),
        "config": dict(config) if isinstance(config, dict) else {},
    }


def component_names(model: object) -> list[str]:
    """The names of a recipe's components (its ``components`` mapping), else ``[]``."""
    components = getattr(model, "components", None)
    return [str(name) for name in components] if isinstance(components, Mapping) else []


def compare_rule(model: object) -> str | None:
    """How ``/compare`` answers for ``model``: one of :data:`COMPARE_RULES`, or ``None``."""
    caps = capabilities(model)
    if caps.compare:
        return "preference_model"
    return "bradley_terry" if caps.score else None


def bradley_terry(first: Sequence[float], second: Sequence[float]) -> list[float]:
    """P(first ≻ second) = σ(r_first − r_second), computed without overflow."""
    out = []
    for a, b in zip(first, second, strict=True):
        d = a - b
        out.append(1.0 / (1.0 + math.exp(-d)) if d >= 0 else math.exp(d) / (1.0 + math.exp(d)))
    return out


def eos_text(model: object) -> str | None:
    """The end-of-sequence text of the model's tokenizer (``model.tokenizer.eos_token``)."""
    token = getattr(getattr(model, "tokenizer", None), "eos_token", None)
    return token if isinstance(token, str) and token else None


def response_steps(model: object, response: str) -> list[str]:
    """``response`` cut into steps by ``model.split_steps``, else by
    :func:`rewardlab.protocols.split_steps`."""
    own = getattr(model, "split_steps", None)
    return own(response) if callable(own) else split_steps(response)


def _vector(values: Any, n: int, what: str) -> list[float]:
    arr = np.asarray(values, dtype=np.float64)
    if arr.shape != (n,):
        raise ModelOutputError(f"{what} has shape {arr.shape}; expected ({n},)")
    if not np.all(np.isfinite(arr)):
        raise ModelOutputError(f"{what} contains NaN or infinite values")
    return arr.tolist()


def score_fn(model: Any) -> Callable[[list[str], list[str]], list[float]]:
    """Batch function for rewards."""

    def run(prompts: list[str], responses: list[str]) -> list[float]:
        return _vector(model.score(prompts, responses), len(prompts), "score()")

    return run


Scored = tuple[float, dict[str, float]]
"""One item's output of :func:`components_fn`: the total and each component's value."""


def components_fn(model: Any) -> Callable[[list[str], list[str], list[Any]], list[Scored]]:
    """Batch function for ``(total, {component: value})`` of each item, given references.

    ``references`` holds ``None`` where a request sent none; the server checks
    them per request before they reach a model that requires them.
    """

    def run(prompts: list[str], responses: list[str], references: list[Any]) -> list[Scored]:
        total, parts = score_components(model, prompts, responses, references)
        n = len(prompts)
        values = _vector(total, n, "score()")
        columns = {name: _vector(v, n, f"component {name!r}") for name, v in parts.items()}
        return [(values[i], {name: col[i] for name, col in columns.items()}) for i in range(n)]

    return run


def component_columns(scored: Sequence[Scored]) -> tuple[list[float], dict[str, list[float]]]:
    """Items' ``(total, parts)`` as the totals and one list per component."""
    totals = [total for total, _ in scored]
    names = list(scored[0][1]) if scored else []
    return totals, {name: [parts[name] for _, parts in scored] for name in names}


def uncertainty_fn(model: Any) -> Callable[[list[str], list[str]], list[tuple[float, float]]]:
    """Batch function for ``(reward, spread)`` pairs."""

    def run(prompts: list[str], responses: list[str]) -> list[tuple[float, float]]:
        reward, spread = model.score_with_uncertainty(prompts, responses)
        n = len(prompts)
        r = _vector(reward, n, "score_with_uncertainty() reward")
        s = _vector(spread, n, "score_with_uncertainty() spread")
        return list(zip(r, s, strict=True))

    return run


def compare_fn(model: Any) -> Callable[[list[str], list[str], list[str]], list[float]]:
    """Batch function for P(first ≻ second | prompt)."""

    def run(prompts: list[str], first: list[str], second: list[str]) -> list[float]:
        return _vector(model.prob(prompts, first, second), len(prompts), "prob()")

    return run


def steps_fn(model: Any) -> Callable[[list[str], list[list[str]]], list[list[float]]]:
    """Batch function for per-step rewards of a process reward model."""

    def run(prompts: list[str], steps: list[list[str]]) -> list[list[float]]:
        out = model.score_steps(prompts, steps)
        if len(out) != len(prompts):
            raise ModelOutputError(f"score_steps() returned {len(out)} items for {len(prompts)}")
        return [
            _vector(o, len(s), f"score_steps() item {i}")
            for i, (o, s) in enumerate(zip(out, steps, strict=True))
        ]

    return run


def min_step(step_rewards: Sequence[Sequence[float]]) -> list[float]:
    """Outcome reward of each item as its weakest step."""
    return [min(r) for r in step_rewards]
