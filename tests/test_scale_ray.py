"""The Ray engine writes what the local engine writes (local Ray, 2 CPUs).

Starting Ray and its actors takes 30-60 s on a 2-core machine, so the tests
that run Ray are marked slow; the input checks that fail before Ray starts are not.
"""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rewardlab.data.errors import DataError
from rewardlab.models.baselines import LengthReward
from rewardlab.scale import score_file_local

ray = pytest.importorskip("ray", reason="ray is not installed: pip install 'rewardlab[scale]'")

from rewardlab.scale.ray_engine import score_file_ray  # noqa: E402

ROWS = [
    {"id": i, "prompt": f"question {i}", "response": " ".join(["word"] * ((7 * i) % 23))}
    for i in range(300)
]


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _factory(model_dir: str) -> LengthReward:
    return LengthReward()


@pytest.mark.slow
def test_ray_output_equals_the_local_engine(local_ray, tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in ROWS), encoding="utf-8")
    factory = lambda model_dir: LengthReward()  # noqa: E731 - pickled by value to the actors
    local_out, ray_out = tmp_path / "local.jsonl", tmp_path / "ray.jsonl"
    score_file_local(LengthReward(), src, local_out)
    n = score_file_ray(
        "unused-dir", src, ray_out, batch_size=64, model_factory=factory, num_cpus_per_actor=0.5
    )
    assert n == 300
    assert ray_out.read_bytes() == local_out.read_bytes()  # same rows, same order, same rewards
    first = json.loads(ray_out.read_text().splitlines()[1])
    assert first == {
        "id": 1,
        "prompt": "question 1",
        "response": " ".join(["word"] * 7),
        "reward": 7.0,
    }

    pq_src, pq_local, pq_ray = (
        tmp_path / "in.parquet",
        tmp_path / "l.parquet",
        tmp_path / "r.parquet",
    )
    pq.write_table(pa.Table.from_pylist(ROWS), pq_src)
    score_file_local(LengthReward(), pq_src, pq_local)
    score_file_ray(
        "unused-dir", pq_src, pq_ray, batch_size=50, model_factory=factory, num_cpus_per_actor=0.5
    )
    assert pq.read_table(pq_ray).equals(pq.read_table(pq_local))

    bad = tmp_path / "bad.jsonl"  # a null response in row 3 fails inside an actor
    rows = [{"prompt": "p", "response": "r"}] * 2 + [{"prompt": "p", "response": None}]
    bad.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    with pytest.raises(DataError, match="field 'response': 1 rows are null"):
        score_file_ray(
            "unused", bad, tmp_path / "o.jsonl", model_factory=factory, num_cpus_per_actor=0.5
        )
    assert not (tmp_path / "o.jsonl").exists()


def test_missing_columns_fail_before_ray_starts(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"prompt": "p", "text": "t"}) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match="in.jsonl: field 'response': missing column"):
        score_file_ray("unused", src, tmp_path / "out.jsonl", model_factory=_factory)
    pq_src = tmp_path / "in.parquet"
    pq.write_table(pa.table({"response": ["r"]}), pq_src)
    with pytest.raises(DataError, match="field 'prompt': missing column"):
        score_file_ray("unused", pq_src, tmp_path / "out.parquet", model_factory=_factory)
    with pytest.raises(DataError, match="no such file"):
        score_file_ray("unused", tmp_path / "absent.jsonl", tmp_path / "o.jsonl")


@pytest.mark.parametrize(
    ("first_line", "needle"),
    [
        ("{oops", r"in.jsonl:2: malformed JSON: Expecting property name"),
        ("[1, 2]", r"in.jsonl:2: expected a JSON object, got list"),
    ],
)
def test_a_bad_first_row_gets_the_loaders_error_before_ray_starts(tmp_path, first_line, needle):
    """The header check reads through ``data.io.read_rows``: the same text as the local engine."""
    src = tmp_path / "in.jsonl"
    src.write_text("\n" + first_line + "\n", encoding="utf-8")  # line 1 blank, counted
    with pytest.raises(DataError, match=needle):
        score_file_ray("unused", src, tmp_path / "out.jsonl", model_factory=_factory)
    with pytest.raises(DataError, match=needle):
        score_file_local(LengthReward(), src, tmp_path / "out.jsonl")
    assert not (tmp_path / "out.jsonl").exists()
