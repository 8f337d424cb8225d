"""The option walk (issue 25) of ``rewardlab serve``'s settings: for each option × component,
the option changes what the server answers, or is refused as a bad option (exit 2, one line
naming it) before the server starts.

A serve option changes what the server does, not a file: each run goes through the CLI with
uvicorn stubbed out (so the flag is read where the user gives it), and the app it would serve
is driven in-process (FastAPI's ``TestClient``, or the ASGI app itself) with one request
per option whose answer (status, body, ``/metrics``) differs with the option against
without it (:data:`PROBES`). Two cannot be shown in-process: ``--header-timeout`` is enforced
by the uvicorn protocol, not by the app, so it is shown on a loopback server in a thread; and
``--host``/``--port`` say where to bind, so :func:`test_host_and_port_reach_uvicorn` checks
they reach uvicorn's configuration instead (binding another interface than loopback in a test
would expose it, and a sandbox may have none).

Components: a rewardlab model (one member, two members), a Hugging Face classifier, and a
recipe normalizing by batch, whose requests the server never merges: it does not read
``--max-batch`` and ``--max-wait-ms``. The loading options are walked by
``tests/test_option_reach.py``.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import torch
from typer.testing import CliRunner

from model_kinds import head_model
from option_walk import command_flags
from rewardlab.cli.main import app
from test_option_reach import COMMAND_OPTIONS

runner = CliRunner()
KEY = "WALK_SERVE_KEY"
BATCHING = {"--max-batch", "--max-wait-ms"}
SETTINGS = {"--max-batch", "--max-wait-ms", "--api-key-env", "--max-items", "--max-chars",
            "--max-body-bytes", "--max-json-depth", "--metrics-public", "--strip-suffix",
            "--drift-reference", "--drift-bins", "--header-timeout", "--body-timeout"}
COMPONENTS = {"head": ["--model", "{head}"], "recipe": ["--rewards", "{recipe}"],
              "head2": ["--model", "{head2}"], "hf": ["--model", "{hf}"]}
READS = {"head": SETTINGS, "recipe": SETTINGS - BATCHING,
         "head2": SETTINGS | {"--aggregate-params"}, "hf": SETTINGS | {"--aggregate-params"}}
VALUES = {"--max-batch": ["--max-batch", "1"], "--max-wait-ms": ["--max-wait-ms", "2000"],
          "--api-key-env": ["--api-key-env", KEY], "--max-items": ["--max-items", "2"],
          "--max-chars": ["--max-chars", "5"], "--max-body-bytes": ["--max-body-bytes", "100"],
          "--max-json-depth": ["--max-json-depth", "1"], "--metrics-public": ["--metrics-public"],
          "--strip-suffix": ["--strip-suffix", " END"],
          "--drift-reference": ["--drift-reference", "10"], "--drift-bins": ["--drift-bins", "3"],
          "--header-timeout": ["--header-timeout", "0.5"],
          "--body-timeout": ["--body-timeout", "0.3"],
          "--aggregate-params": ["--aggregate-params", '{"lam": 4.0}']}
NEEDS = {"--metrics-public": ["--api-key-env", KEY], "--drift-bins": ["--drift-reference", "10"],
         "--aggregate-params": ["--aggregate", "uwo"]}
"""Flag → the arguments it is read under (its baseline has them too)."""
SELECTORS = {"--model": "the reward: each kind is a component",
             "--rewards": "the reward: a batch-dependent recipe is a component",
             "--host": "where to listen: test_host_and_port_reach_uvicorn",
             "--port": "where to listen: test_host_and_port_reach_uvicorn"}
PROMPTS = ["what is the sky", "hello", "why is water blue"]
RESPONSES = ["the sky is blue", "hello world", "it is the sky"]


def cases() -> list:
    """Each (component, option): the default suite runs each option on the first component
    that reads it, and every refusal; the runs on the other readers are marked slow."""
    first = {option: next(c for c in COMPONENTS if option in READS[c]) for option in VALUES}
    return [pytest.param(component, option, id=f"{component} {option}",
                         marks=[pytest.mark.slow] if option in READS[component]
                         and first[option] != component else [])
            for component in COMPONENTS for option in sorted(VALUES)]


@pytest.fixture(autouse=True)
def _setup(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv(KEY, "sesame")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict[str, Any]:
    """The specs of the components (the Hugging Face classifier built when first asked)."""
    root = tmp_path_factory.mktemp("serve-walk")
    recipe = root / "recipe.yaml"
    recipe.write_text("components:\n  rep: {verifier: repetition, normalize: batch}\n")
    return {"root": root, "head": str(head_model(root / "head")),
            "head2": str(head_model(root / "head2", n_members=2, seed=1)),
            "recipe": str(recipe)}


def filled(args: list[str], world: dict[str, Any]) -> list[str]:
    if "{hf}" in args and "hf" not in world:
        from tiny_hf import save_decoder_rm

        world["hf"] = str(save_decoder_rm(world["root"] / "hf", num_labels=3, seed=2))
    for name in ("head", "head2", "hf", "recipe"):
        args = [a.replace("{" + name + "}", world.get(name, "")) for a in args]
    return args


def serve(args: list[str], world: dict[str, Any], monkeypatch) -> tuple[int, str, Any]:
    """``(exit code, output, (model, settings) or None)`` of ``rewardlab serve ARGS`` with
    the server not started."""
    import rewardlab.serve.runner as serve_runner

    served: list = []
    monkeypatch.setattr(serve_runner, "run_server",
                        lambda model, settings, **kw: served.append((model, settings)))
    result = runner.invoke(app, ["serve", *filled(args, world)])
    return result.exit_code, result.output, served[0] if served else None


# ------------------------------------------------------------------ one request per option


def client(served: tuple) -> Any:
    from fastapi.testclient import TestClient

    from rewardlab.data.images import decode_image
    from rewardlab.serve.app import create_app

    return TestClient(create_app(*served, decode_image))


def score_body(n: int = 3, responses: list[str] | None = None) -> dict[str, Any]:
    return {"prompts": (PROMPTS * n)[:n], "responses": responses or (RESPONSES * n)[:n]}


def metric_lines(text: str, prefix: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(prefix)]


def answer(response: Any) -> tuple[int, Any]:
    """Status and body of an answer, without the model's name."""
    body = response.json()
    if isinstance(body, dict):
        body.pop("model", None)
    return response.status_code, body


