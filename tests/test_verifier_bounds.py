"""Every verifier call is bounded in time: worker processes, a hard per-sample timeout, a memory cap.

The hostile answer is ``\\boxed{9^{9^{9}}}`` (issue 24): SymPy evaluates a
370-million-digit power, which no signal can interrupt. It must get the
failure reward within the verifier's timeout in every context: a thread (as in
the server and in TRL's or verl's reward threads), the ``score`` CLI, the TRL
adapter and a real ``rewardlab serve`` process, whose ``/health`` keeps
answering meanwhile.
"""

from __future__ import annotations

import json
import logging
import mmap
import os
import pickle
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from rewardlab.cli.main import app
from rewardlab.integrations.trl import reward_function
from rewardlab.verifiers import VERIFIERS, Verifier, make_verifier
from rewardlab.verifiers.bounded import (
    DEFAULT_TIMEOUT,
    MAX_TIMEOUT,
    WORKER_MEMORY_MB,
    BoundedRunner,
    Outcome,
    check_timeout,
)

TOWER = r"The answer is \boxed{9^{9^{9}}}"
SLACK = 5.0  # seconds beyond the timeout for starting, killing and replacing a worker on a busy machine (8.4 s seen at load 6 on 2 cores with 3.0)


class Scripted(Verifier):
    """A rule driven by the response: ``hang``, ``die``, ``mmap``, ``raise``; else its length."""

    name = "scripted"
    requires_reference = False

    def check(self, prompt: str, response: str, reference: object) -> float:
        if response == "hang":
            time.sleep(600)
        if response == "die":
            os._exit(7)
        if response == "mmap":  # 3 GiB of address space: over the cap, under this machine's RAM
            with mmap.mmap(-1, 3 * 1024**3):
                return -1.0
        if response == "raise":
            raise ValueError("scripted failure")
        if response == "pid":
            return float(os.getpid())
        return float(len(response))


def _timed(fn, *args, **kwargs):
    start = time.monotonic()
    out = fn(*args, **kwargs)
    return out, time.monotonic() - start


def _in_thread(fn, *args, **kwargs):
    """``fn`` run in a non-main thread, where math-verify's signal timeouts are off."""
    box: dict = {}
    thread = threading.Thread(target=lambda: box.update(out=_timed(fn, *args, **kwargs)))
    thread.start()
    thread.join(timeout=120)
    assert not thread.is_alive(), "the call did not return within 120 s"
    return box["out"]


# ------------------------------------------------------------------ the runner itself


def test_a_hanging_sample_is_killed_and_the_rest_of_its_chunk_still_scored(caplog):
    verifier = Scripted(failure_reward=-5.0, timeout=1.0)
    verifier._runner = BoundedRunner(verifier, 1.0, workers=1)  # one chunk, one worker
    with caplog.at_level(logging.WARNING, logger="rewardlab.verifiers"):
        rewards, seconds = _timed(verifier.score, ["p"] * 5, ["a", "hang", "bb", "hang", "ccc"])
    assert rewards.tolist() == [1.0, -5.0, 2.0, -5.0, 3.0]
    assert seconds < 2 * 1.0 + 2 * SLACK
    failures = [r.getMessage() for r in caplog.records]
    assert len(failures) == 2 and "sample 1 (reward -5.0): timed out after 1 s" in failures[0]
    assert "sample 3" in failures[1]


def test_a_dying_worker_fails_its_sample_and_is_replaced(caplog):
    verifier = Scripted(timeout=5.0)
    with caplog.at_level(logging.WARNING, logger="rewardlab.verifiers"):
        rewards = verifier.score(["p"] * 4, ["a", "die", "raise", "dddd"])
    assert rewards.tolist() == [1.0, 0.0, 0.0, 4.0]
    messages = " | ".join(r.getMessage() for r in caplog.records)
    assert "the worker process died (exit code 7)" in messages
    assert "ValueError: scripted failure" in messages
    # the workers survive between calls: the same processes answer again
    first = set(verifier.score(["p"] * 2, ["pid", "pid"]).tolist())
    assert first == set(verifier.score(["p"] * 2, ["pid", "pid"]).tolist())
    assert os.getpid() not in first


