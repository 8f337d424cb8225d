"""Raw row readers and the atomic JSONL writer (rewardlab.data.io)."""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

import pytest

from rewardlab.data import DataError, load_comparisons, read_hf_dataset, read_rows, write_jsonl


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_jsonl_numbers_physical_lines_and_skips_blank_ones(tmp_path):
    path = _write(tmp_path / "a.jsonl", '{"x": 1}\n\n{"x": 2}\n')
    assert list(read_rows(path)) == [(1, {"x": 1}), (3, {"x": 2})]


def test_jsonl_gz(tmp_path):
    path = tmp_path / "a.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write('{"x": "é"}\n{"x": "b"}\n')
    assert list(read_rows(path)) == [(1, {"x": "é"}), (2, {"x": "b"})]


def test_malformed_jsonl_line_names_file_and_line(tmp_path):
    path = _write(tmp_path / "bad.jsonl", '{"x": 1}\n{"x": 2}\n{"x": \n{"x": 4}\n')
    rows = read_rows(path)
    assert next(rows) == (1, {"x": 1})
    with pytest.raises(DataError) as err:
        list(rows)
    assert err.value.line == 3
    assert str(err.value).startswith(f"{path}:3: malformed JSON")


def test_jsonl_line_that_is_not_an_object(tmp_path):
    path = _write(tmp_path / "a.jsonl", '{"x": 1}\n[1, 2]\n')
    with pytest.raises(DataError, match=r"a\.jsonl:2: expected a JSON object, got list"):
        list(read_rows(path))


@pytest.mark.parametrize("wrapper", [None, "data", "rows"])
def test_json_list_or_object_with_list(tmp_path, wrapper):
    items = [{"x": 1}, {"x": 2}]
    payload = items if wrapper is None else {wrapper: items, "version": 3}
    path = _write(tmp_path / "a.json", json.dumps(payload))
    assert list(read_rows(path)) == [(1, {"x": 1}), (2, {"x": 2})]


def test_json_object_without_rows_is_an_error(tmp_path):
    path = _write(tmp_path / "a.json", '{"items": []}')
    with pytest.raises(DataError, match='"data" or "rows"'):
        list(read_rows(path))


def test_csv_header_is_row_one(tmp_path):
    path = _write(tmp_path / "a.csv", 'prompt,score\nhi,3\n"multi\nline",4\n')
    expected = [(2, {"prompt": "hi", "score": "3"}), (3, {"prompt": "multi\nline", "score": "4"})]
    assert list(read_rows(path)) == expected


def test_csv_row_with_extra_cells(tmp_path):
    path = _write(tmp_path / "a.csv", "a,b\n1,2\n1,2,3\n")
    with pytest.raises(DataError, match=r"a\.csv:3: row has 3 cells but the header has 2"):
        list(read_rows(path))


def test_parquet_rows_are_plain_python(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    messages = [[{"role": "user", "content": "hi"}], [{"role": "user", "content": "yo"}]]
    table = pa.table({"prompt": messages, "score": [1.5, 2.0]})
    path = tmp_path / "a.parquet"
    pq.write_table(table, path, row_group_size=1)
    rows = list(read_rows(path))
    assert rows == [
        (1, {"prompt": messages[0], "score": 1.5}),
        (2, {"prompt": messages[1], "score": 2.0}),
    ]
    assert isinstance(rows[0][1]["prompt"], list)


def test_unknown_extension_and_missing_file(tmp_path):
    with pytest.raises(DataError, match="unsupported file type"):
        read_rows(_write(tmp_path / "a.txt", "x"))
    with pytest.raises(DataError, match="no such file"):
        read_rows(tmp_path / "missing.jsonl")


@pytest.mark.parametrize("name", ["out.jsonl", "out.jsonl.gz"])
def test_write_jsonl_round_trip(tmp_path, name):
    rows = [{"prompt": "p", "chosen": "é"}, {"prompt": "q", "chosen": "b"}]
    path = tmp_path / "sub" / name
    assert write_jsonl(path, rows) == 2
    assert list(read_rows(path)) == [(1, rows[0]), (2, rows[1])]
    assert [p.name for p in path.parent.iterdir()] == [name]
    assert path.stat().st_mode & 0o777 == 0o644


def test_write_jsonl_failure_leaves_the_old_file(tmp_path):
    path = tmp_path / "out.jsonl"
    write_jsonl(path, [{"old": 1}])

    def rows():
        yield {"new": 1}
        raise RuntimeError("generator failed")

    with pytest.raises(RuntimeError):
        write_jsonl(path, rows())
    assert list(read_rows(path)) == [(1, {"old": 1})]
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]


PAIRS = [
    {"prompt": "2+2?", "chosen": "4", "rejected": "5"},
    {"prompt": "capital of France?", "chosen": "Paris", "rejected": "Rome"},
]


def test_read_hf_dataset_from_save_to_disk(tmp_path):
    datasets = pytest.importorskip("datasets")
    folder = tmp_path / "saved"
    datasets.Dataset.from_list(PAIRS).save_to_disk(str(folder))
    assert list(read_hf_dataset(str(folder))) == [(1, PAIRS[0]), (2, PAIRS[1])]
    dict_folder = tmp_path / "saved_dict"
    datasets.DatasetDict({"test": datasets.Dataset.from_list(PAIRS[:1])}).save_to_disk(
        str(dict_folder)
    )
    assert list(read_hf_dataset(str(dict_folder), split="test")) == [(1, PAIRS[0])]
    with pytest.raises(DataError, match="split 'train' not found; available: test"):
        read_hf_dataset(str(dict_folder))


def test_read_hf_dataset_from_a_folder_of_jsonl(tmp_path):
    pytest.importorskip("datasets")
    folder = tmp_path / "plain"
    write_jsonl(folder / "train.jsonl", PAIRS)
    rows = list(read_hf_dataset(str(folder), cache_dir=str(tmp_path / "cache")))
    assert rows == [(1, PAIRS[0]), (2, PAIRS[1])]


def test_load_comparisons_hf_prefix(tmp_path):
    datasets = pytest.importorskip("datasets")
    folder = tmp_path / "saved"
    datasets.Dataset.from_list(PAIRS).save_to_disk(str(folder))
    result = load_comparisons(f"hf:{folder}")
    assert [(r.prompt, r.chosen, r.rejected) for r in result.records] == [
        ("2+2?", "4", "5"),
        ("capital of France?", "Paris", "Rome"),
    ]
    assert result.records[1].source == f"hf:{folder}:2"


def test_read_hf_dataset_without_datasets_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", None)
    with pytest.raises(ImportError, match=r"rewardlab\[hub\]"):
        read_hf_dataset("anything")
