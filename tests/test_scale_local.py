"""The local batch-scoring engine: formats, atomic output, bad input, real data."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rewardlab.data.errors import DataError
from rewardlab.models.baselines import LengthReward
from rewardlab.scale import score_file_local

ROWS = [
    {"id": 1, "prompt": "Say hi", "response": "hi there friend", "reward": -9.0},
    {"id": 2, "prompt": "Count", "response": "one two three four", "reward": -9.0},
    {"id": 3, "prompt": "Empty", "response": "", "reward": -9.0},
]


def _write_jsonl(path, rows) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def test_jsonl_to_jsonl_keeps_columns_and_replaces_reward(tmp_path):
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write_jsonl(src, ROWS)
    seen: list[tuple[int, int]] = []
    n = score_file_local(
        LengthReward(), src, out, batch_size=2, progress=lambda d, t: seen.append((d, t))
    )
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert n == 3 and seen == [(2, 3), (3, 3)]
    # whitespace tokens: 3, 4 and 0; the stale reward column is replaced
    assert rows == [
        {"id": 1, "prompt": "Say hi", "response": "hi there friend", "reward": 3.0},
        {"id": 2, "prompt": "Count", "response": "one two three four", "reward": 4.0},
        {"id": 3, "prompt": "Empty", "response": "", "reward": 0.0},
    ]


def test_parquet_in_and_out(tmp_path):
    src, out = tmp_path / "in.parquet", tmp_path / "out.parquet"
    pq.write_table(
        pa.Table.from_pylist([{k: r[k] for k in ("id", "prompt", "response")} for r in ROWS]), src
    )
    score_file_local(LengthReward(sign=-1.0), src, out)
    table = pq.read_table(out)
    assert table.column_names == ["id", "prompt", "response", "reward"]
    assert table.column("reward").to_pylist() == [-3.0, -4.0, -0.0]
    assert table.column("id").to_pylist() == [1, 2, 3]


@pytest.mark.parametrize(
    ("lines", "needle"),
    [
        (['{"prompt": "a", "response": "b"}', "{oops"], "in.jsonl:2: malformed JSON"),
        (['{"prompt": "a"}'], "in.jsonl:1: field 'response': must be a string"),
        (['{"prompt": 3, "response": "b"}'], "in.jsonl:1: field 'prompt': must be a string"),
        (["[1, 2]"], "in.jsonl:1: expected a JSON object, got list"),
        ([""], "no rows to score"),
    ],
)
def test_bad_input_names_line_and_field_and_writes_nothing(tmp_path, lines, needle):
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=needle):
        score_file_local(LengthReward(), src, out)
    assert not out.exists()


def test_unknown_suffix_is_refused_before_reading(tmp_path):
    with pytest.raises(DataError, match="unsupported file type '.csv'"):
        score_file_local(LengthReward(), tmp_path / "absent.jsonl", tmp_path / "out.csv")


def test_a_model_failure_leaves_the_old_output_untouched(tmp_path):
    class Broken:
        def score(self, prompts, responses):
            raise RuntimeError("GPU fell off")

    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write_jsonl(src, ROWS)
    out.write_text("previous results\n")
    with pytest.raises(RuntimeError, match="GPU fell off"):
        score_file_local(Broken(), src, out)
    assert out.read_text() == "previous results\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl", "out.jsonl"]  # no temp left


def test_real_alpaca_instructions(shared_data, tmp_path):
    rows = []
    with (shared_data / "alpaca-eval" / "instructions.jsonl").open() as f:
        for line, _ in zip(f, range(50), strict=False):
            r = json.loads(line)
            rows.append({"prompt": r["instruction"], "response": r["baseline_output"]})
    src, out = tmp_path / "alpaca.jsonl", tmp_path / "alpaca.scored.parquet"
    _write_jsonl(src, rows)
    assert score_file_local(LengthReward(), src, out, batch_size=16) == 50
    expected = LengthReward().score([r["prompt"] for r in rows], [r["response"] for r in rows])
    assert pq.read_table(out).column("reward").to_pylist() == expected.tolist()


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_output_is_strict_json_follows_the_umask_and_leaves_no_temporary_file(tmp_path, suffix):
    """A non-finite input column is written as null (strict JSON parsers read it), the
    file gets 0666 less the umask like any ``open``, and nothing else is left beside it."""
    import os

    from rewardlab.scale.tables import AtomicTableWriter

    table = pa.table({"prompt": ["p"], "response": ["r"], "extra": [float("nan")]})
    out = tmp_path / f"out{suffix}"
    old = os.umask(0o027)
    try:
        with AtomicTableWriter(out) as writer:
            writer.write(table)
    finally:
        os.umask(old)
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]
    assert out.stat().st_mode & 0o777 == 0o640
    if suffix == ".jsonl":
        assert json.loads(out.read_text(), parse_constant=lambda c: pytest.fail(c)) == {
            "prompt": "p", "response": "r", "extra": None,
        }
    else:
        assert pq.read_table(out).to_pylist()[0]["response"] == "r"


def test_no_rows_is_an_error_and_leaves_nothing(tmp_path):
    from rewardlab.scale.tables import AtomicTableWriter

    with pytest.raises(DataError, match="no rows"), AtomicTableWriter(tmp_path / "o.jsonl"):
        pass
    assert list(tmp_path.iterdir()) == []
