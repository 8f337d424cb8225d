"""No constant, no silent zero: end-of-turn texts on every route, empty references, recipes
that normalize by batch or group, and rewards that need references on routes that cannot
carry them.
"""

from __future__ import annotations

import httpx
import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from cli_server import start_cli, stop
from rewardlab.cli import serve_cmd
from rewardlab.load import load_recipe, load_rewards
from rewardlab.serve.app import create_app, refused_routes
from rewardlab.serve.model_ops import normalization_refusal, normalization_warning
from rewardlab.serve.runner import BackgroundServer
from rewardlab.serve.settings import END_OF_TURN_TEXTS, ServeSettings


class Chars:
    """A rewardlab-style model without a tokenizer: reward = characters in the response."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def score(self, prompts, responses) -> np.ndarray:
        self.seen.extend(responses)
        return np.array([len(r) for r in responses], dtype=float)


# ------------------------------------------------------------------ end-of-turn text


@pytest.mark.parametrize("suffix", END_OF_TURN_TEXTS)
def test_end_of_turn_text_is_cut_on_every_route(suffix):
    model = Chars()
    with BackgroundServer(create_app(model, ServeSettings(max_wait_ms=1))) as server:
        url = server.url
        openrlhf = httpx.post(f"{url}/get_reward",
                              json={"query": [f"Q: hi A: four{suffix}"], "prompts": ["Q: hi A:"]})
        llama = httpx.post(f"{url}/v1/score/evaluation",
                           json={"model": "m", "messages": [f"abc{suffix}{suffix}"]})
        classify = httpx.post(f"{url}/classify", json={"input": [f"abcd{suffix}"],
                                                       "activation": False})
        score = httpx.post(f"{url}/score", json={"prompts": ["p", "p"],
                                                 "responses": [f"ab{suffix}", "xyz"]})
        compare = httpx.post(f"{url}/compare", json={"prompts": ["p"], "first": [f"a{suffix}"],
                                                     "second": ["a"]})
    assert openrlhf.json()["rewards"] == [5.0]  # " four"
    assert openrlhf.json()["extra_logs"]["suffix_stripped"] == [1.0]
    assert llama.json()["scores"] == [3.0]  # cut repeatedly
    assert classify.json()["data"][0]["probs"] == [4.0]
    assert score.json()["rewards"] == [2.0, 3.0]
    assert score.json()["suffix_stripped"] == [1.0, 0.0]
    assert compare.json()["probs"] == [0.5]  # the same text once the suffix is cut
    assert "<|" not in "".join(model.seen) and "</s>" not in "".join(model.seen)


def test_the_tokenizers_own_eos_is_cut_and_an_empty_list_turns_cutting_off():
    class WithEos(Chars):
        class tokenizer:  # noqa: N801 - mimics ``model.tokenizer.eos_token``
            eos_token = "<|END|>"

    body = {"query": ["Q:ok<|END|>"], "prompts": ["Q:"]}
    with BackgroundServer(create_app(WithEos())) as server:
        out = httpx.post(f"{server.url}/get_reward", json=body).json()
        info = httpx.get(f"{server.url}/info").json()
    assert out["rewards"] == [2.0] and info["settings"]["strip_suffixes"][-1] == "<|END|>"
    with BackgroundServer(create_app(WithEos(), ServeSettings(strip_suffixes=()))) as server:
        off = httpx.post(f"{server.url}/get_reward", json=body).json()
        whole = httpx.post(f"{server.url}/v1/score/evaluation",
                           json={"messages": ["a</s>"]}).json()
    assert off["rewards"] == [9.0] and "suffix_stripped" not in off["extra_logs"]
    assert whole["scores"] == [5.0]


# ------------------------------------------------------------------ empty references


@pytest.fixture(scope="module")
def math_cli():
    proc, url = start_cli(["--rewards", "math"])
    yield url
    stop(proc)


def test_serve_rewards_math_refuses_empty_labels(math_cli):
    prompt = "What is 6 times 7? "
    body = {"query": [prompt + "#### 42"], "prompts": [prompt], "labels": [""]}
    empty = httpx.post(f"{math_cli}/get_reward", json=body)
    assert empty.status_code == 400 and empty.json()["field"] == "labels"
    assert "samples 0 have no reference" in empty.json()["error"]
    blank = httpx.post(f"{math_cli}/score", json={"prompts": ["p"], "responses": ["#### 42"],
                                                  "ground_truth": ["  "]})
    assert blank.status_code == 400 and blank.json()["field"] == "ground_truth"
    body["labels"] = ["42"]
    assert httpx.post(f"{math_cli}/get_reward", json=body).json()["rewards"] == [1.0]


def test_routes_that_cannot_carry_labels_are_refused_at_start_up(math_cli):
    refused = refused_routes(load_rewards("math"))
    assert sorted(refused) == ["/classify", "/v1/score/evaluation"]
    out = httpx.post(f"{math_cli}/v1/score/evaluation", json={"model": "m", "messages": ["x"]})
    assert out.status_code == 404 and "reference" in out.json()["detail"]
    assert httpx.get(f"{math_cli}/info").json()["settings"]["refused_routes"] == sorted(refused)
    assert refused_routes(Chars()) == {}


# ------------------------------------------------------------------ batch and group normalization


GROUP_RECIPE = "components:\n  correct: {verifier: math, normalize: group}\n"
BATCH_RECIPE = "components:\n  correct: {verifier: math, normalize: batch}\n"


def test_group_normalization_refuses_one_query_per_request(tmp_path):
    path = tmp_path / "grpo.yaml"
    path.write_text(GROUP_RECIPE)
    prompt = "What is 6 times 7? "
    with BackgroundServer(create_app(load_recipe(path))) as server:
        # OpenRLHF's executor: one query per request
        one = httpx.post(f"{server.url}/get_reward", json={
            "query": [prompt + "#### 42"], "prompts": [prompt], "labels": ["42"]})
        # a GRPO group of two in one request: z-scores of [1, 0] with the sample std
        # (ddof 1, as verl's and TRL's GRPO): ±0.5 / (sqrt(0.5) + 1e-6)
        group = httpx.post(f"{server.url}/get_reward", json={
            "query": [prompt + "#### 42", prompt + "#### 41"], "prompts": [prompt] * 2,
            "labels": ["42", "42"]})
    assert one.status_code == 400
    message = one.json()["error"]
    assert "'correct'" in message and "running" in message and "\n" not in message
    z = 0.5 / (0.5 ** 0.5 + 1e-6)
    assert group.status_code == 200
    assert group.json()["rewards"] == pytest.approx([z, -z], abs=1e-12)
    assert group.json()["extra_logs"]["correct"] == [1.0, 0.0]  # raw component values


def test_batch_normalization_needs_two_samples(tmp_path):
    path = tmp_path / "batch.yaml"
    path.write_text(BATCH_RECIPE)
    recipe = load_recipe(path)
    assert "normalized by batch" in normalization_refusal(recipe, ["p"])
    assert normalization_refusal(recipe, ["p", "q"]) is None
    assert normalization_refusal(Chars(), ["p"]) is None
    assert "'correct' by batch" in normalization_warning(recipe)
    assert normalization_warning(load_rewards("math")) is None


def test_serve_warns_at_start_up_and_notes_refused_routes(tmp_path, monkeypatch):
    import rewardlab.serve.runner as runner

    served: list[object] = []
    monkeypatch.setattr(runner, "run_server", lambda model, settings: served.append(model))
    app = typer.Typer()
    app.callback()(lambda: None)
    serve_cmd.register(app)
    path = tmp_path / "grpo.yaml"
    path.write_text(GROUP_RECIPE)
    result = CliRunner().invoke(app, ["serve", "--rewards", str(path)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any(line.startswith("warning: the recipe normalizes 'correct' by group")
               for line in lines)
    assert any(line.startswith("note: /v1/score/evaluation is not served") for line in lines)
    assert lines[-1].startswith("serving ") and len(served) == 1
