"""The real server (uvicorn on a free loopback port) answering real HTTP requests."""

from __future__ import annotations

import gzip
import json
import re
import threading
import time
from collections.abc import Iterator, Sequence

import httpx
import numpy as np
import pytest

from rewardlab.models.baselines import LengthReward
from rewardlab.serve import compat
from rewardlab.serve.app import create_app
from rewardlab.serve.runner import BackgroundServer
from rewardlab.serve.settings import ServeSettings


class SlowLength:
    """Length reward that costs 20 ms per call and records its batch sizes."""

    def __init__(self) -> None:
        self.calls: list[int] = []
        self.lock = threading.Lock()

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        with self.lock:
            self.calls.append(len(prompts))
        time.sleep(0.02)
        return LengthReward().score(prompts, responses)


class Ensemble:
    """Reward = mean of two members, spread = half their gap; has a config."""

    config = {"backbone": "hashing", "aggregation": "mean", "members": 2}
    id = "toy-ensemble"

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        return self.score_with_uncertainty(prompts, responses)[0]

    def score_with_uncertainty(self, prompts, responses):
        a = np.array([len(r) for r in responses], dtype=float)  # characters
        b = np.array([len(r.split()) for r in responses], dtype=float)  # words
        return (a + b) / 2, np.abs(a - b) / 2


class Bradley:
    """Preference model: P(a ≻ b) = sigmoid(|a| - |b|) in words; no scalar score."""

    def prob(self, prompts, first, second) -> np.ndarray:
        d = np.array([len(a.split()) - len(b.split()) for a, b in zip(first, second, strict=True)])
        return 1 / (1 + np.exp(-d.astype(float)))


class StepCounter:
    """PRM without score(): step t of a solution gets reward 1 / (t + 1)."""

    def score_steps(self, prompts, steps_list) -> list[np.ndarray]:
        return [np.array([1 / (t + 1) for t in range(len(s))]) for s in steps_list]


class Fragile:
    """Raises on any response containing 'boom'."""

    def score(self, prompts, responses) -> np.ndarray:
        if any("boom" in r for r in responses):
            raise RuntimeError("exploded")
        return LengthReward().score(prompts, responses)


@pytest.fixture(scope="module")
def length_server() -> Iterator[tuple[str, SlowLength]]:
    model = SlowLength()
    settings = ServeSettings(max_batch=64, max_wait_ms=5, max_items=8, max_chars=200)
    with BackgroundServer(create_app(model, settings)) as server:
        yield server.url, model


def _metric(text: str, name: str, **labels: str) -> float:
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    match = re.search(rf"^{re.escape(name)}\{{{re.escape(want)}\}} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def test_scores_equal_the_library(length_server):
    url, _ = length_server
    prompts, responses = ["q1", "q2", "q3"], ["one", "one two three", ""]
    out = httpx.post(f"{url}/score", json={"prompts": prompts, "responses": responses}).json()
    assert out["rewards"] == LengthReward().score(prompts, responses).tolist() == [1.0, 3.0, 0.0]
    assert out["model"] == "SlowLength" and "uncertainty" not in out


@pytest.mark.parametrize(
    ("content", "status", "needle"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b"", 400, "empty"),
        (b'"just a string"', 400, "JSON object"),
        (json.dumps({"prompts": ["a"], "responses": [1]}).encode(), 400, "'responses[0]'"),
        (json.dumps({"prompts": ["a", "b"], "responses": ["x"]}).encode(), 400, "must match"),
        (json.dumps({"prompts": [], "responses": []}).encode(), 400, "must not be empty"),
        (json.dumps({"prompts": ["a"] * 9, "responses": ["b"] * 9}).encode(), 413, "limit is 8"),
        (json.dumps({"prompts": ["a"], "responses": ["x" * 201]}).encode(), 413, "limit is 200"),
        (
            json.dumps({"prompts": ["a"], "responses": ["b"], "uncertainty": True}).encode(),
            400,
            "score_with_uncertainty",
        ),
        (json.dumps({"prompts": ["a"], "steps": [["b"]]}).encode(), 400, "process reward"),
    ],
)
def test_bad_requests_get_4xx_json_and_the_server_keeps_serving(
    length_server, content, status, needle
):
    url, _ = length_server
    bad = httpx.post(f"{url}/score", content=content, headers={"Content-Type": "application/json"})
    assert bad.status_code == status
    assert needle in bad.json()["error"]
    good = httpx.post(f"{url}/score", json={"prompts": ["p"], "responses": ["still here"]})
    assert good.status_code == 200 and good.json()["rewards"] == [2.0]


def test_compare_on_a_scalar_model_uses_bradley_terry(length_server):
    url, _ = length_server
    body = {"prompts": ["p", "p"], "first": ["a b c", "a"], "second": ["a", "a b"]}
    r = httpx.post(f"{url}/compare", json=body)
    assert r.status_code == 200 and r.json()["rule"] == "bradley_terry"
    # rewards are word counts: σ(3 − 1) and σ(1 − 2)
    assert r.json()["probs"] == pytest.approx([1 / (1 + np.exp(-2.0)), 1 / (1 + np.exp(1.0))])


