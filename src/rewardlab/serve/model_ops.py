"""What a served model can do, and the batch functions the server runs on it.

The server takes any object: it scores when it has ``score`` (a
``RewardModel``), reports spread when it has ``score_with_uncertainty``,
compares when it has ``prob`` (a ``PreferenceModel``) and returns per-step
rewards when it has ``score_steps(prompts, steps_list) -> list[np.ndarray]``
(a process reward model, Lightman et al., "Let's Verify Step by Step", 2023).
A PRM without ``score`` gets the outcome reward of its weakest step,
``r = min_t r_t`` (the ``min`` step reduction of
:data:`rewardlab.protocols.STEP_REDUCTIONS`, Math-Shepherd's, Wang et al., 2024).
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

A model that formats its own text (a Hugging Face reward model with a chat
template) tells the server which pairs it reads exactly as sent
(``reads_as_sent``: the text already carries its chat template) and scores
whole texts as sent (``score_as_sent``, unless its ``chat_template`` mode is
``always``); the server cuts end-of-turn texts only from the other responses. A multi-output model's named outputs
(``score_with_attributes``, more than one) are reported beside the reward.

A recipe normalizing a component by ``batch`` or ``group`` (its ``normalize``
mapping) gives 0 to a sample scored without others of its batch or prompt:
:func:`normalization_refusal` names the component when a request cannot form
the batch or the groups, so the server refuses it rather than answering a
constant.

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
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rewardlab.protocols import (
    OUTCOME_REDUCTION,
    ComponentRewardModel,
    ReferenceRewardModel,
    reduce_steps,
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
    attributes: bool = False
    as_sent: bool = False


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
        attributes=has("score_with_attributes") and len(attribute_names(model)) > 1,
        as_sent=has("score_as_sent") and getattr(model, "chat_template", None) != "always",
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
            "attributes": caps.attributes,
            "as_sent": caps.as_sent,
        },
        "components": component_names(model),
        "attributes": attribute_names(model) if caps.attributes else [],
        "chat_template": getattr(model, "chat_template", None),
        "config": dict(config) if isinstance(config, dict) else {},
    }


def component_names(model: object) -> list[str]:
    """The names of a recipe's components (its ``components`` mapping), else ``[]``."""
    components = getattr(model, "components", None)
    return [str(name) for name in components] if isinstance(components, Mapping) else []


def attribute_names(model: object) -> list[str]:
    """The names of a multi-output model's outputs (its ``attribute_names``), else ``[]``."""
    names = getattr(model, "attribute_names", None)
    return [str(n) for n in names] if isinstance(names, Sequence) else []


def reads_as_sent(model: object, prompts: Sequence[str], responses: Sequence[str]) -> list[bool]:
    """Which pairs the model reads exactly as sent (its ``reads_as_sent``; else none)."""
    own = getattr(model, "reads_as_sent", None)
    if not callable(own):
        return [False] * len(prompts)
    return [bool(k) for k in own(prompts, responses)]


NORMALIZED_BY_REQUEST = ("batch", "group")
"""Normalizations whose statistics come from the samples scored together."""


def normalized_by_request(model: object) -> dict[str, str]:
    """A recipe's components normalized by ``batch`` or ``group`` (its ``normalize``)."""
    normalize = getattr(model, "normalize", None)
    if not isinstance(normalize, Mapping):
        return {}
    return {str(n): str(m) for n, m in normalize.items() if m in NORMALIZED_BY_REQUEST}


def normalization_refusal(model: object, prompts: Sequence[str]) -> str | None:
    """Why these samples cannot be normalized as the recipe says (one line), or ``None``.

    ``batch`` needs at least two samples; ``group`` needs every prompt to have
    at least two samples: otherwise the z-score of a lone sample is 0 whatever
    its reward.
    """
    counts = Counter(prompts)
    for name, how in normalized_by_request(model).items():
        if how == "batch" and len(prompts) < 2:
            return (
                f"component {name!r} is normalized by batch, which needs the samples of a "
                f"batch in one request; this request has {len(prompts)}, whose value would be 0 "
                "whatever its reward (use normalize: running)"
            )
        alone = [i for i, p in enumerate(prompts) if counts[p] == 1]
        if how == "group" and alone:
            shown = ", ".join(map(str, alone[:5])) + (" …" if len(alone) > 5 else "")
            return (
                f"component {name!r} is normalized by group (per prompt), but samples {shown} "
                "have no other sample with the same prompt in this request, so their values "
                "would be 0 whatever their rewards; send each prompt's group in one request "
                "(use normalize: running for one sample per request, as OpenRLHF sends)"
            )
    return None


def normalization_warning(model: object) -> str | None:
    """The start-up warning for a recipe normalizing by ``batch`` or ``group``, or ``None``."""
    named = normalized_by_request(model)
    if not named:
        return None
    parts = ", ".join(f"{name!r} by {how}" for name, how in named.items())
    return (
        f"the recipe normalizes {parts}: each request must carry a whole batch or whole "
        "prompt groups, and a request that cannot (OpenRLHF sends one sample per request) "
        "is refused with 400; use normalize: running for such clients"
    )


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


def attributes_fn(model: Any) -> Callable[[list[str], list[str]], list[Scored]]:
    """Batch function for ``(reward, {attribute: value})`` of each item (one forward pass)."""

    def run(prompts: list[str], responses: list[str]) -> list[Scored]:
        total, parts = model.score_with_attributes(prompts, responses)
        n = len(prompts)
        values = _vector(total, n, "score_with_attributes()")
        columns = {name: _vector(v, n, f"attribute {name!r}") for name, v in parts.items()}
        return [(values[i], {name: col[i] for name, col in columns.items()}) for i in range(n)]

    return run


def as_sent_fn(model: Any) -> Callable[[list[str]], list[float]]:
    """Batch function for the rewards of whole texts read as sent (``score_as_sent``)."""

    def run(texts: list[str]) -> list[float]:
        return _vector(model.score_as_sent(texts), len(texts), "score_as_sent()")

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
            raise ModelOutputError(f"score_steps() returned {len(out)} items for {len(prompts)}")
        return [
            _vector(o, len(s), f"score_steps() item {i}")
            for i, (o, s) in enumerate(zip(out, steps, strict=True))
        ]

    return run


def outcome_rewards(step_rewards: Sequence[Sequence[float]]) -> list[float]:
    """Outcome reward of each item: the :data:`~rewardlab.protocols.OUTCOME_REDUCTION` of its
    step rewards (``min``, the weakest step)."""
    return [reduce_steps(r, OUTCOME_REDUCTION) for r in step_rewards]
