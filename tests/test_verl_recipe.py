"""The verl recipe, loaded and called the way verl's reward managers do it.

The fixture mimics verl's own code: ``get_custom_reward_fn`` (load the file
with ``importlib.util.spec_from_file_location("custom_module", path)``, take
``custom_reward_function.name``, bind ``reward_kwargs``), the naive reward
manager (one ``compute_score(data_source=, solution_str=, ground_truth=,
extra_info=)`` per sample, ``extra_info["num_turns"]`` added, the reward placed
on the last valid response token) and the batch reward manager (one
``compute_score(data_sources=, solution_strs=, ground_truths=, extra_infos=)``).
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from typing import Any

import httpx
import numpy as np
import pytest

import rewardlab.integrations.verl as recipe
from rewardlab.serve.app import create_app
from rewardlab.serve.runner import BackgroundServer
from rewardlab.serve.settings import ServeSettings


class PromptAware:
    """Reward = words in the response + 10 if the prompt is non-empty; records its inputs."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def score(self, prompts, responses) -> np.ndarray:
        self.seen.extend(zip(prompts, responses, strict=True))
        return np.array([len(r.split()) + 10.0 * bool(p) for p, r in zip(prompts, responses)])


def verl_custom_reward_fn(path: str, name: str, reward_kwargs: dict[str, Any]) -> Callable:
    """What verl's get_custom_reward_fn does with custom_reward_function.{path,name,reward_kwargs}."""
    spec = importlib.util.spec_from_file_location("custom_module", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["custom_module"] = module
    spec.loader.exec_module(module)
    raw_fn = getattr(module, name)

    def wrapped_fn(*args, **kwargs):
        return raw_fn(*args, **kwargs, **reward_kwargs)

    return wrapped_fn


SAMPLES = [  # (data_source, response, valid response length, ground truth, extra_info)
    ("openai/gsm8k", "The answer is 4", 6, "4", {"question": "2+2?", "index": 0}),
    ("openai/gsm8k", "five", 2, "5", {"index": 1}),
    ("chat", "a b c", 3, None, {"question": "say three words"}),
]


@pytest.fixture
def server(monkeypatch):
    model = PromptAware()
    monkeypatch.setenv("RM_TOKEN", "tok")
    with BackgroundServer(create_app(model, ServeSettings(api_key="tok"))) as srv:
        yield srv.url, model
    recipe._client.cache_clear()


def test_naive_reward_manager_calls_compute_score_per_sample(server):
    url, model = server
    fn = verl_custom_reward_fn(
        recipe.__file__, "compute_score", {"url": url, "api_key_env": "RM_TOKEN"}
    )
    reward_tensor = np.zeros((len(SAMPLES), 8), dtype=np.float32)
    for i, (source, response, length, truth, extra) in enumerate(SAMPLES):
        extra = {**extra, "num_turns": None}
        score = fn(data_source=source, solution_str=response, ground_truth=truth, extra_info=extra)
        reward_tensor[i, length - 1] = score
    # words + 10 where extra_info carries the question
    assert (
        reward_tensor[0, 5] == 14.0 and reward_tensor[1, 1] == 1.0 and reward_tensor[2, 2] == 13.0
    )
    assert reward_tensor.sum() == 28.0  # nothing anywhere else
    assert model.seen == [("2+2?", "The answer is 4"), ("", "five"), ("say three words", "a b c")]


def test_batch_reward_manager_calls_compute_score_batch_once(server):
    url, model = server
    kwargs = {"url": url, "api_key_env": "RM_TOKEN", "batch_size": 2}
    fn = verl_custom_reward_fn(recipe.__file__, "compute_score_batch", kwargs)
    scores = fn(
        data_sources=np.array([s[0] for s in SAMPLES], dtype=object),
        solution_strs=[s[1] for s in SAMPLES],
        ground_truths=[s[3] for s in SAMPLES],
        extra_infos=np.array([s[4] for s in SAMPLES], dtype=object),
    )
    assert scores == [14.0, 1.0, 13.0]
    metrics = httpx.get(f"{url}/metrics", headers={"Authorization": "Bearer tok"}).text
    assert 'rewardlab_requests_total{route="/score",status="200"} 2' in metrics  # 2 + 1 items


def test_recipe_errors_name_the_setting(server, monkeypatch):
    url, _ = server
    with pytest.raises(ValueError, match="'url'"):
        recipe.compute_score("s", "x", None, {})
    monkeypatch.delenv("RM_TOKEN")
    recipe._client.cache_clear()
    with pytest.raises(ValueError, match="'api_key_env'"):
        recipe.compute_score("s", "x", None, {}, url=url, api_key_env="RM_TOKEN")
    with pytest.raises(ValueError, match="HTTP 401"):
        recipe.compute_score("s", "x", None, {}, url=url)