def test_concurrent_requests_are_merged_into_batches(length_server):
    url, model = length_server
    before = len(model.calls)
    barrier = threading.Barrier(16)
    results: dict[int, list[float]] = {}

    def client(i: int) -> None:
        with httpx.Client(base_url=url, timeout=30) as c:
            barrier.wait()
            r = c.post("/score", json={"prompts": ["p"], "responses": ["w " * (i + 1)]})
            results[i] = r.json()["rewards"]

    threads = [threading.Thread(target=client, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {i: [float(i + 1)] for i in range(16)}  # each got its own reward back
    calls = model.calls[before:]
    assert sum(calls) == 16 and max(calls) > 1 and len(calls) < 16
    metrics = httpx.get(f"{url}/metrics").text
    merged = _metric(metrics, "rewardlab_batch_size_count", kind="score")
    ones = _metric(metrics, "rewardlab_batch_size_bucket", kind="score", le="1")
    assert merged - ones >= 1  # at least one batch held more than one item
    assert _metric(metrics, "rewardlab_requests_total", route="/score", status="200") >= 16


def test_health_info_and_metrics_routes(length_server):
    url, _ = length_server
    assert httpx.get(f"{url}/health").json() == {"status": "ok", "model": "SlowLength"}
    info = httpx.get(f"{url}/info").json()
    assert info["capabilities"] == {
        "score": True,
        "uncertainty": False,
        "compare": False,
        "steps": False,
        "references": False,
        "requires_reference": False,
        "batch_dependent": False,
        "attributes": False,
        "as_sent": False,
    }
    assert info["components"] == []
    assert info["settings"]["max_items"] == 8
    metrics = httpx.get(f"{url}/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    assert "# TYPE rewardlab_request_latency_seconds histogram" in metrics.text


# -------------------------------------------------- the frameworks' own payloads


def test_openrlhf_get_reward_payload(length_server):
    url, _ = length_server
    # remote_rm_fn posts {"query": prompt+response, "prompts": prompt, "labels": label}
    prompt = "<|user|>\nWhat is 2+2?<|assistant|>\n"
    payload = {
        "query": [prompt + "It is four", "unrelated full text here"],
        "prompts": [prompt, "<|user|>\nsomething else"],
        "labels": ["4", "x"],
    }
    out = httpx.post(f"{url}/get_reward", json=payload).json()
    # split: "It is four" → 3 words; fallback: whole query → 4 words
    assert out["rewards"] == [3.0, 4.0] and out["scores"] == [3.0, 4.0]
    assert out["extra_logs"] == {"prompt_split": [1.0, 0.0], "suffix_stripped": [0.0, 0.0]}


def test_llamafactory_score_evaluation_payload(length_server):
    url, _ = length_server
    # get_rewards_from_server posts {"model": "model", "messages": decoded texts}
    payload = {"model": "model", "messages": ["<s>[INST] hi [/INST] hello you</s>", "a b"]}
    out = httpx.post(f"{url}/v1/score/evaluation", json=payload).json()
    assert out["scores"] == [5.0, 2.0]
    assert out["object"] == "score.evaluation" and out["model"] == "model"


def test_vllm_classify_payload_as_verl_sends_it(length_server):
    url, _ = length_server
    # verl compute_score_disrm: {"model", "input": one string, "activation": False};
    # it reads output["data"][-1]["probs"][-1]
    payload = {
        "model": "/models/rm",
        "input": "<|im_start|>user hi three words",
        "activation": False,
    }
    out = httpx.post(f"{url}/classify", json=payload).json()
    assert out["data"][-1]["probs"][-1] == 4.0
    assert out["object"] == "list" and out["model"] == "/models/rm"
    default = httpx.post(f"{url}/classify", json={"model": "m", "input": ["x"]}).json()
    assert default["data"][0]["probs"] == pytest.approx([1 / (1 + np.exp(-1.0))])


def test_a_route_added_to_the_compat_table_is_served(monkeypatch):
    """A framework route is one entry of the ``compat.ROUTES`` registry: the app serves it,
    validates its body and counts its requests under their own route label."""

    def tally_call(body, settings):
        texts = compat.text_list(compat.require_object(body), "texts", settings)
        return compat.whole_texts(
            texts, lambda outcome: {"total": sum(outcome.rewards), "by": outcome.model}
        )

    monkeypatch.setattr(compat.ROUTES, "_items", dict(compat.ROUTES._items))  # undone after
    compat.ROUTES.add("/v0/tally", compat.Route(tally_call))
    with BackgroundServer(create_app(LengthReward(), ServeSettings(max_wait_ms=1))) as server:
        out = httpx.post(f"{server.url}/v0/tally", json={"texts": ["a b c", "d e"]})
        assert out.json() == {"total": 5.0, "by": "LengthReward"}  # 3 + 2 words
        bad = httpx.post(f"{server.url}/v0/tally", json={"texts": "a"})
        assert bad.status_code == 400 and bad.json()["field"] == "texts"
        metrics = httpx.get(f"{server.url}/metrics").text
    assert _metric(metrics, "rewardlab_requests_total", route="/v0/tally", status="200") == 1
    assert "/v0/tally" in compat.ROUTES


# -------------------------------------------------- other kinds of models


def test_uncertainty_info_and_bearer_token():
    settings = ServeSettings(api_key="s3cret")
    with BackgroundServer(create_app(Ensemble(), settings)) as server:
        url = server.url
        body = {"prompts": ["p", "p"], "responses": ["ab cd", "x"], "uncertainty": True}
        assert httpx.post(f"{url}/score", json=body).status_code == 401
        wrong = httpx.post(f"{url}/score", json=body, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and wrong.json()["field"] == "Authorization"
        assert httpx.get(f"{url}/info").status_code == 401
        assert httpx.get(f"{url}/metrics").status_code == 401
        assert httpx.get(f"{url}/health").status_code == 200  # open for probes
        auth = {"Authorization": "Bearer s3cret"}
        out = httpx.post(f"{url}/score", json=body, headers=auth).json()
        # "ab cd": 5 chars, 2 words → mean 3.5, spread 1.5; "x": 1 and 1 → 1.0, 0.0
        assert out == {"rewards": [3.5, 1.0], "uncertainty": [1.5, 0.0], "model": "toy-ensemble"}
        info = httpx.get(f"{url}/info", headers=auth).json()
        assert info["config"] == Ensemble.config and info["capabilities"]["uncertainty"]
        assert "s3cret" not in json.dumps(info)


def test_preference_model_compare_and_no_score():
    with BackgroundServer(create_app(Bradley())) as server:
        body = {"prompts": ["p", "p"], "first": ["a b c", "a"], "second": ["a", "a"]}
        out = httpx.post(f"{server.url}/compare", json=body).json()
        assert out["probs"] == pytest.approx([1 / (1 + np.exp(-2.0)), 0.5])
        assert out["rule"] == "preference_model"
        r = httpx.post(f"{server.url}/score", json={"prompts": ["p"], "responses": ["a"]})
        assert r.status_code == 400 and "/compare" in r.json()["error"]


def test_process_reward_model_returns_step_rewards():
    with BackgroundServer(create_app(StepCounter())) as server:
        url = server.url
        out = httpx.post(
            f"{url}/score", json={"prompts": ["q"], "steps": [["a", "b", "c", "d"]]}
        ).json()
        assert out["step_rewards"] == [[1.0, 0.5, pytest.approx(1 / 3), 0.25]]
        assert out["rewards"] == [0.25]  # min over steps
        out = httpx.post(f"{url}/score", json={"prompts": ["q"], "responses": ["s1\ns2\n"]}).json()
        assert out["step_rewards"] == [[1.0, 0.5]] and out["rewards"] == [0.5]


def test_a_failing_batch_is_a_500_for_its_requests_only():
    with BackgroundServer(create_app(Fragile(), ServeSettings(max_wait_ms=0))) as server:
        url = server.url
        bad = httpx.post(f"{url}/score", json={"prompts": ["p"], "responses": ["boom"]})
        assert bad.status_code == 500 and "RuntimeError: exploded" in bad.json()["error"]
        good = httpx.post(f"{url}/score", json={"prompts": ["p"], "responses": ["fine now"]})
        assert good.status_code == 200 and good.json()["rewards"] == [2.0]
        metrics = httpx.get(f"{url}/metrics").text
        assert _metric(metrics, "rewardlab_batch_failures_total", kind="score") == 1
        assert (
            _metric(metrics, "rewardlab_request_errors_total", route="/score", type="server") == 1
        )


def test_create_app_refuses_an_object_that_cannot_score():
    with pytest.raises(TypeError, match="RewardModel or a PreferenceModel"):
        create_app(object())


def test_real_alpaca_outputs_score_like_the_library(shared_data, length_server):
    url, _ = length_server
    rows = []
    with gzip.open(shared_data / "alpaca-eval" / "outputs.jsonl.gz", "rt") as f:
        for line in f:
            row = json.loads(line)
            if len(row["output"]) <= 200:  # the fixture server's max_chars
                rows.append(row)
            if len(rows) == 8:
                break
    prompts = [str(r["id"]) for r in rows]
    responses = [r["output"] for r in rows]
    out = httpx.post(f"{url}/score", json={"prompts": prompts, "responses": responses}).json()
    assert out["rewards"] == LengthReward().score(prompts, responses).tolist()