def batches(served: tuple) -> list[str]:
    """A request of 3 items: the model calls it made (``/metrics``)."""
    with client(served) as c:
        c.post("/score", json=score_body())
        return metric_lines(c.get("/metrics").text, "rewardlab_batch_size")


def merged(served: tuple) -> list[str]:
    """Two requests 0.3 s apart: how many requests each model call merged (``/metrics``)."""
    with client(served) as c:
        threads = [threading.Thread(target=c.post, args=("/score",),
                                    kwargs={"json": score_body(1)})]
        threads[0].start()
        time.sleep(0.3)
        c.post("/score", json=score_body(1))
        threads[0].join()
        return metric_lines(c.get("/metrics").text, "rewardlab_batch_requests")


def posted(body: Any) -> Callable[[tuple], tuple[int, Any]]:
    def post(served: tuple) -> tuple[int, Any]:
        with client(served) as c:
            return answer(c.post("/score", json=body))
    return post


def metrics_status(served: tuple) -> int:
    """``GET /metrics`` without a bearer token."""
    with client(served) as c:
        return c.get("/metrics").status_code


def drift(n: int) -> Callable[[tuple], list[str]]:
    """``n`` rewards served, the second half more repetitive: the drift gauges."""
    def watch(served: tuple) -> list[str]:
        responses = [f"ok {'more ' * (i % 5 + 4 * (i >= n // 2))}words" for i in range(n)]
        with client(served) as c:
            c.post("/score", json={"prompts": ["hi"] * n, "responses": responses})
            return metric_lines(c.get("/metrics").text, "rewardlab_reward_")
    return watch


def idle_connection_closed(served: tuple) -> bool:
    """A connection that sends nothing: closed by the server within 1.5 s? (The header timeout
    is uvicorn's protocol's, so a loopback server in a thread.)"""
    from rewardlab.data.images import decode_image
    from rewardlab.serve.app import create_app
    from rewardlab.serve.runner import BackgroundServer

    with BackgroundServer(create_app(*served, decode_image)) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=1.5) as sock:
            try:
                return sock.recv(1) == b""
            except TimeoutError:
                return False


