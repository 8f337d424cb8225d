"""Atomic writes: a failure mid-write leaves the old content, never a half-written one."""

from __future__ import annotations

import json

import pytest

from rewardlab.atomic import atomic_directory, write_json_atomic, write_text_atomic


def test_text_and_json_are_replaced_whole(tmp_path):
    target = tmp_path / "sub" / "out.json"
    write_json_atomic(target, {"b": 1, "a": [1, 2]})
    assert json.loads(target.read_text()) == {"a": [1, 2], "b": 1}
    write_text_atomic(target, "new")
    assert target.read_text() == "new"
    assert [p.name for p in target.parent.iterdir()] == ["out.json"]


def test_failed_json_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "out.json"
    write_text_atomic(target, "old")
    with pytest.raises(TypeError):
        write_json_atomic(target, {1j: 2})  # complex keys are not JSON
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_directory_appears_whole_or_not_at_all(tmp_path):
    model_dir = tmp_path / "model"
    with atomic_directory(model_dir) as staging:
        (staging / "weights").write_text("v1")
        assert not model_dir.exists()
    assert (model_dir / "weights").read_text() == "v1"
    with pytest.raises(RuntimeError), atomic_directory(model_dir) as staging:
        (staging / "weights").write_text("v2 half")
        raise RuntimeError("crash while saving")
    assert (model_dir / "weights").read_text() == "v1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
