"""Any rewardlab reward model as a reward function for TRL's online trainers.

TRL's ``GRPOTrainer`` and ``RLOOTrainer`` accept plain callables in
``reward_funcs``; they call them with keyword arguments ``prompts``,
``completions``, ``completion_ids``, every other dataset column, and
``trainer_state``, ``log_extra`` and ``log_metric``, and expect one
``float | None`` per completion (``None`` becomes NaN and is ignored in the
weighted sum). They log ``rewards/<__name__>/mean`` per step.

:func:`reward_function` wraps a :class:`~rewardlab.protocols.RewardModel`:
chat inputs (lists of ``{"role", "content"}`` messages) are flattened to the
Anthropic transcript text rewardlab models see,
``"\\n\\nHuman: … \\n\\nAssistant: … \\n\\nHuman: … \\n\\nAssistant:"`` for the
prompt and the last assistant message for the completion. Tool use, as GRPO
runs with ``tools`` produce it, is rendered rather than refused: a ``tool``
message becomes ``"\\n\\nTool: <content>"``, and an assistant message with
``tool_calls`` (whose ``content`` may be ``None``) shows its text followed by
one JSON object ``{"arguments": …, "name": …}`` per call (keys sorted, so the
same call always renders the same way). The reward is

    r = transform(aggregate(reward, spread))        with a spread, or
    r = transform(reward − λ · spread)              (λ = ``uncertainty_penalty``),

the second being the uncertainty-penalised reward of Coste et al. 2024
("Reward Model Ensembles Help Mitigate Overoptimization", UWO) and Eisenstein
et al. 2023 when the model has ``score_with_uncertainty``; a plain model
gives r = transform(reward).

**Verifiers and recipes.** ``reward_function("math")`` or
``reward_function("recipe.yaml")`` loads a verifier or recipe
(:func:`rewardlab.load.load_rewards`); a loaded
:class:`~rewardlab.protocols.ReferenceRewardModel` or
:class:`~rewardlab.protocols.ComponentRewardModel` works the same. Its
references are the dataset column ``reference_column`` (default: the first of
``solution``, ``answer``, ``ground_truth``, ``labels`` present: the one rule of
:mod:`rewardlab.data.references`), which TRL passes as a
keyword argument, one value per completion. Such a reward scores the whole
batch TRL hands it in one call (its batch or per-prompt group normalization
needs the whole batch), and the mean of each component over the batch is
logged with TRL's ``log_metric`` as ``rewards/<name>/<component>/mean``
when TRL passes ``log_metric`` (TRL 1.16, which rewardlab is tested with,
does); a TRL that does not gets the total alone, which it logs as
``rewards/<name>/mean``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rewardlab.data.references import REFERENCE_COLUMNS
from rewardlab.data.references import reference_column as find_reference_column
from rewardlab.optimize.pool import score_texts
from rewardlab.protocols import (
    ComponentRewardModel,
    ReferenceRewardModel,
    RewardModel,
    score_components,
)

Message = Mapping[str, Any]
ROLE_NAMES = {"user": "Human", "assistant": "Assistant", "system": "System", "tool": "Tool"}
TRL_KEYWORDS = ("trainer_state", "log_extra", "log_metric", "environments")
"""Keyword arguments TRL adds to the dataset columns it passes to a reward function."""


def _tool_call_text(call: Any) -> str:
    """One tool call as JSON text: ``{"arguments": …, "name": …}``."""
    if not isinstance(call, Mapping):
        raise ValueError(f"field 'tool_calls': a tool call must be an object, got {call!r}")
    function = call.get("function", call)  # OpenAI/TRL nest the call under "function"
    if not isinstance(function, Mapping) or "name" not in function:
        raise ValueError(f"field 'tool_calls': a tool call needs a function name, got {call!r}")
    payload = {"name": function["name"], "arguments": function.get("arguments")}
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, default=str)


def _content(message: Message) -> str:
    content = message.get("content")
    calls = message.get("tool_calls") or []
    if isinstance(content, str):
        text = content
    elif isinstance(content, list):  # multimodal content blocks: keep the text parts
        text = "".join(part.get("text", "") for part in content if isinstance(part, Mapping))
    elif content is None and calls:
        text = ""
    else:
        raise ValueError(f"field 'content': a message needs text content, got {content!r}")
    if not isinstance(calls, list):
        raise ValueError(f"field 'tool_calls': must be a list, got {calls!r}")
    lines = [text] if text else []
    lines.extend(_tool_call_text(c) for c in calls)
    return "\n".join(lines)


def render_prompt(prompt: str | Sequence[Message]) -> str:
    """A prompt as transcript text; strings are returned unchanged."""
    if isinstance(prompt, str):
        return prompt
    parts = []
    for message in prompt:
        role = message.get("role")
        if role not in ROLE_NAMES:
            raise ValueError(f"field 'role': unknown chat role {role!r}")
        parts.append(f"\n\n{ROLE_NAMES[role]}: {_content(message)}")
    return "".join(parts) + "\n\nAssistant:"


def render_completion(completion: str | Sequence[Message]) -> str:
    """A completion as text: the last assistant message of a chat completion."""
    if isinstance(completion, str):
        return completion
    for message in reversed(completion):
        if message.get("role") == "assistant":
            return _content(message)
    raise ValueError("field 'completions': a chat completion has no assistant message")


def _references(
    who: str, columns: Mapping[str, Any], requested: str | None, required: bool
) -> tuple[list[Any] | None, str]:
    """The reference column's values (or None) and its name, for a batch's keyword arguments."""
    names = [c for c in columns if c not in TRL_KEYWORDS]
    column = find_reference_column(names, requested)
    if column is None:
        if required:
            raise ValueError(
                f"{who} needs a reference per sample, but the dataset has none of the columns "
                f"{', '.join(REFERENCE_COLUMNS)} (columns: {', '.join(names) or 'none'}); "
                "name one with reference_column"
            )
        return None, "reference"
    return list(columns[column]), column


def reward_function(
    model: RewardModel | str | Path,
    aggregate: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
    transform: Callable[[np.ndarray], np.ndarray] | None = None,
    uncertainty_penalty: float = 0.0,
    batch_size: int = 64,
    name: str | None = None,
    reference_column: str | None = None,
) -> Callable[..., list[float | None]]:
    """A TRL reward function (``reward_funcs`` entry) backed by ``model``.

    Args:
        model: any reward model, or a verifier name / recipe file (loaded by
            :func:`~rewardlab.load.load_rewards`); with ``aggregate``
            or a non-zero ``uncertainty_penalty`` it must have
            ``score_with_uncertainty``.
        aggregate: ``(reward, spread) -> reward`` combining the two arrays.
        transform: applied to the batch of rewards last (e.g. a shaping).
        uncertainty_penalty: λ in reward − λ · spread; not with ``aggregate``.
        batch_size: most (prompt, completion) pairs per model call.
        name: the function's ``__name__``, which TRL logs rewards under
            (default ``rewardlab_<verifier name or recipe file stem>``, else
            ``rewardlab_<model class>``).
        reference_column: the dataset column with each sample's reference
            (ground truth) for a verifier or recipe; default the first of
            ``solution``, ``answer``, ``ground_truth`` present.

    Non-finite rewards come back as ``None``.
    """
    if isinstance(model, str | Path):
        from rewardlab.load import load_rewards

        name = name or f"rewardlab_{Path(model).stem}"
        model = load_rewards(str(model))
    if aggregate is not None and uncertainty_penalty:
        raise ValueError("field 'uncertainty_penalty': give either it or 'aggregate', not both")
    if uncertainty_penalty < 0:
        raise ValueError(f"field 'uncertainty_penalty': must be >= 0, got {uncertainty_penalty}")
    if batch_size < 1:
        raise ValueError(f"field 'batch_size': must be at least 1, got {batch_size}")
    with_spread = aggregate is not None or uncertainty_penalty > 0
    if with_spread and not hasattr(model, "score_with_uncertainty"):
        raise ValueError(
            f"field 'model': {type(model).__name__} has no score_with_uncertainty, "
            "needed for 'aggregate' or 'uncertainty_penalty'"
        )
    with_references = isinstance(model, ReferenceRewardModel | ComponentRewardModel)
    required = bool(getattr(model, "requires_reference", False))
    func_name = name or f"rewardlab_{type(model).__name__}"

    def reward(
        prompts: Sequence[str | Sequence[Message]],
        completions: Sequence[str | Sequence[Message]],
        completion_ids: Sequence[Sequence[int]] | None = None,
        **kwargs: Any,
    ) -> list[float | None]:
        if len(prompts) != len(completions):
            raise ValueError(
                f"field 'completions': {len(completions)} completions for {len(prompts)} prompts"
            )
        texts = [render_prompt(p) for p in prompts]
        answers = [render_completion(c) for c in completions]
        if with_references:
            refs, column = _references(func_name, kwargs, reference_column, required)
            values, parts = score_components(model, texts, answers, refs, field=column)
            _log_components(kwargs.get("log_metric"), func_name, parts)
            spread = None
        else:
            values, spread = score_texts(
                model, texts, answers, batch_size=batch_size, with_spread=with_spread
            )
        if aggregate is not None:
            values = np.asarray(aggregate(values, spread), dtype=np.float64)
        elif spread is not None:
            values = values - uncertainty_penalty * spread
        if transform is not None:
            values = np.asarray(transform(values), dtype=np.float64)
        if values.shape != (len(prompts),):
            raise ValueError(
                f"field 'transform': got {values.shape} rewards for {len(prompts)} completions"
            )
        return [float(v) if np.isfinite(v) else None for v in values]

    reward.__name__ = func_name
    reward.__qualname__ = func_name
    return reward


def _log_components(
    log_metric: Callable[[str, float], None] | None, func_name: str, parts: Mapping[str, Any]
) -> None:
    """Log each component's batch mean (finite values) through TRL's ``log_metric``."""
    if not callable(log_metric):
        return
    for component, values in parts.items():
        finite = np.asarray(values, dtype=np.float64)
        finite = finite[np.isfinite(finite)]
        if finite.size:
            log_metric(f"rewards/{func_name}/{component}/mean", float(finite.mean()))
