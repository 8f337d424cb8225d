"""benchmarks/serve_load.py: its load generator against a live server, and its summary by hand."""

from __future__ import annotations

import asyncio
import importlib.util
from pathlib import Path

import pytest

from rewardlab.models.baselines import LengthReward
from rewardlab.serve.app import create_app
from rewardlab.serve.runner import BackgroundServer

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "serve_load.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("serve_load_bench", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_load_generator_counts_requests_and_batches(bench):
    with BackgroundServer(create_app(LengthReward())) as server:
        row = asyncio.run(bench.load(server.url, 3, 0.5, items=4, unique=True))
    assert row["failed"] == 0 and row["requests"] > 0
    assert row["p50_ms"] <= row["p95_ms"] <= row["p99_ms"]
    assert row["model_calls"] >= 1 and 4 <= row["mean_batch_items"] <= 12  # 1 to 3 requests


def test_unique_bodies_never_repeat_a_text(bench):
    bodies = bench._bodies(2, unique=True, offset=0)
    first, second = next(bodies), next(bodies)
    assert first["prompts"] == second["prompts"]
    assert set(first["responses"]).isdisjoint(second["responses"])


def test_percentile_is_nearest_rank(bench):
    values = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0]
    assert bench.percentile(values, 50) == 5.0  # ceil(0.5 * 10) = 5th
    assert bench.percentile(values, 95) == 10.0 and bench.percentile(values, 1) == 1.0


def test_summary_takes_the_median_of_interleaved_pairs(bench):
    def run(rep, setting, c, rps):
        keys = ("p50_ms", "p95_ms", "p99_ms", "mean_batch_items")
        keys += ("server_cpu_ms_per_request", "client_cpu_ms_per_request")
        return {
            "repeat": rep,
            "setting": setting,
            "concurrency": c,
            "requests_per_s": rps,
            **dict.fromkeys(keys, 1.0),
        }

    runs = [
        run(0, "batched", 8, 300.0),
        run(0, "unbatched", 8, 50.0),
        run(1, "batched", 8, 150.0),
        run(1, "unbatched", 8, 50.0),
        run(2, "batched", 8, 200.0),
        run(2, "unbatched", 8, 40.0),
    ]
    summary = bench.summarize(runs, [8])
    # pair ratios 6.0, 3.0, 5.0: median 5.0, not 650 / 140 = 4.64 from the pooled sums
    assert summary["speedup"]["8"]["median"] == 5.0
    assert (summary["speedup"]["8"]["min"], summary["speedup"]["8"]["max"]) == (3.0, 6.0)
    assert summary["table"]["batched/8"]["requests_per_s"]["median"] == 200.0


def test_command_line_bounds(bench):
    with pytest.raises(SystemExit):
        bench.main(["--duration", "30"])
    with pytest.raises(SystemExit):
        bench.main(["--soak", "--soak-seconds", "400"])