def test_a_call_that_fails_leaves_no_result_in_flight_for_the_next():
    runner = BoundedRunner(Scripted(timeout=5.0), 5.0, workers=2)
    runner.run([(0, "", "a", None), (1, "", "b", None)])  # starts both workers
    start = runner._start

    def no_more_workers(count: int) -> list:
        if count:
            raise RuntimeError("no more workers")
        return start(count)

    runner._start = no_more_workers  # the replacement of the worker that dies cannot start
    items = [(0, "", "die", None)] + [(i, "", "x" * i, None) for i in range(1, 40)]
    with pytest.raises(RuntimeError, match="no more workers"):
        runner.run(items)  # the other worker was busy with a chunk of its own
    assert runner.worker_pids == []
    runner._start = start
    assert runner.run([(0, "", "abc", None)]) == {0: Outcome(3.0, None)}


def test_a_worker_cannot_take_more_memory_than_its_cap(caplog):
    verifier = Scripted(timeout=10.0)
    with caplog.at_level(logging.WARNING, logger="rewardlab.verifiers"):
        rewards = verifier.score(["p", "p"], ["mmap", "ok"])
    assert rewards.tolist() == [0.0, 2.0]
    (record,) = caplog.records
    assert "Cannot allocate memory" in record.getMessage()
    # in this process (no cap) the same mapping succeeds: the cap made the difference
    assert Scripted().check("p", "mmap", None) == -1.0 and WORKER_MEMORY_MB < 3 * 1024


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf"), MAX_TIMEOUT * 2, True, "5"])
def test_absurd_timeouts_are_refused(bad):
    with pytest.raises(ValueError, match="timeout"):
        check_timeout(bad)
    with pytest.raises(ValueError, match="timeout"):
        make_verifier("math", timeout=bad)


def test_timeout_is_a_parameter_of_bounded_verifiers_only():
    assert make_verifier("math").timeout == DEFAULT_TIMEOUT == 5.0
    assert make_verifier("math", timeout=2).timeout == 2.0
    assert make_verifier("format", timeout=2).timeout == 2.0
    assert make_verifier("choice").timeout is None
    with pytest.raises(ValueError, match="runs in-process and takes no timeout"):
        make_verifier("json", timeout=2)
    with pytest.raises(ValueError, match=r"bad parameters \['timeout'\]"):
        make_verifier("choice", timeout=2)


BOUNDED = [name for name in VERIFIERS.names() if VERIFIERS.get(name).default_timeout is not None]


def test_rules_that_parse_or_run_operator_regexes_are_bounded():
    assert {"exact", "format", "json-schema", "math", "normalized"} <= set(BOUNDED)


@pytest.mark.parametrize("name", BOUNDED)
def test_every_bounded_verifier_can_be_sent_to_a_worker(name):
    cls = VERIFIERS.get(name)
    verifier = cls()
    verifier._runner = BoundedRunner(verifier, 1.0)  # a pool must not travel with it
    copy = pickle.loads(pickle.dumps(verifier))
    assert type(copy) is cls and copy._runner is None and copy.timeout == verifier.timeout


# ---------------------------------------------------------- the hostile answer, every context


def test_math_tower_fails_in_time_off_the_main_thread():
    verifier = make_verifier("math", failure_reward=-1.0)  # the default 5 s
    assert verifier.score(["q"] * 2, ["1", "2"], ["1", "1"]).tolist() == [1.0, 0.0]  # warm
    rewards, seconds = _in_thread(verifier.score, ["q"] * 3, ["\\boxed{5}", TOWER, "5"], ["5"] * 3)
    # the hard bound decides, not math-verify's own 5 s alarm (which would give 0.0)
    assert rewards.tolist() == [1.0, -1.0, 1.0]
    assert seconds < DEFAULT_TIMEOUT + SLACK


def test_math_tower_fails_in_time_in_the_trl_adapter():
    func = reward_function(make_verifier("math", timeout=1))
    assert func(prompts=["q"] * 2, completions=["7", "7"], solution=["7", "7"]) == [1.0, 1.0]
    rewards, seconds = _in_thread(
        func, prompts=["q", "q"], completions=[TOWER, "\\boxed{7}"], solution=["7", "7"]
    )
    assert rewards == [0.0, 1.0] and seconds < 1.0 + SLACK


