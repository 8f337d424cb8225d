"""/compare on a scalar model (Bradley-Terry) and end-of-turn stripping on /get_reward."""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from rewardlab.data.synthetic import ArenaConfig, generate_arena, preference_pairs
from rewardlab.features.hashing import HashingBackbone
from rewardlab.models.training.config import TrainConfig
from rewardlab.models.training.fit import train_reward_model
from rewardlab.serve.app import create_app
from rewardlab.serve.compat import parse_openrlhf, strip_end, strip_responses
from rewardlab.serve.model_ops import bradley_terry
from rewardlab.serve.runner import BackgroundServer
from rewardlab.serve.settings import ServeSettings


def test_compare_on_a_served_linear_model_prefers_the_better_answer():
    arena = generate_arena(ArenaConfig(n_prompts=30, candidates_per_prompt=4, seed=0))
    pairs = preference_pairs(arena, 120, seed=0)
    model = train_reward_model(
        pairs, HashingBackbone(n_features=256), TrainConfig(n_members=1, epochs=5, seed=0)
    )[0]
    prompts = [p.prompt for p in pairs[:40]]
    better = [p.responses[p.ranking[0]] for p in pairs[:40]]
    worse = [p.responses[p.ranking[1]] for p in pairs[:40]]
    with BackgroundServer(create_app(model)) as server:
        body = {"prompts": prompts, "first": better, "second": worse}
        r = httpx.post(f"{server.url}/compare", json=body, timeout=60)
        info = httpx.get(f"{server.url}/info").json()
    assert r.status_code == 200
    out = r.json()
    assert out["rule"] == "bradley_terry" and info["compare_rule"] == "bradley_terry"
    gap = model.score(prompts, better) - model.score(prompts, worse)
    assert out["probs"] == pytest.approx((1 / (1 + np.exp(-gap))).tolist(), abs=1e-9)
    probs = np.array(out["probs"])
    assert probs[0] > 0.5 and np.mean(probs > 0.5) >= 0.6 and probs.mean() > 0.5


def test_bradley_terry_by_hand_and_at_the_extremes():
    assert bradley_terry([2.0, 0.0], [0.0, 0.0]) == pytest.approx([1 / (1 + np.exp(-2.0)), 0.5])
    assert bradley_terry([-1000.0], [0.0]) == [0.0] and bradley_terry([1000.0], [0.0]) == [1.0]


def test_strip_end_removes_suffixes_repeatedly():
    assert strip_end("ok</s></s>", ["</s>"]) == ("ok", True)
    assert strip_end("ok<|im_end|>", ["</s>", "<|im_end|>"]) == ("ok", True)
    assert strip_end("ok </s> more", ["</s>"]) == ("ok </s> more", False)


def test_strip_responses_cuts_the_response_not_the_prompt_unless_kept():
    body = {"query": ["Q</s>A b</s>", "whole text</s>"], "prompts": ["Q</s>", "nope"]}
    texts = parse_openrlhf(body, ServeSettings())
    assert texts.prompts == ["Q</s>", ""] and texts.responses == ["A b</s>", "whole text</s>"]
    cut = strip_responses(texts.responses, ["</s>"], [False, False])
    assert cut == (["A b", "whole text"], [1.0, 1.0])
    kept = strip_responses(texts.responses, ["</s>"], [True, False])  # read as sent: untouched
    assert kept == (["A b</s>", "whole text"], [0.0, 1.0])


class WithTokenizer:
    """Character-count reward whose tokenizer's EOS text is <|im_end|>; records its inputs."""

    class tokenizer:  # noqa: N801 - mimics ``model.tokenizer.eos_token``
        eos_token = "<|im_end|>"

    def __init__(self) -> None:
        self.seen: list[str] = []

    def score(self, prompts, responses) -> np.ndarray:
        self.seen.extend(responses)
        return np.array([len(r) for r in responses], dtype=float)


def test_get_reward_strips_the_served_tokenizers_eos_by_default():
    query = {"query": ["Q: hi A: one two<|im_end|>"], "prompts": ["Q: hi A:"]}
    model = WithTokenizer()
    with BackgroundServer(create_app(model)) as server:
        out = httpx.post(f"{server.url}/get_reward", json=query).json()
    assert model.seen == [" one two"] and out["rewards"] == [8.0]
    assert out["extra_logs"]["suffix_stripped"] == [1.0]
    model = WithTokenizer()
    settings = ServeSettings(strip_suffixes=())  # explicitly off
    with BackgroundServer(create_app(model, settings)) as server:
        out = httpx.post(f"{server.url}/get_reward", json=query).json()
        info = httpx.get(f"{server.url}/info").json()
    assert model.seen == [" one two<|im_end|>"] and "suffix_stripped" not in out["extra_logs"]
    assert info["settings"]["strip_suffixes"] == []
