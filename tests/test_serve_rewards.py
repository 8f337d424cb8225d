"""Verifiers and recipes behind the reward server: references in, components out.

The CLI contract (``rewardlab serve --rewards math``) runs as a real process on a
loopback port; the recipe tests serve ``docs/recipes/math_plus_rm.yaml`` with a
linear model trained here on tiny synthetic data.
"""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import numpy as np
import pytest

from rewardlab.load import load_recipe, load_rewards
from rewardlab.robust.recipe import Recipe
from rewardlab.serve.app import create_app
from rewardlab.serve.runner import BackgroundServer
from rewardlab.serve.settings import ServeSettings
from rewardlab.verifiers import Verifier, make_verifier

DOCS_RECIPE = Path(__file__).resolve().parents[1] / "docs" / "recipes" / "math_plus_rm.yaml"
PROMPT = "Question: what is 6 times 7?\nAnswer: "
# (response, reward against the label "42")
MATH_CASES = [
    ("6 * 7 = 42\n#### 42", 1.0),
    ("So the product is \\boxed{42}", 1.0),
    ("The answer is 42.", 1.0),
    ("The answer is 41.", 0.0),
    ("6 * 7 = 42, plus one.\n#### 43", 0.0),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _openrlhf(responses: Sequence[str], labels: Sequence[object] | None) -> dict:
    """The body OpenRLHF's remote_rm_fn posts: query = prompt + response."""
    body: dict = {"query": [PROMPT + r for r in responses], "prompts": [PROMPT] * len(responses)}
    if labels is not None:
        body["labels"] = list(labels)
    return body


@pytest.fixture(scope="module")
def math_cli() -> Iterator[str]:
    """``rewardlab serve --rewards math --host 127.0.0.1 --port P`` as a real process."""
    port = _free_port()
    command = [sys.executable, "-m", "rewardlab.cli.main", "serve", "--rewards", "math"]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the server exited: {proc.stdout.read() if proc.stdout else ''}")
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("the server did not start within 120 s")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.parametrize(("response", "reward"), MATH_CASES)
def test_cli_serves_the_math_verifier_to_openrlhf(math_cli, response, reward):
    out = httpx.post(f"{math_cli}/get_reward", json=_openrlhf([response], ["42"]), timeout=60)
    assert out.status_code == 200, out.text
    body = out.json()
    assert body["rewards"] == [reward] and body["scores"] == [reward]
    logs = {"prompt_split": [1.0], "suffix_stripped": [0.0], "math": [reward]}
    assert body["extra_logs"] == logs


def test_cli_math_server_batches_labels_and_names_missing_ones(math_cli):
    responses = [r for r, _ in MATH_CASES]
    labels = ["42", "42", "41", "41", "43"]  # the label decides, not the response alone
    out = httpx.post(f"{math_cli}/get_reward", json=_openrlhf(responses, labels), timeout=60)
    assert out.json()["rewards"] == [1.0, 1.0, 0.0, 1.0, 1.0]
    missing = httpx.post(f"{math_cli}/get_reward", json=_openrlhf(responses[:1], None))
    assert missing.status_code == 400
    assert missing.json()["field"] == "labels" and "reference" in missing.json()["error"]
    partial = httpx.post(f"{math_cli}/get_reward", json=_openrlhf(responses[:2], ["42", None]))
    assert partial.status_code == 400 and partial.json()["field"] == "labels"
    assert "samples 1 have no reference (1 of 2)" in partial.json()["error"]
    info = httpx.get(f"{math_cli}/info").json()
    assert info["components"] == ["math"] and info["capabilities"]["requires_reference"]


# ------------------------------------------------------------ a recipe with a model


@pytest.fixture(scope="module")
def recipe_dir(tmp_path_factory) -> tuple[Path, object]:
    """The docs recipe beside a linear (hashing backbone) model trained on tiny data."""
    from rewardlab.data.synthetic import ArenaConfig, generate_arena, preference_pairs
    from rewardlab.features.hashing import HashingBackbone
    from rewardlab.models.io import save_model
    from rewardlab.models.training.config import TrainConfig
    from rewardlab.models.training.fit import train_reward_model

    folder = tmp_path_factory.mktemp("recipe")
    pairs = preference_pairs(generate_arena(ArenaConfig(n_prompts=10, seed=0)), 40, seed=0)
    model = train_reward_model(pairs, HashingBackbone(n_features=64), TrainConfig(epochs=1, seed=0))
    save_model(model[0], folder / "rm")
    shutil.copy(DOCS_RECIPE, folder / DOCS_RECIPE.name)
    return folder / DOCS_RECIPE.name, model[0]


RECIPE_CASES = [
    # response, label, correct, fmt (partial credit 0.5 · tags found once / 4)
    ("<think>6 * 7</think><answer>The answer is 42.</answer>", "42", 1.0, 1.0),
    ("<think>hmm</think> The answer is 41.", "42", 0.0, 0.25),
    ("The answer is 42.", "42", 1.0, 0.0),
    ("<think>x</think><think>y</think><answer> #### 7", "7", 1.0, 0.5 * 1 / 4),
]


def test_docs_recipe_reports_every_component_in_extra_logs(recipe_dir):
    path, model = recipe_dir
    responses = [r for r, *_ in RECIPE_CASES]
    labels = [lab for _, lab, *_ in RECIPE_CASES]
    with BackgroundServer(create_app(load_recipe(path))) as server:
        out = httpx.post(f"{server.url}/get_reward", json=_openrlhf(responses, labels))
        assert out.status_code == 200, out.text
        body = out.json()
        native = httpx.post(
            f"{server.url}/score",
            json={"prompts": [PROMPT] * 4, "responses": responses, "ground_truth": labels},
        ).json()
    logs = body["extra_logs"]
    assert list(logs) == ["prompt_split", "suffix_stripped", "correct", "fmt", "rm"]
    assert logs["correct"] == [c for *_, c, _ in RECIPE_CASES]
    assert logs["fmt"] == pytest.approx([f for *_, f in RECIPE_CASES])
    rm = model.score([PROMPT] * 4, responses)  # the server strips the prompt off each query
    np.testing.assert_allclose(logs["rm"], rm, rtol=1e-6)
    # gate: rm counts only where correct = 1, plus 0.5 · fmt
    correct, fmt = np.array(logs["correct"]), np.array(logs["fmt"])
    expected = np.where(correct >= 1, rm, 0.0) + 0.5 * fmt
    np.testing.assert_allclose(body["rewards"], expected, rtol=1e-6)
    # the native route: the same numbers, one field per component
    np.testing.assert_allclose(native["rewards"], expected, rtol=1e-6)
    assert list(native["components"]) == ["correct", "fmt", "rm"]
    assert native["components"]["correct"] == logs["correct"]
    np.testing.assert_allclose(native["components"]["rm"], rm, rtol=1e-6)


def test_routes_without_references_refuse_a_reward_that_needs_them(recipe_dir):
    path, _ = recipe_dir
    with BackgroundServer(create_app(load_recipe(path))) as server:
        url = server.url
        score = httpx.post(f"{url}/score", json={"prompts": ["p"], "responses": ["r"]})
        partial = httpx.post(
            f"{url}/score",
            json={"prompts": ["p", "q"], "responses": ["r", "s"], "ground_truth": [None, "1"]},
        )
        classify = httpx.post(f"{url}/classify", json={"input": ["x"]})
        compare = httpx.post(f"{url}/compare", json={"prompts": ["p"], "first": ["a"],
                                                     "second": ["b"]})
        bad_type = httpx.post(
            f"{url}/score", json={"prompts": ["p"], "responses": ["r"], "ground_truth": "42"}
        )
    assert score.status_code == 400 and score.json()["field"] == "ground_truth"
    assert partial.status_code == 400 and "samples 0 have no reference" in partial.json()["error"]
    assert compare.status_code == 400 and "ground_truth" in compare.json()["error"]
    # refused at start-up: not served at all, answered in LLaMA-Factory's error shape
    assert classify.status_code == 404 and "ground_truth" in classify.json()["detail"]
    assert bad_type.status_code == 400 and bad_type.json()["field"] == "ground_truth"


def test_a_plain_model_ignores_labels_and_a_reference_free_recipe_needs_none():
    from rewardlab.models.baselines import LengthReward

    with BackgroundServer(create_app(LengthReward())) as server:
        out = httpx.post(f"{server.url}/get_reward", json=_openrlhf(["a b c"], ["x"])).json()
    assert out["rewards"] == [3.0]
    assert out["extra_logs"] == {"prompt_split": [1.0], "suffix_stripped": [0.0]}
    with BackgroundServer(create_app(load_rewards("format"))) as server:
        good = "<think>a</think><answer>b</answer>"
        out = httpx.post(f"{server.url}/get_reward", json=_openrlhf([good, "no"], None)).json()
    assert out["rewards"] == [1.0, 0.0] and out["extra_logs"]["format"] == [1.0, 0.0]


# ------------------------------------------------------- failures stay per sample


class Exploding(Verifier):
    """A verifier whose rule raises on responses containing 'boom'."""

    name = "exploding"
    requires_reference = False

    def check(self, prompt: str, response: str, reference: object) -> float:
        if "boom" in response:
            raise RuntimeError("the rule crashed")
        return 1.0


class BatchRecorder:
    """A model component that records the size of every batch it scores; reward 0."""

    def __init__(self) -> None:
        self.sizes: list[int] = []

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        self.sizes.append(len(prompts))
        return np.zeros(len(prompts))


def test_a_crashing_rule_fails_one_sample_not_the_merged_batch(caplog):
    recorder = BatchRecorder()
    recipe = Recipe(
        {"math": make_verifier("math"), "rule": Exploding(failure_reward=-1.0), "n": recorder}
    )
    settings = ServeSettings(max_batch=64, max_wait_ms=300)
    jobs = [  # (responses, labels, expected totals = math + rule)
        (["The answer is 42.", "boom: the answer is 42."], ["42", "42"], [2.0, 0.0]),
        (["#### 7"], ["8"], [1.0]),
        (["The answer is 5."], ["\\"], [1.0]),  # an unparsable label: the math rule fails → 0
        (["\\boxed{3}", "boom"], ["3", "3"], [2.0, -1.0]),
    ]
    results: list[httpx.Response | None] = [None] * len(jobs)
    barrier = threading.Barrier(len(jobs))

    def send(i: int, url: str) -> None:
        barrier.wait()
        results[i] = httpx.post(f"{url}/get_reward", json=_openrlhf(*jobs[i][:2]), timeout=60)

    with caplog.at_level(logging.WARNING, logger="rewardlab.verifiers"):
        with BackgroundServer(create_app(recipe, settings)) as server:
            threads = [threading.Thread(target=send, args=(i, server.url)) for i in range(4)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
    for response, (_, _, expected) in zip(results, jobs, strict=True):
        assert response is not None and response.status_code == 200, response
        assert response.json()["rewards"] == expected
    assert max(recorder.sizes) > 2  # requests shared a model call, each got its own labels
    failures = [r.getMessage() for r in caplog.records if r.name == "rewardlab.verifiers"]
    assert sum("'exploding' failed" in m for m in failures) == 2
    assert any("'math' failed" in m for m in failures)


# ------------------------------------------- batch-dependent recipes: one call per request


class Words(BatchRecorder):
    """Records batch sizes; reward = number of words."""

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        super().score(prompts, responses)
        return np.array([len(r.split()) for r in responses], dtype=float)


def test_recipes_that_normalize_report_batch_dependence():
    from rewardlab.robust.recipe import CombineSpec

    words = Words()
    assert not Recipe({"w": words}).batch_dependent
    for normalize in ("batch", "group", "running"):
        assert Recipe({"w": words}, normalize={"w": normalize}).batch_dependent
    constrained = CombineSpec("constrained", {}, {"thresholds": {"w": 1.0}, "lr": 0.1,
                                                  "initial_multiplier": 0.0, "update": True})
    assert Recipe({"w": words}, constrained).batch_dependent


def test_a_group_normalized_recipe_scores_each_request_alone_and_whole():
    words = Words()
    recipe = Recipe({"w": words}, normalize={"w": "group"})
    settings = ServeSettings(max_batch=4, max_wait_ms=300)
    # two GRPO-style requests: request a has 6 items (more than max_batch), b has 2
    a = (["p"] * 3 + ["q"] * 3, ["x", "x y", "x y z", "a", "a", "a b c d"])
    b = (["p", "p"], ["one two three four five", "six"])
    results: dict[str, dict] = {}
    barrier = threading.Barrier(2)

    def send(key: str, body: tuple[list[str], list[str]], url: str) -> None:
        barrier.wait()
        payload = {"prompts": body[0], "responses": body[1]}
        results[key] = httpx.post(f"{url}/score", json=payload, timeout=60).json()

    with BackgroundServer(create_app(recipe, settings)) as server:
        info = httpx.get(f"{server.url}/info").json()
        threads = [threading.Thread(target=send, args=(k, v, server.url))
                   for k, v in (("a", a), ("b", b))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert info["capabilities"]["batch_dependent"]
    assert sorted(words.sizes) == [2, 6]  # never merged, never chunked
    # z-scores within each prompt group of each request, by hand: (x − mean) / (sample
    # std + 1e-6); p: 1, 2, 3 words (std 1), q: 1, 1, 4 (std √3), b: 5, 1 (std 2√2)
    z3 = [-1 / (1 + 1e-6), 0.0, 1 / (1 + 1e-6)]
    q = [v / (np.sqrt(3) + 1e-6) for v in (-1, -1, 2)]
    np.testing.assert_allclose(results["a"]["rewards"], z3 + q, rtol=1e-12)
    b = 2 / (2 * np.sqrt(2) + 1e-6)
    np.testing.assert_allclose(results["b"]["rewards"], [b, -b], rtol=1e-12)
    assert results["b"]["components"] == {"w": [5.0, 1.0]}  # raw, before normalization
