"""What a served model can do, and the batch functions the server runs on it.

The server takes any object: it scores when it has ``score`` (a
``RewardModel``), reports spread when it has ``score_with_uncertainty``,
compares when it has ``prob`` (a ``PreferenceModel``) and returns per-step
rewards when it has ``score_steps(prompts, steps_list) -> list[np.ndarray]``
(a process reward model, Lightman et al., "Let's Verify Step by Step", 2023).
A PRM without ``score`` gets the outcome reward of its weakest step,
``r = min_t r_t`` (the min aggregation of Math-Shepherd, Wang et al., 2024).
A response sent without explicit steps is cut into steps at newlines
(non-empty lines; an empty response is one empty step).

Every batch function checks the model's output shape and refuses non-finite
values, so a broken model fails its batch with a clear error instead of
sending invalid JSON.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Capabilities:
    """Which methods the model has."""

    score: bool
    uncertainty: bool
    compare: bool
    steps: bool


def capabilities(model: object) -> Capabilities:
    """Inspect ``model`` for the optional methods."""

    def has(name: str) -> bool:
        return callable(getattr(model, name, None))

    return Capabilities(
        score=has("score"),
        uncertainty=has("score_with_uncertainty"),
        compare=has("prob"),
        steps=has("score_steps"),
    )


def model_id(model: object) -> str:
    """The model's ``id`` attribute, else its class name."""
    ident = getattr(model, "id", None)
    return str(ident) if ident else type(model).__name__


def model_info(model: object) -> dict[str, Any]:
    """What ``/info`` shows: id, class, capabilities and the model's ``config`` dict."""
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
        },
        "config": dict(config) if isinstance(config, dict) else {},
    }


def split_steps(response: str) -> list[str]:
    """Non-empty lines of ``response``; ``[response]`` when there are none."""
    steps = [line for line in response.split("\n") if line.strip()]
    return steps or [response]


def _vector(values: Any, n: int, what: str) -> list[float]:
    arr = np.asarray(values, dtype=np.float64)
    if arr.shape != (n,):
        raise ValueError(f"{what} has shape {arr.shape}; expected ({n},)")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{what} contains NaN or infinite values")
    return arr.tolist()


def score_fn(model: Any) -> Callable[[list[str], list[str]], list[float]]:
    """Batch function for rewards."""

    def run(prompts: list[str], responses: list[str]) -> list[float]:
        return _vector(model.score(prompts, responses), len(prompts), "score()")

    return run


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
            raise ValueError(f"score_steps() returned {len(out)} items for {len(prompts)}")
        return [
            _vector(o, len(s), f"score_steps() item {i}")
            for i, (o, s) in enumerate(zip(out, steps, strict=True))
        ]

    return run


def min_step(step_rewards: Sequence[Sequence[float]]) -> list[float]:
    """Outcome reward of each item as its weakest step."""
    return [min(r) for r in step_rewards]
