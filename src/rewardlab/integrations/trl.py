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
prompt and the last assistant message for the completion. The reward is

    r = transform(aggregate(reward, spread))        with a spread, or
    r = transform(reward − λ · spread)              (λ = ``uncertainty_penalty``),

the second being the uncertainty-penalised reward of Coste et al. 2023
("Reward Model Ensembles Help Mitigate Overoptimization", UWO) and Eisenstein
et al. 2023 when the model has ``score_with_uncertainty``; a plain model
gives r = transform(reward).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from rewardlab.optimize.pool import score_texts
from rewardlab.protocols import RewardModel

Message = Mapping[str, Any]
ROLE_NAMES = {"user": "Human", "assistant": "Assistant", "system": "System"}


def _content(message: Message) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # multimodal content blocks: keep the text parts
        return "".join(part.get("text", "") for part in content if isinstance(part, Mapping))
    raise ValueError(f"field 'content': a message needs text content, got {content!r}")


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


def reward_function(
    model: RewardModel,
    aggregate: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
    transform: Callable[[np.ndarray], np.ndarray] | None = None,
    uncertainty_penalty: float = 0.0,
    batch_size: int = 64,
    name: str | None = None,
) -> Callable[..., list[float | None]]:
    """A TRL reward function (``reward_funcs`` entry) backed by ``model``.

    Args:
        model: any reward model; with ``aggregate`` or a non-zero
            ``uncertainty_penalty`` it must have ``score_with_uncertainty``.
        aggregate: ``(reward, spread) -> reward`` combining the two arrays.
        transform: applied to the batch of rewards last (e.g. a shaping).
        uncertainty_penalty: λ in reward − λ · spread; not with ``aggregate``.
        batch_size: most (prompt, completion) pairs per model call.
        name: the function's ``__name__``, which TRL logs rewards under
            (default ``rewardlab_<model class>``).

    Non-finite rewards come back as ``None``.
    """
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

    reward.__name__ = name or f"rewardlab_{type(model).__name__}"
    reward.__qualname__ = reward.__name__
    return reward
