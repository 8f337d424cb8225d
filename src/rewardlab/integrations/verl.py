"""verl custom reward functions that score through a ``rewardlab serve`` server.

verl cannot point its reward loop at an outside URL by configuration, but it
loads a *custom reward function* from a file (``custom_reward_function.path``
and ``.name``; ``.reward_kwargs`` are passed to every call as keyword
arguments). Point it at this file:

    custom_reward_function.path=$(python -c "import rewardlab.integrations.verl as m; print(m.__file__)")
    custom_reward_function.name=compute_score
    +custom_reward_function.reward_kwargs.url=http://HOST:8000

verl's default (``naive``) reward manager calls
``compute_score(data_source=, solution_str=, ground_truth=, extra_info=)``
once per sample and reads a float (or a dict with ``"score"``); with
``reward_model.reward_manager=batch`` and ``name=compute_score_batch`` it calls
``compute_score_batch(data_sources=, solution_strs=, ground_truths=,
extra_infos=)`` once per batch, which sends one request per ``batch_size``
samples instead of one per sample. ``solution_str`` is the decoded response
(verl decodes with ``skip_special_tokens=True``); verl does not pass the
prompt, so it is read from ``extra_info[prompt_key]`` (default
``"question"``, the column verl's example preprocessing scripts write) and is
``""`` when absent. ``ground_truth`` is not sent: the served model scores
text. Each call goes to ``POST /score`` through
:class:`~rewardlab.serve.client.RemoteRewardModel`, with its retries; one
client (and connection pool) is kept per set of keyword arguments in
each worker process. ``api_key_env`` names an environment variable that holds
the server's bearer token, so the token stays out of verl's config.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from rewardlab.serve.client import RemoteRewardModel


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


def _prompt(extra_info: Any, prompt_key: str) -> str:
    value = extra_info.get(prompt_key) if isinstance(extra_info, Mapping) else None
    return value if isinstance(value, str) else ""


def _url(url: str | None) -> str:
    if not url:
        raise ValueError(
            "field 'url': set +custom_reward_function.reward_kwargs.url=http://HOST:PORT"
        )
    return url


def compute_score(
    data_source: str,
    solution_str: str,
    ground_truth: Any,
    extra_info: Mapping[str, Any] | None = None,
    *,
    url: str | None = None,
    api_key_env: str | None = None,
    prompt_key: str = "question",
    timeout: float = 60.0,
) -> float:
    """The served reward of one response (verl's per-sample contract)."""
    client = _client(_url(url), api_key_env, timeout)
    return float(client.score([_prompt(extra_info, prompt_key)], [solution_str])[0])


def compute_score_batch(
    data_sources: Sequence[str],
    solution_strs: Sequence[str],
    ground_truths: Sequence[Any],
    extra_infos: Sequence[Mapping[str, Any] | None] | None = None,
    *,
    url: str | None = None,
    api_key_env: str | None = None,
    prompt_key: str = "question",
    timeout: float = 60.0,
    batch_size: int = 256,
) -> list[float]:
    """The served rewards of a batch of responses (verl's ``batch`` reward manager)."""
    client = _client(_url(url), api_key_env, timeout, batch_size)
    infos = list(extra_infos) if extra_infos is not None else [None] * len(solution_strs)
    if len(infos) != len(solution_strs):
        raise ValueError(
            f"field 'extra_infos': {len(infos)} items for {len(solution_strs)} solutions"
        )
    prompts = [_prompt(info, prompt_key) for info in infos]
    return [float(r) for r in client.score(prompts, list(solution_strs))]
