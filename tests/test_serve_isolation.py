"""One bad request fails alone, and work for a client that left is cancelled."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Sequence

import httpx
import numpy as np

from rewardlab.serve.app import create_app
from rewardlab.serve.runner import BackgroundServer
from rewardlab.serve.settings import ServeSettings


class Poisonable:
    """Word-count reward, 20 ms per call; a tokenizer-like ValueError on 'POISON'."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, bool]] = []  # (items, raised)
        self.lock = threading.Lock()

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        time.sleep(0.02)
        poisoned = any("POISON" in r for r in responses)
        with self.lock:
            self.calls.append((len(responses), poisoned))
        if poisoned:
            raise ValueError("unknown symbol 'POISON'")
        return np.array([len(r.split()) for r in responses], dtype=float)


def test_sixteen_valid_and_four_poisoned_concurrent_requests_give_exactly_four_4xx():
    model = Poisonable()
    settings = ServeSettings(max_batch=64, max_wait_ms=30)
    with BackgroundServer(create_app(model, settings)) as server:
        barrier = threading.Barrier(20)
        answers: dict[int, httpx.Response] = {}

        def client(i: int) -> None:
            words = "POISON here" if i % 5 == 4 else " ".join(["w"] * (i + 1))
            with httpx.Client(base_url=server.url, timeout=30) as c:
                barrier.wait()
                answers[i] = c.post("/score", json={"prompts": ["p"], "responses": [words]})

        threads = [threading.Thread(target=client, args=(i,)) for i in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        metrics = httpx.get(f"{server.url}/metrics").text

    poisoned = {i for i in range(20) if i % 5 == 4}
    errors = {i: r for i, r in answers.items() if r.status_code != 200}
    assert set(errors) == poisoned  # exactly the 4 poisoned requests
    assert all(r.status_code == 422 for r in errors.values())
    assert all("ValueError: unknown symbol 'POISON'" in r.json()["error"] for r in errors.values())
    for i in set(range(20)) - poisoned:
        assert answers[i].json()["rewards"] == [float(i + 1)]
    # the poison really shared forward passes with innocent requests
    assert any(items > 1 and raised for items, raised in model.calls)
    failed = re.search(r'^rewardlab_batch_failures_total\{kind="score"\} (\S+)$', metrics, re.M)
    assert failed is not None and float(failed.group(1)) >= 5  # shared batch + 4 alone


class Slow:
    """Word-count reward costing 0.1 s per call; records the items of every call."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        self.calls.append(len(responses))
        time.sleep(0.1)
        return np.array([len(r.split()) for r in responses], dtype=float)


def _raw_post(url: str, body: bytes) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)))
    head = (
        f"POST /score HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    sock.sendall(head.encode() + body)
    return sock


def test_a_client_that_disconnects_has_its_work_cancelled():
    model = Slow()
    settings = ServeSettings(max_batch=4, max_wait_ms=0)
    with BackgroundServer(create_app(model, settings)) as server:
        # 40 items run alone in 10 chunks of 4, 0.1 s each: 1 s of work
        big = b'{"prompts": [' + b", ".join([b'"p"'] * 40) + b'], "responses": ['
        big += b", ".join([b'"a b"'] * 40) + b"]}"
        sock = _raw_post(server.url, big)
        time.sleep(0.15)
        sock.close()  # the client leaves during its second chunk
        start = time.perf_counter()
        r = httpx.post(f"{server.url}/score", json={"prompts": ["p"], "responses": ["x y z"]})
        waited = time.perf_counter() - start
        assert r.status_code == 200 and r.json()["rewards"] == [3.0]
        time.sleep(0.3)
        metrics = httpx.get(f"{server.url}/metrics").text
    assert waited < 0.5  # at most the chunk in flight, not the 0.85 s left
    assert sum(model.calls) - 1 < 40 and model.calls[-1] == 1  # the big job stopped early
    assert 'rewardlab_requests_total{route="/score",status="499"} 1' in metrics
