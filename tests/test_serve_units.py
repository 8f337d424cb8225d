"""Unit tests of the server's parts that need no HTTP: validation, wire formats,
metrics exposition and the micro-batcher."""

from __future__ import annotations

import asyncio
import math
import threading
import time

import pytest

from rewardlab.serve import compat
from rewardlab.serve.batching import MicroBatcher, ScoringError
from rewardlab.serve.metrics import Histogram, ServerMetrics, escape_label
from rewardlab.serve.model_ops import outcome_rewards, response_steps
from rewardlab.serve.schemas import RequestError, parse_compare, parse_score
from rewardlab.serve.settings import ServeSettings

SMALL = ServeSettings(max_items=3, max_chars=10)


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("body", "field", "status"),
    [
        ([1, 2], None, 400),
        ({"responses": ["a"]}, "prompts", 400),
        ({"prompts": "a", "responses": ["a"]}, "prompts", 400),
        ({"prompts": [], "responses": []}, "prompts", 400),
        ({"prompts": ["a", 3], "responses": ["a", "b"]}, "prompts[1]", 400),
        ({"prompts": ["a"], "responses": ["a", "b"]}, "responses", 400),
        ({"prompts": ["a"] * 4, "responses": ["a"] * 4}, "prompts", 413),
        ({"prompts": ["a"], "responses": ["x" * 11]}, "responses[0]", 413),
        ({"prompts": ["a"], "responses": ["b"], "uncertainty": "yes"}, "uncertainty", 400),
        ({"prompts": ["a"]}, "responses", 400),
        ({"prompts": ["a"], "responses": ["b"], "steps": [["b"]]}, "responses", 400),
        ({"prompts": ["a"], "steps": [[]]}, "steps[0]", 400),
        ({"prompts": ["a"], "steps": [["ok", 5]]}, "steps[0][1]", 400),
    ],
)
def test_parse_score_rejects_bad_bodies_naming_the_field(body, field, status):
    with pytest.raises(RequestError) as info:
        parse_score(body, SMALL)
    assert info.value.field == field
    assert info.value.status == status
    if field:
        assert f"field {field!r}" in str(info.value)


def test_parse_score_accepts_responses_or_steps():
    req = parse_score({"prompts": ["p"], "responses": ["r"], "uncertainty": True}, SMALL)
    assert (req.prompts, req.responses, req.steps, req.uncertainty) == (["p"], ["r"], None, True)
    req = parse_score({"prompts": ["p"], "steps": [["s1", "s2"]]}, SMALL)
    assert req.steps == [["s1", "s2"]] and req.responses is None


def test_parse_compare_checks_all_three_lists():
    ok = parse_compare({"prompts": ["p"], "first": ["a"], "second": ["b"]}, SMALL)
    assert (ok.first, ok.second) == (["a"], ["b"])
    with pytest.raises(RequestError, match="'second': has 2 items but 'prompts' has 1"):
        parse_compare({"prompts": ["p"], "first": ["a"], "second": ["b", "c"]}, SMALL)


def test_settings_validate_names_the_field():
    with pytest.raises(ValueError, match="max_batch"):
        ServeSettings(max_batch=0).validate()
    with pytest.raises(ValueError, match="port"):
        ServeSettings(port=70000).validate()
    with pytest.raises(ValueError, match="max_wait_ms"):
        ServeSettings(max_wait_ms=-1).validate()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_wait_ms", 1e12),
        ("max_wait_ms", 10_000.5),
        ("max_wait_ms", math.nan),
        ("max_wait_ms", math.inf),
        ("header_timeout_s", 0),
        ("header_timeout_s", -1.0),
        ("header_timeout_s", math.inf),
        ("body_timeout_s", math.nan),
        ("body_timeout_s", 3601),
        ("body_timeout_s", True),
    ],
)
def test_absurd_timings_are_refused_naming_the_field(field, value):
    with pytest.raises(ValueError, match=rf"^{field} must be in .*got {value!r}$"):
        ServeSettings(**{field: value}).validate()


def test_timings_at_their_bounds_are_accepted():
    settings = ServeSettings(max_wait_ms=10_000, header_timeout_s=3600, body_timeout_s=0.001)
    assert settings.validate() is settings
    assert ServeSettings(max_wait_ms=0).validate().max_wait_ms == 0