def test_math_tower_fails_in_time_in_the_score_cli(tmp_path: Path):
    def score(*responses: str) -> tuple[list[float], float]:
        data, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
        rows = [{"prompt": "q", "response": r, "solution": "7"} for r in responses]
        data.write_text("".join(json.dumps(r) + "\n" for r in rows))
        args = ["score", "--rewards", "math", "--data", str(data), "--out", str(out)]
        result, seconds = _timed(CliRunner().invoke, app, args)
        assert result.exit_code == 0, result.output
        return [json.loads(x)["reward"] for x in out.read_text().splitlines()], seconds

    assert score("\\boxed{7}")[0] == [1.0]  # imports the command's modules
    rewards, seconds = score(TOWER, "\\boxed{7}")
    assert rewards == [0.0, 1.0] and seconds < DEFAULT_TIMEOUT + SLACK


def test_math_tower_fails_in_time_in_verl_in_process():
    import inspect

    import rewardlab.integrations.verl as verl

    if "rewards" not in inspect.signature(verl.compute_score).parameters:
        pytest.skip("needs verl's in-process path, compute_score(rewards=...) (branch 'wire')")

    def scores(results: list) -> list[float]:
        return [r["score"] if isinstance(r, dict) else r for r in results]

    warm = verl.compute_score_batch(["gsm8k"] * 2, ["7", "8"], ["7", "7"], rewards="math")
    assert scores(warm) == [1.0, 0.0]  # starts the workers of the verifier verl keeps
    batch, seconds = _in_thread(
        verl.compute_score_batch, ["gsm8k"] * 2, [TOWER, "\\boxed{7}"], ["7", "7"],
        rewards="math",
    )
    assert scores(batch) == [0.0, 1.0] and seconds < DEFAULT_TIMEOUT + SLACK
    one, seconds = _in_thread(verl.compute_score, "gsm8k", TOWER, "7", {}, rewards="math")
    assert scores([one]) == [0.0] and seconds < DEFAULT_TIMEOUT + SLACK


def _score_in_a_pool_worker(response: str) -> float:
    return float(make_verifier("math", timeout=1).score(["q"], [response], ["7"])[0])


def test_a_daemonic_pool_worker_scores_in_process(caplog):
    import multiprocessing

    with multiprocessing.get_context("forkserver").Pool(1) as pool:  # its workers are daemonic
        assert pool.map(_score_in_a_pool_worker, ["\\boxed{7}", "8"]) == [1.0, 0.0]


def test_the_overhead_benchmark_runs(tmp_path: Path, shared_data: Path):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    try:
        import verifier_bounds
    finally:
        sys.path.pop(0)
    out = tmp_path / "b.json"
    result = verifier_bounds.main(["--data", str(shared_data), "--n", "12", "--repeats", "1",
                                   "--out", str(out)])
    saved = json.loads(out.read_text())
    for name in ("in_process", "bounded", "bounded_1_worker", "bounded_cold"):
        assert saved[name]["correct"] == 12 and saved[name]["seconds"] > 0
    assert result["overhead"] == saved["overhead"] > 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_math_server_keeps_answering_health_while_a_tower_is_scored():
    port = _free_port()
    command = [sys.executable, "-m", "rewardlab.cli.main", "serve", "--rewards", "math"]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, "the server exited"
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not start within 120 s"
            time.sleep(0.2)
        def body(*responses: str) -> dict:
            return {"query": [f"Q: 2+5? {r}" for r in responses],
                    "prompts": ["Q: 2+5? "] * len(responses), "labels": ["7"] * len(responses)}

        warm = httpx.post(f"{url}/get_reward", json=body("7", "8"), timeout=120)  # starts workers
        assert warm.json()["rewards"] == [1.0, 0.0]
        answer: dict = {}

        def post() -> None:
            answer["response"], answer["seconds"] = _timed(
                httpx.post, f"{url}/get_reward", json=body(TOWER, "\\boxed{7}"), timeout=120
            )

        poster = threading.Thread(target=post)
        poster.start()
        health = []
        while poster.is_alive():
            out, seconds = _timed(httpx.get, f"{url}/health", timeout=10)
            health.append((out.status_code, seconds))
            time.sleep(0.2)
        poster.join()
        assert len(health) >= 5  # the tower took a while: /health was asked during it
        assert all(status == 200 and seconds < 1.0 for status, seconds in health), health
        response = answer["response"]
        assert response.status_code == 200, response.text
        assert response.json()["rewards"] == [0.0, 1.0]
        assert answer["seconds"] < DEFAULT_TIMEOUT + SLACK
    finally:
        proc.terminate()
        log = proc.communicate(timeout=30)[0]
    assert "verifier 'math' failed on sample 0 (reward 0.0): timed out after 5 s" in log