def stalled_body_status(served: tuple) -> int | None:
    """A request whose body never comes: the status answered within 1 s, if any."""
    from rewardlab.serve.app import create_app

    app_ = create_app(*served)
    sent: list[dict] = []
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": "/score", "raw_path": b"/score",
             "root_path": "", "query_string": b"", "server": ("test", 80),
             "client": ("test", 1), "headers": [(b"content-type", b"application/json"),
                                                (b"content-length", b"10")]}

    async def receive() -> dict:
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    async def drive() -> None:
        try:
            await asyncio.wait_for(app_(scope, receive, send), 1.0)
        except TimeoutError:
            pass

    asyncio.run(drive())
    return next((m["status"] for m in sent if m["type"] == "http.response.start"), None)


PROBES: dict[str, Callable[[tuple], Any]] = {
    "--max-batch": batches,
    "--max-wait-ms": merged,
    "--api-key-env": posted(score_body()),
    "--max-items": posted(score_body(3)),
    "--max-chars": posted(score_body(1, ["a response of 25 letters"])),
    "--max-body-bytes": posted(score_body(3)),
    "--max-json-depth": posted(score_body(1)),
    "--metrics-public": metrics_status,
    "--strip-suffix": posted(score_body(2, ["the sky is blue END", "hello END"])),
    "--drift-reference": drift(12),
    "--drift-bins": drift(20),
    "--header-timeout": idle_connection_closed,
    "--body-timeout": stalled_body_status,
    "--aggregate-params": posted(score_body()),
}
"""Option → the request(s) whose answer it changes, and what of the answer is compared."""


# ------------------------------------------------------------------------------ the walk


def test_every_option_is_walked():
    offered = command_flags("serve")
    parts = [set(VALUES), set(SELECTORS), set(COMMAND_OPTIONS["serve"])]
    assert set().union(*parts) == offered
    assert sum(map(len, parts)) == len(offered), "a flag is walked twice"
    assert set(PROBES) == set(VALUES) == set().union(*READS.values())


@pytest.mark.parametrize(("component", "option"), cases())
def test_an_option_changes_the_answer_or_is_refused_before_serving(world, monkeypatch,
                                                                   component, option):
    base = [*COMPONENTS[component], *NEEDS.get(option, [])]
    if option in READS[component]:
        code, output, without = serve(base, world, monkeypatch)
        assert code == 0, output
        code, output, given = serve([*base, *VALUES[option]], world, monkeypatch)
        assert code == 0, output
        assert PROBES[option](given) != PROBES[option](without), (
            f"{option} changed nothing for {component}")
        return
    code, output, served = serve([*COMPONENTS[component], *VALUES[option]], world, monkeypatch)
    assert code == 2, output
    (line,) = [x for x in output.splitlines() if x.startswith("error:")]
    named = [option, *[a for a in NEEDS.get(option, []) if a.startswith("--")]]
    assert any(line.startswith(f"error: Invalid value for '{flag}': ") for flag in named), line
    assert served is None


def test_metrics_public_without_a_key_is_refused(world, monkeypatch):
    """``--metrics-public`` opens ``/metrics`` when a key closes the routes: without
    ``--api-key-env`` nothing is closed, and it is refused rather than left unread."""
    code, output, served = serve(["--model", "{head}", "--metrics-public"], world, monkeypatch)
    assert code == 2 and served is None, output
    assert output.startswith("error: Invalid value for '--metrics-public': read with "
                             "--api-key-env only")


def test_host_and_port_reach_uvicorn(world, monkeypatch):
    """Where the server listens cannot be shown in-process (see the module doc): the values
    reach the configuration uvicorn is started with, and the defaults otherwise."""
    import uvicorn

    started: list[dict] = []
    monkeypatch.setattr(uvicorn, "run", lambda app_, **config: started.append(config))
    for extra in ([], ["--host", "0.0.0.0", "--port", "9123"]):
        result = runner.invoke(app, ["serve", *filled(["--model", "{head}"], world), *extra])
        assert result.exit_code == 0, result.output
    assert [(c["host"], c["port"]) for c in started] == [("127.0.0.1", 8000), ("0.0.0.0", 9123)]


def test_a_key_is_required_and_accepted(world, monkeypatch):
    """``--api-key-env``: the walk shows a request without the token refused (401); with the
    token from the variable it is answered."""
    _, _, served = serve(["--model", "{head}", "--api-key-env", KEY], world, monkeypatch)
    with client(served) as c:
        headers = {"Authorization": "Bearer sesame"}
        assert c.post("/score", json=score_body(), headers=headers).status_code == 200
        assert c.post("/score", json=score_body()).status_code == 401