# ---------------------------------------------------------------- wire formats


def test_split_queries_uses_the_prompt_prefix_and_falls_back_to_whole_text():
    out = compat.split_queries(
        ["<user>hi<bot>hello there", "Q2 answer", "no prompt here"], ["<user>hi<bot>", "Q1", "x"]
    )
    assert out.prompts == ["<user>hi<bot>", "", ""]
    assert out.responses == ["hello there", "Q2 answer", "no prompt here"]
    assert out.split == [1.0, 0.0, 0.0]
    missing = compat.split_queries(["a b"], None)
    assert (missing.prompts, missing.responses, missing.split) == ([""], ["a b"], [0.0])


def test_openrlhf_body_and_response():
    body = {"query": ["P: x R: y z"], "prompts": ["P: x R:"], "labels": ["42"]}
    texts = compat.parse_openrlhf(body, ServeSettings())
    assert texts.responses == [" y z"]
    out = compat.openrlhf_response(texts, compat.Outcome([2.0]))
    assert out == {"rewards": [2.0], "scores": [2.0], "extra_logs": {"prompt_split": [1.0]}}
    logged = compat.openrlhf_response(texts, compat.Outcome([2.0], {"math": [1.0]}, [0.0]))
    assert logged["extra_logs"] == {"prompt_split": [1.0], "suffix_stripped": [0.0], "math": [1.0]}
    with pytest.raises(RequestError, match="'labels': has 2 items"):
        compat.parse_openrlhf({"query": ["a"], "labels": ["1", "2"]}, ServeSettings())


def test_llamafactory_body_and_response():
    name, texts = compat.parse_llamafactory(
        {"model": "model", "messages": ["a b"], "max_length": 4096}, ServeSettings()
    )
    assert (name, texts) == ("model", ["a b"])
    out = compat.llamafactory_response("model", [1.5])
    assert out["object"] == "score.evaluation" and out["scores"] == [1.5]
    assert out["id"].startswith("scoreval-")
    with pytest.raises(RequestError, match="'max_length'"):
        compat.parse_llamafactory({"messages": ["a"], "max_length": "long"}, ServeSettings())


def test_classify_maps_a_scalar_reward_to_one_label_probs():
    raw = compat.parse_classify({"model": "m", "input": "a b", "activation": False}, SMALL)
    assert (raw.texts, raw.use_activation) == (["a b"], False)
    out = compat.classify_response(raw, [2.0], "served")
    assert out["data"] == [{"index": 0, "label": "reward", "probs": [2.0], "num_classes": 1}]
    assert out["usage"]["prompt_tokens"] == 2 and out["model"] == "m"
    act = compat.parse_classify({"input": ["x", "y"], "use_activation": True}, SMALL)
    probs = [d["probs"][0] for d in compat.classify_response(act, [0.0, 2.0], "s")["data"]]
    expected = [0.5, 1 / (1 + math.exp(-2.0))]
    assert probs == pytest.approx(expected)
    # use_activation overrides the deprecated "activation"
    both = compat.parse_classify({"input": "x", "activation": True, "use_activation": False}, SMALL)
    assert both.use_activation is False
    with pytest.raises(RequestError, match="token ids"):
        compat.parse_classify({"input": [[1, 2, 3]]}, SMALL)
    with pytest.raises(RequestError, match="'messages'"):
        compat.parse_classify({"messages": [{"role": "user", "content": "x"}]}, SMALL)


def test_sigmoid_is_stable_at_the_extremes():
    assert compat.sigmoid(-1000.0) == 0.0 and compat.sigmoid(1000.0) == 1.0
    assert compat.sigmoid(math.log(3.0)) == pytest.approx(3.0 / 4.0)


def test_steps_split_and_min_aggregation():
    class OwnSteps:
        def split_steps(self, response):
            return response.split(";")

    plain = object()  # no split_steps: the rule of rewardlab.protocols.split_steps
    assert response_steps(plain, "step 1\n\n step 2 \n") == ["step 1", " step 2 "]
    assert response_steps(plain, "") == [""]  # an empty response is one empty step
    assert response_steps(OwnSteps(), "a;b\nc") == ["a", "b\nc"]
    assert outcome_rewards([[0.9, 0.2, 0.7], [0.5]]) == [0.2, 0.5]


