"""Atomic writes: a failure mid-write leaves the old content, never a half-written one."""

from __future__ import annotations

import json
import os
import stat

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


@pytest.mark.parametrize(("umask", "file_mode", "dir_mode"), [(0o022, 0o644, 0o755),
                                                              (0o077, 0o600, 0o700),
                                                              (0o002, 0o664, 0o775)])
def test_outputs_get_the_modes_the_umask_gives(tmp_path, umask, file_mode, dir_mode):
    from rewardlab.data.io import write_jsonl

    old = os.umask(umask)
    try:
        write_text_atomic(tmp_path / "a.txt", "x")
        write_jsonl(tmp_path / "b.jsonl", [{"x": 1}])
        with atomic_directory(tmp_path / "model") as staging:
            write_json_atomic(staging / "config.json", {})
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == file_mode
    assert stat.S_IMODE((tmp_path / "b.jsonl").stat().st_mode) == file_mode
    assert stat.S_IMODE((tmp_path / "model").stat().st_mode) == dir_mode
    assert stat.S_IMODE((tmp_path / "model" / "config.json").stat().st_mode) == file_mode


def test_a_replaced_file_keeps_its_mode(tmp_path):
    target = tmp_path / "a.txt"
    write_text_atomic(target, "old")
    target.chmod(0o640)
    write_text_atomic(target, "new")
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_json_is_strict_non_finite_numbers_become_null(tmp_path):
    import numpy as np

    target = tmp_path / "r.json"
    write_json_atomic(target, {"a": float("nan"), "b": [float("inf"), -np.inf, np.float32(1.5)]})
    text = target.read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {"a": None, "b": [None, None, 1.5]}


@pytest.mark.parametrize("exchange", [True, False])
def test_replacing_a_folder_keeps_nothing_of_the_old_one(tmp_path, monkeypatch, exchange):
    from rewardlab import atomic

    if not exchange:
        monkeypatch.setattr(atomic, "_exchange", lambda a, b: False)
    target = tmp_path / "model"
    for version in ("v1", "v2"):
        with atomic_directory(target) as staging:
            (staging / version).write_text(version)
    assert sorted(p.name for p in target.iterdir()) == ["v2"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_an_old_folder_left_aside_is_put_back(tmp_path):
    from rewardlab.atomic import recover

    aside = tmp_path / ".model.999999999.ab12cd34.old"
    aside.mkdir()
    (aside / "weights").write_text("old")
    recover(tmp_path / "model")
    assert (tmp_path / "model" / "weights").read_text() == "old"
    assert not aside.exists()


def test_a_file_in_the_way_of_a_folder_is_refused(tmp_path):
    target = tmp_path / "model"
    target.write_text("not a folder")
    with pytest.raises(NotADirectoryError, match="model"), atomic_directory(target) as staging:
        (staging / "w").write_text("x")
    assert target.read_text() == "not a folder"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
