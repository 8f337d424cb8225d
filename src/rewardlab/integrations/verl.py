"""verl custom reward functions: a verifier or recipe in-process, or a ``rewardlab serve`` server.

verl cannot point its reward loop at an outside URL by configuration, but it
loads a *custom reward function* from a file (``custom_reward_function.path``
and ``.name``; ``.reward_kwargs`` are passed to every call as keyword
arguments). Point it at this file:

    custom_reward_function.path=$(python -c "import rewardlab.integrations.verl as m; print(m.__file__)")
    custom_reward_function.name=compute_score
    +custom_reward_function.reward_kwargs.rewards=math            # in-process, or
    +custom_reward_function.reward_kwargs.url=http://HOST:8000    # a server

verl's default (``naive``) reward manager calls
``compute_score(data_source=, solution_str=, ground_truth=, extra_info=)``
once per sample and reads a float or a dict with ``"score"`` (its other keys
are logged); with ``reward_model.reward_manager=batch`` and
``name=compute_score_batch`` it calls ``compute_score_batch(data_sources=,
solution_strs=, ground_truths=, extra_infos=)`` once per batch. When verl
runs its own reward model too, its reward loop adds ``reward_router_address``
and ``reward_model_tokenizer``; every keyword argument this file does not
know is accepted and ignored.

``solution_str`` is the decoded response (verl decodes with
``skip_special_tokens=True``); verl does not pass the prompt, so it is read
from ``extra_info[prompt_key]`` (default ``"question"``, the column verl's
example preprocessing scripts write) and is ``""`` when absent.
``ground_truth`` (verl's ``reward_model.ground_truth`` column, such as the
GSM8K answer ``"72"``) is each sample's reference: the verifier or recipe
checks the response against it, in-process (``rewards``: a registered
verifier name or a recipe file, loaded once per worker process by
:func:`rewardlab.load.load_rewards`; no server needed) or over HTTP
(``url``: ``POST /score`` with ``ground_truth``, through
:class:`~rewardlab.serve.client.RemoteRewardModel` with its retries; one
client per set of keyword arguments in each worker). A plain reward model
ignores it. A reward with components returns ``{"score": total, component:
value, …}``, so verl logs each component; a plain model returns the float.

A recipe normalizing by ``batch`` or ``group`` cannot be computed one sample
at a time: ``compute_score`` refuses it (one ``ValueError`` naming the
component); ``compute_score_batch`` scores the whole batch in one call, and
over HTTP sends it in one request when the server reports a batch-dependent
reward (``GET /info``), so prompt groups are never cut. ``api_key_env``
names an environment variable that holds the server's bearer token, so the
token stays out of verl's config.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from rewardlab.protocols import RewardModel, score_components
from rewardlab.serve.client import RemoteRewardModel
from rewardlab.serve.model_ops import normalization_refusal

Result = float | dict[str, float]
"""What verl reads from a reward function: the reward, or ``{"score": reward, ...}``."""


@lru_cache(maxsize=8)
def _client(
    url: str, api_key_env: str | None, timeout: float, batch_size: int = 256
) -> RemoteRewardModel:
    api_key = None
    if api_key_env is not None:
        api_key = os.environ.get(api_key_env)
        if not api_key:
            raise ValueError(
                f"field 'api_key_env': environment variable {api_key_env!r} is unset or empty"
            )
    return RemoteRewardModel(url, api_key=api_key, timeout=timeout, batch_size=batch_size)


@lru_cache(maxsize=8)
def _batch_dependent(client: RemoteRewardModel) -> bool:
    """Whether the served reward depends on the samples scored with it (``GET /info``)."""
    return bool(client.info().get("capabilities", {}).get("batch_dependent", False))


@lru_cache(maxsize=8)
def _local(spec: str) -> RewardModel:
    from rewardlab.load import load_rewards

    return load_rewards(spec)


def _prompt(extra_info: Any, prompt_key: str) -> str:
    value = extra_info.get(prompt_key) if isinstance(extra_info, Mapping) else None
    return value if isinstance(value, str) else ""


def _jsonable(value: Any) -> Any:
    """verl's ground truth as plain JSON values (verl keeps non-tensor data in numpy)."""
    if isinstance(value, np.ndarray):
        return [_jsonable(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


def _source(url: str | None, rewards: str | None) -> None:
    if (url is None) == (rewards is None):
        raise ValueError(
            "field 'url': set exactly one of +custom_reward_function.reward_kwargs.url="
            "http://HOST:PORT (a rewardlab server) and "
            "+custom_reward_function.reward_kwargs.rewards=math|recipe.yaml (in-process)"
        )


def _results(total: np.ndarray, parts: Mapping[str, np.ndarray]) -> list[Result]:
    """One float per sample, or ``{"score": total, component: value}`` when there are parts."""
    if "score" in parts:
        raise ValueError("a component named 'score' clashes with verl's 'score' key; rename it")
    if not parts:
        return [float(t) for t in total]
    return [
        {"score": float(t), **{name: float(v[i]) for name, v in parts.items()}}
        for i, t in enumerate(total)
    ]


def _scored(
    prompts: list[str],
    solutions: list[str],
    truths: list[Any],
    *,
    url: str | None,
    rewards: str | None,
    api_key_env: str | None,
    timeout: float,
    batch_size: int,
) -> list[Result]:
    _source(url, rewards)
    truths = [_jsonable(t) for t in truths]
    if rewards is not None:
        model = _local(rewards)
        refusal = normalization_refusal(model, prompts)
        if refusal is not None:
            raise ValueError(f"{rewards}: {refusal}")
        total, parts = score_components(model, prompts, solutions, truths, field="ground_truth")
        return _results(total, parts)
    assert url is not None
    client = _client(url, api_key_env, timeout, batch_size)
    if len(prompts) > 1 and _batch_dependent(client):
        client = _client(url, api_key_env, timeout, max(len(prompts), batch_size))
    total, parts = client.score_with_components(prompts, solutions, truths)
    return _results(total, parts)


def compute_score(
    data_source: str,
    solution_str: str,
    ground_truth: Any = None,
    extra_info: Mapping[str, Any] | None = None,
    *,
    url: str | None = None,
    rewards: str | None = None,
    api_key_env: str | None = None,
    prompt_key: str = "question",
    timeout: float = 60.0,
    **_verl: Any,
) -> Result:
    """The reward of one response (verl's per-sample contract)."""
    return _scored(
        [_prompt(extra_info, prompt_key)], [solution_str], [ground_truth], url=url,
        rewards=rewards, api_key_env=api_key_env, timeout=timeout, batch_size=256,
    )[0]


def compute_score_batch(
    data_sources: Sequence[str],
    solution_strs: Sequence[str],
    ground_truths: Sequence[Any] | None = None,
    extra_infos: Sequence[Mapping[str, Any] | None] | None = None,
    *,
    url: str | None = None,
    rewards: str | None = None,
    api_key_env: str | None = None,
    prompt_key: str = "question",
    timeout: float = 60.0,
    batch_size: int = 256,
    **_verl: Any,
) -> list[Result]:
    """The rewards of a batch of responses (verl's ``batch`` reward manager)."""
    n = len(solution_strs)
    infos = list(extra_infos) if extra_infos is not None else [None] * n
    truths = list(ground_truths) if ground_truths is not None else [None] * n
    for name, values in (("extra_infos", infos), ("ground_truths", truths)):
        if len(values) != n:
            raise ValueError(f"field {name!r}: {len(values)} items for {n} solutions")
    prompts = [_prompt(info, prompt_key) for info in infos]
    return _scored(
        prompts, list(solution_strs), truths, url=url, rewards=rewards,
        api_key_env=api_key_env, timeout=timeout, batch_size=batch_size,
    )