# ---------------------------------------------------------------- metrics


def test_histogram_buckets_are_cumulative():
    h = Histogram("x", "help", [1, 2, 4])
    for value in (1, 3, 3, 10):
        h.observe((("k", "a"),), value)
    lines = h.render()
    # le=1: {1}; le=2: {1}; le=4: {1,3,3}; +Inf: all four; sum = 1+3+3+10 = 17
    assert 'x_bucket{k="a",le="1"} 1' in lines
    assert 'x_bucket{k="a",le="2"} 1' in lines
    assert 'x_bucket{k="a",le="4"} 3' in lines
    assert 'x_bucket{k="a",le="+Inf"} 4' in lines
    assert 'x_sum{k="a"} 17' in lines and 'x_count{k="a"} 4' in lines


def test_server_metrics_exposition():
    m = ServerMetrics()
    m.observe_request("/score", 200, 0.002)
    m.observe_request("/score", 413, 0.001)
    m.observe_request("/score", 500, 0.003)
    m.observe_batch("score", items=5, jobs=2, ok=False)
    text = m.render()
    assert text.endswith("\n")
    assert "# TYPE rewardlab_requests_total counter" in text
    assert 'rewardlab_requests_total{route="/score",status="413"} 1' in text
    assert 'rewardlab_request_errors_total{route="/score",type="client"} 1' in text
    assert 'rewardlab_request_errors_total{route="/score",type="server"} 1' in text
    assert 'rewardlab_batch_size_bucket{kind="score",le="4"} 0' in text
    assert 'rewardlab_batch_size_bucket{kind="score",le="8"} 1' in text
    assert 'rewardlab_batch_requests_sum{kind="score"} 2' in text
    assert 'rewardlab_batch_failures_total{kind="score"} 1' in text
    assert escape_label('a"b\\c\n') == 'a\\"b\\\\c\\n'


# ---------------------------------------------------------------- batcher


def _doubler(calls: list[int], sleep: float = 0.0):
    def fn(xs: list[float]) -> list[float]:
        calls.append(len(xs))
        time.sleep(sleep)
        return [2 * x for x in xs]

    return fn


def test_batcher_merges_concurrent_jobs_and_splits_results_back():
    calls: list[int] = []

    async def main() -> list[list[float]]:
        b = MicroBatcher(_doubler(calls), max_batch=100, max_wait_ms=50)
        b.start()
        try:
            return await asyncio.gather(b.submit([1.0, 2.0]), b.submit([3.0]), b.submit([4.0, 5.0]))
        finally:
            await b.stop()

    assert asyncio.run(main()) == [[2.0, 4.0], [6.0], [8.0, 10.0]]
    assert calls == [5]  # one forward pass for all three requests


def test_batcher_respects_max_batch_and_chunks_a_large_job():
    calls: list[int] = []

    async def main() -> list[list[float]]:
        b = MicroBatcher(_doubler(calls), max_batch=3, max_wait_ms=50)
        b.start()
        try:
            jobs = [
                b.submit([1.0, 1.0]),
                b.submit([2.0]),
                b.submit([3.0, 3.0]),
                b.submit([9.0] * 5),
            ]
            return await asyncio.gather(*jobs)
        finally:
            await b.stop()

    out = asyncio.run(main())
    assert out == [[2.0, 2.0], [4.0], [6.0, 6.0], [18.0] * 5]
    # round-robin, 3 items a call: one item of each of the first three jobs; then the
    # first job's second item, the third job's second item and the large job's first;
    # then the large job alone, 3 and 1
    assert calls == [3, 3, 3, 1]


def test_batcher_failure_is_isolated_to_the_failing_request():
    seen: list[tuple[int, int, bool]] = []

    def fn(xs: list[float]) -> list[float]:
        if -1.0 in xs:
            raise RuntimeError("boom")
        return xs

    async def main():
        b = MicroBatcher(
            fn, max_batch=2, max_wait_ms=20, on_batch=lambda i, j, s, ok: seen.append((i, j, ok))
        )
        b.start()
        try:
            return await asyncio.gather(
                b.submit([-1.0]), b.submit([1.0]), b.submit([2.0]), return_exceptions=True
            )
        finally:
            await b.stop()

    bad, innocent, good = asyncio.run(main())
    assert isinstance(bad, ScoringError) and "RuntimeError: boom" in str(bad)
    assert innocent == [1.0]  # shared the failing batch, then succeeded alone
    assert good == [2.0]
    # the batch of two fails, each job is re-run alone, then the third job runs
    assert seen == [(2, 2, False), (1, 1, False), (1, 1, True), (1, 1, True)]


