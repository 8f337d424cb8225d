"""Bodies are bounded before parsing; deep nesting and lone surrogates get a 400."""

from __future__ import annotations

import json
import socket
import time

import httpx
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
