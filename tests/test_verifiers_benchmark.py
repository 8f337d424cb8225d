"""A tiny run of benchmarks/verifiers.py, so the script cannot rot."""

from __future__ import annotations

import json
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import verifiers as bench  # noqa: E402


def test_sandbox_jobs_cover_every_test_case() -> None:
    jobs = bench.sandbox_jobs(200)
    assert len(jobs) == 200
    # 15 stdio problems with 40 test cases, 15 assert problems with 39: then the cycle repeats
    assert sum(job.probes is None for job in jobs[:79]) == 40
    assert jobs[79] == jobs[0] and jobs[78] != jobs[0]


def test_tiny_run_writes_json(tmp_path: Path, shared_data: Path) -> None:
    out = tmp_path / "v.json"
    result = bench.main(["--runs", "4", "--workers", "2", "--n-math", "5", "--data",
                         str(shared_data), "--out", str(out)])
    saved = json.loads(out.read_text())
    assert saved["sandbox"]["workers_2"]["ok"] == 4 and saved["sandbox"]["workers_1"]["ok"] == 4
    assert saved["math"]["correct"] == 5 and result["math"]["n"] == 5
    assert saved["sandbox"]["workers_2"]["runs_per_second"] > 0