def test_batcher_runs_the_model_off_the_event_loop_thread():
    threads: list[str] = []

    def fn(xs: list[float]) -> list[float]:
        threads.append(threading.current_thread().name)
        return xs

    async def main() -> None:
        b = MicroBatcher(fn, max_batch=4, max_wait_ms=0)
        b.start()
        await b.submit([1.0])
        await b.stop()

    asyncio.run(main())
    assert threads and threads[0] != threading.main_thread().name


def test_batcher_rejects_a_wrong_output_count():
    async def main():
        b = MicroBatcher(lambda xs: [0.0], max_batch=4, max_wait_ms=0)
        b.start()
        try:
            return await asyncio.gather(b.submit([1.0, 2.0]), return_exceptions=True)
        finally:
            await b.stop()

    (err,) = asyncio.run(main())
    assert isinstance(err, ScoringError) and "1 outputs for 2 items" in str(err)


def test_batcher_drops_a_cancelled_job_before_it_runs():
    calls: list[int] = []

    async def main() -> list[float]:
        b = MicroBatcher(_doubler(calls, sleep=0.05), max_batch=2, max_wait_ms=0)
        b.start()
        try:
            first = asyncio.ensure_future(b.submit([1.0, 1.0]))  # fills a batch, runs 50 ms
            await asyncio.sleep(0.01)
            doomed = asyncio.ensure_future(b.submit([7.0]))  # queued behind it
            await asyncio.sleep(0.01)
            doomed.cancel()  # its client left
            last = await b.submit([3.0])
            await first
            return last
        finally:
            await b.stop()

    assert asyncio.run(main()) == [6.0]
    assert calls == [2, 1]  # the cancelled job never reached the model


def test_batcher_deals_items_round_robin_so_a_small_job_joins_the_next_call():
    calls: list[list[float]] = []

    def fn(xs: list[float]) -> list[float]:
        calls.append(list(xs))
        time.sleep(0.0002 * len(xs))
        return [2 * x for x in xs]

    async def main() -> tuple[list[float], list[float], float, float]:
        loop = asyncio.get_running_loop()
        b = MicroBatcher(fn, max_batch=64, max_wait_ms=1)
        b.start()
        try:
            start = loop.time()
            big = asyncio.ensure_future(b.submit([float(i) for i in range(4096)]))
            await asyncio.sleep(0.1)  # a few chunks of the big job have run
            small_start = loop.time()
            small = await b.submit([-1.0])
            small_seconds = loop.time() - small_start
            big_out = await big
            return big_out, small, small_seconds, loop.time() - start
        finally:
            await b.stop()

    big_out, small, small_seconds, big_seconds = asyncio.run(main())
    assert big_out == [2.0 * i for i in range(4096)] and small == [-2.0]
    assert all(len(c) <= 64 for c in calls) and sum(map(len, calls)) == 4097
    (shared,) = [c for c in calls if -1.0 in c]
    # the small job's one item and 63 of the big job's, in arrival order
    first = int(shared[0])
    assert shared == [float(i) for i in range(first, first + 63)] + [-1.0]
    assert small_seconds < big_seconds / 4


def test_batcher_stop_fails_a_job_caught_between_chunks():
    started = threading.Event()

    def fn(xs: list[float]) -> list[float]:
        started.set()
        time.sleep(0.05)
        return xs

    async def main():
        b = MicroBatcher(fn, max_batch=2, max_wait_ms=0)
        b.start()
        job = asyncio.ensure_future(b.submit([1.0] * 10))
        while not started.is_set():
            await asyncio.sleep(0.005)
        await b.stop()
        return await asyncio.gather(asyncio.wait_for(job, 5), return_exceptions=True)

    (err,) = asyncio.run(main())
    assert isinstance(err, ScoringError) and "shutting down" in str(err)
