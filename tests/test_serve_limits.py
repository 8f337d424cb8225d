"""Bodies are bounded before parsing; deep nesting and lone surrogates get a 400; slow clients
are cut off; a large request is chunked so that it cannot starve a small one."""

from __future__ import annotations

import json
import socket
import threading
import time

import httpx
import numpy as np
import pytest

from rewardlab.models.baselines import LengthReward
from rewardlab.serve.app import create_app
from rewardlab.serve.body import nesting_depth, parse_json
from rewardlab.serve.runner import BackgroundServer
from rewardlab.serve.schemas import RequestError
from rewardlab.serve.settings import ServeSettings

LIMIT = 4000


@pytest.fixture(scope="module")
def url():
    settings = ServeSettings(max_body_bytes=LIMIT, max_json_depth=400)
    with BackgroundServer(create_app(LengthReward(), settings)) as server:
        yield server.url


def _raw(url: str, head: str, body: bytes = b"") -> tuple[int, bytes]:
    """Send ``head`` and ``body`` on a raw socket; return the status and the whole answer."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head.encode() + body)
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    return int(answer.split(b" ", 2)[1]), answer


def test_declared_oversized_body_is_refused_before_it_is_sent(url):
    head = (
        "POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: 100000000\r\n\r\n"
    )
    start = time.perf_counter()
    status, answer = _raw(url, head, b'{"prompts": [')  # 13 of the 100 MB announced
    assert status == 413 and b"larger than 4000 bytes" in answer
    assert time.perf_counter() - start < 5  # answered without waiting for the body


def test_streamed_body_is_cut_off_at_the_limit(url):
    head = (
        "POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b" " * 1500
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(3))  # 4500 bytes
    status, answer = _raw(url, head, body)
    assert status == 413 and b"larger than 4000 bytes" in answer


def test_bodies_at_and_over_the_limit(url):
    base = {"prompts": ["p"], "responses": [""]}
    pad = LIMIT - len(json.dumps(base).encode())
    ok = json.dumps({"prompts": ["p"], "responses": ["x" * pad]}).encode()
    assert len(ok) == LIMIT
    r = httpx.post(f"{url}/score", content=ok, headers={"Content-Type": "application/json"})
    assert r.status_code == 200 and r.json()["rewards"] == [1.0]
    big = ok.replace(b'"x', b'"xx')
    r = httpx.post(f"{url}/score", content=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["field"] is None


def test_deep_nesting_is_a_400_not_a_500(url):
    deep = b'{"prompts": ' + b"[" * 999 + b"]" * 999 + b"}"
    r = httpx.post(f"{url}/score", content=deep, headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "nested more than 400 levels" in r.json()["error"]
    at_limit = b'{"prompts": ' + b"[" * 399 + b"]" * 399 + b"}"  # depth 400 parses
    r = httpx.post(f"{url}/score", content=at_limit, headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["field"] == "prompts[0]"  # past the depth check


def test_lone_surrogate_is_a_400_naming_the_field(url):
    body = b'{"prompts": ["p", "q"], "responses": ["fine", "bad \\ud800 text"]}'
    r = httpx.post(f"{url}/score", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["field"] == "responses[1]"
    assert "lone surrogate '\\ud800' at character 4" in r.json()["error"]
    paired = b'{"prompts": ["p"], "responses": ["ok \\ud83d\\ude00"]}'  # a valid pair: 😀
    r = httpx.post(f"{url}/score", content=paired, headers={"Content-Type": "application/json"})
    assert r.status_code == 200 and r.json()["rewards"] == [2.0]


@pytest.mark.parametrize(
    ("body", "depth"),
    [
        (b'"[[["', 0),
        (b"[]", 1),
        (b'{"a": "[[[", "b": [1, [2, {"c": []}]]}', 5),
        (b'["\\"[[", "\\\\", ["x"]]', 2),  # escaped quote, escaped backslash
        (b'{"a": "}}}]]]"}', 1),
    ],
)
def test_nesting_depth_by_hand(body, depth):
    assert nesting_depth(body) == depth
    assert json.loads(body) is not None or depth == 0  # the examples are valid JSON


def test_parse_json_limit_is_inclusive():
    assert parse_json(b"[[1]]", max_depth=2) == [[1]]
    with pytest.raises(RequestError, match="more than 1 levels"):
        parse_json(b"[[1]]", max_depth=1)


def test_metrics_public_opens_only_metrics():
    settings = ServeSettings(api_key="k", metrics_public=True)
    with BackgroundServer(create_app(LengthReward(), settings)) as server:
        assert httpx.get(f"{server.url}/metrics").status_code == 200
        assert httpx.get(f"{server.url}/info").status_code == 401
        r = httpx.post(f"{server.url}/score", json={"prompts": ["p"], "responses": ["a"]})
        assert r.status_code == 401


def test_lone_surrogate_in_references_is_a_400_naming_the_nested_field(url):
    body = (b'{"prompts": ["p", "q"], "responses": ["a", "b"], '
            b'"ground_truth": ["ok", {"tests": [{"output": "x"}, {"output": "y \\udc00"}]}]}')
    r = httpx.post(f"{url}/score", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["field"] == "ground_truth[1].tests[1].output"
    assert "lone surrogate '\\udc00' at character 2" in r.json()["error"]
    labels = b'{"query": ["pa"], "prompts": ["p"], "labels": [["\\ud800"]]}'
    r = httpx.post(f"{url}/get_reward", content=labels,
                   headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["field"] == "labels[0][0]"
    raw = b'{"query": ["pa"], "prompts": ["p"], "labels": ["\xed\xa0\x80"]}'  # CESU-8 bytes
    r = httpx.post(f"{url}/get_reward", content=raw, headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["field"] == "labels[0]"
    paired = b'{"query": ["pa"], "prompts": ["p"], "labels": ["\\ud83d\\ude00"]}'  # a valid pair
    r = httpx.post(f"{url}/get_reward", content=paired,
                   headers={"Content-Type": "application/json"})
    assert r.status_code == 200 and r.json()["rewards"] == [1.0]


# ------------------------------------------------------------------ slow clients

TIMEOUT_S = 1.0


@pytest.fixture(scope="module")
def quick_url():
    settings = ServeSettings(header_timeout_s=TIMEOUT_S, body_timeout_s=TIMEOUT_S)
    with BackgroundServer(create_app(LengthReward(), settings)) as server:
        yield server.url


def _connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=20)


def _send_slowly(sock: socket.socket, data: bytes, every: float) -> tuple[bytes, float]:
    """Send ``data`` a byte every ``every`` s, reading any answer, until the server closes
    the connection or all is sent; (what the server said, seconds)."""
    start = time.monotonic()
    answer = b""
    sock.setblocking(False)
    for byte in data:
        try:
            sock.send(bytes([byte]))
        except OSError:  # the server has closed the connection
            break
        time.sleep(every)
        try:
            chunk = sock.recv(65536)
        except BlockingIOError:
            continue
        except OSError:
            break
        if not chunk:
            break
        answer += chunk
    return answer, time.monotonic() - start


def test_headers_sent_a_byte_at_a_time_are_cut_off(quick_url):
    head = b"POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" * 3
    with _connect(quick_url) as sock:
        answer, seconds = _send_slowly(sock, head, every=0.05)  # all of it would take 7.5 s
    assert answer == b""  # closed without an answer: there was no request to answer
    assert TIMEOUT_S <= seconds < TIMEOUT_S + 2


def test_an_idle_connection_is_closed_and_a_kept_alive_one_rearms(quick_url):
    with _connect(quick_url) as sock:
        start = time.monotonic()
        assert sock.recv(1) == b""  # the server hung up
        assert TIMEOUT_S <= time.monotonic() - start < TIMEOUT_S + 2
    with httpx.Client(base_url=quick_url) as client:  # one connection, several requests
        for _ in range(3):
            assert client.get("/health").status_code == 200
            time.sleep(TIMEOUT_S / 2)  # each wait alone is within the bound


def test_a_body_sent_a_byte_at_a_time_gets_408(quick_url):
    body = b'{"prompts": ["p"], "responses": ["a"]}'
    head = (b"POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body))
    with _connect(quick_url) as sock:
        sock.sendall(head)
        answer, seconds = _send_slowly(sock, body, every=0.1)  # all of it would take 3.8 s
    assert answer.startswith(b"HTTP/1.1 408") and b"did not arrive within 1 s" in answer
    assert b"connection: close" in answer.lower()
    assert TIMEOUT_S <= seconds < TIMEOUT_S + 2
    ok = httpx.post(f"{quick_url}/score", json={"prompts": ["p"], "responses": ["a b"]})
    assert ok.status_code == 200 and ok.json()["rewards"] == [2.0]


# ------------------------------------------------------------------ fairness


class SlowWords:
    """Reward = words in the response; costs ``per_item`` seconds per item, on one thread."""

    def __init__(self, per_item: float) -> None:
        self.per_item = per_item
        self.calls: list[int] = []

    def score(self, prompts, responses):
        self.calls.append(len(responses))
        time.sleep(self.per_item * len(responses))
        return np.array([len(r.split()) for r in responses], dtype=float)


def test_a_large_request_cannot_starve_a_small_one():
    model = SlowWords(per_item=0.001)  # 4,096 items: 4.1 s of model time
    settings = ServeSettings(max_batch=64, max_wait_ms=5)
    with BackgroundServer(create_app(model, settings)) as server:
        big_body = {"prompts": ["p"] * 4096, "responses": [("w " * (i % 7)).strip() for i in
                                                           range(4096)]}
        big: dict = {}

        def send_big() -> None:
            start = time.monotonic()
            big["response"] = httpx.post(f"{server.url}/score", json=big_body, timeout=120)
            big["seconds"] = time.monotonic() - start

        thread = threading.Thread(target=send_big)
        thread.start()
        time.sleep(0.5)  # the large request is being scored
        start = time.monotonic()
        small = httpx.post(f"{server.url}/score", json={"prompts": ["q"], "responses": ["a b c"]},
                           timeout=120)
        small_seconds = time.monotonic() - start
        thread.join()
    assert small.status_code == 200 and small.json()["rewards"] == [3.0]
    assert big["response"].json()["rewards"] == [float(i % 7) for i in range(4096)]
    assert big["seconds"] > 4.0  # 64 calls of 64 ms
    assert small_seconds < 0.5, small_seconds  # one call in flight + one call, not 3.6 s
    assert max(model.calls) == 64 and sum(model.calls) == 4097


# ------------------------------------------------------------------ the command's timing options


def _serve_cli(monkeypatch, *args: str):
    """``rewardlab serve --rewards exact ARGS`` with uvicorn replaced; (result, settings seen)."""
    import typer
    from typer.testing import CliRunner

    import rewardlab.serve.runner as runner
    from rewardlab.cli import serve_cmd

    served: list[ServeSettings] = []
    monkeypatch.setattr(runner, "run_server", lambda model, settings, **kw: served.append(settings))
    app = typer.Typer()
    app.callback()(lambda: None)
    serve_cmd.register(app)
    result = CliRunner(env={"COLUMNS": "250"}).invoke(
        app, ["serve", "--rewards", "exact", *args]
    )
    return result, served


def test_serve_takes_the_timeouts_and_refuses_absurd_timings(monkeypatch):
    result, served = _serve_cli(monkeypatch, "--header-timeout", "2.5", "--body-timeout", "30")
    assert result.exit_code == 0, result.output
    assert (served[0].header_timeout_s, served[0].body_timeout_s) == (2.5, 30.0)
    for args, field in [
        (("--max-wait-ms", "1e12"), "max_wait_ms must be in [0, 10000], got 1000000000000.0"),
        (("--header-timeout", "0"), "header_timeout_s must be in (0, 3600], got 0.0"),
        (("--body-timeout", "nan"), "must be a finite number, got nan"),  # every number option
    ]:
        result, served = _serve_cli(monkeypatch, *args)
        assert result.exit_code == 2 and served == []
        assert field in result.output and "Traceback" not in result.output
