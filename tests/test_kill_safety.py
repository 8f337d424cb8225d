"""SIGKILL at every named step of saving a model and of writing an output file.

A child process replaces :func:`rewardlab.atomic.checkpoint` with a hook that
kills it (SIGKILL, no clean-up runs) when the named step is reached, so every
kill lands at a known point. Afterwards the target holds the old or the new
version, loadable, and the next write removes what the killed writer left.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from rewardlab.features.hashing import HashingBackbone
from rewardlab.load import load_reward_model
from rewardlab.models.heads import HEADS
from rewardlab.models.io import load_model, save_model
from rewardlab.models.normalizer import Normalizer
from rewardlab.models.reward_model import TrainedRewardModel

CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from rewardlab import atomic

    step, mode, target, version = sys.argv[1:5]

    def kill_at(name):
        if name == step:
            os.kill(os.getpid(), signal.SIGKILL)

    atomic.checkpoint = kill_at
    if mode == "fallback":
        atomic._exchange = lambda a, b: False
    if mode == "jsonl":
        from rewardlab.data.io import write_jsonl
        write_jsonl(target, [{"version": int(version)}] * 3)
    else:
        from rewardlab.models.io import load_model, save_model
        model = load_model(target)
        model.config["version"] = int(version)
        save_model(model, target)
    """
)


def tiny_model(version: int) -> TrainedRewardModel:
    backbone = HashingBackbone(8)
    config = {
        "feature_dim": backbone.dim, "n_members": 1, "head": {"name": "linear", "params": {}},
        "backbone": backbone.config(), "version": version,
    }
    return TrainedRewardModel(
        backbone, Normalizer(backbone.dim), HEADS.get("linear")(backbone.dim, 1), config
    )


def run_child(step: str, mode: str, target: Path, version: int) -> int:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parents[1] / "src"))
    done = subprocess.run(
        [sys.executable, "-c", CHILD, step, mode, str(target), str(version)],
        env=env, capture_output=True, text=True, timeout=120,
    )
    return done.returncode


def litter(folder: Path, name: str) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(f".{name}."))


MODEL_STEPS = [
    # (step, mode, version the target holds after the kill)
    ("file-written", "exchange", 1),   # inside the staging folder: new model half-written
    ("file-replaced", "exchange", 1),
    ("dir-staged", "exchange", 1),     # staging complete, not yet swapped
    ("dir-swapped", "exchange", 2),    # swapped, old copy not yet deleted
    ("dir-staged", "fallback", 1),
    ("dir-aside", "fallback", 1),      # old renamed aside, new not yet in: recovered on load
    ("dir-swapped", "fallback", 2),
]


@pytest.mark.parametrize(("step", "mode", "expected"), MODEL_STEPS)
def test_kill_while_saving_a_model(tmp_path, step, mode, expected):
    target = tmp_path / "model"
    save_model(tiny_model(1), target)
    assert run_child(step, mode, target, 2) == -signal.SIGKILL
    assert litter(tmp_path, "model"), "the kill should leave its temporary entries behind"
    if step == "dir-aside":
        assert not target.exists()  # the only moment the path is empty (no renameat2)
    loaded = load_reward_model(target)  # recovers an old model left aside
    assert loaded.config["version"] == expected
    assert load_model(target).score(["p"], ["r"]).shape == (1,)
    save_model(tiny_model(3), target)  # the next write removes the dead writer's litter
    assert load_model(target).config["version"] == 3
    assert litter(tmp_path, "model") == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


@pytest.mark.parametrize(("step", "expected"), [("file-written", 1), ("file-replaced", 2)])
def test_kill_while_writing_an_output(tmp_path, step, expected):
    from rewardlab.data.io import write_jsonl

    target = tmp_path / "scores.jsonl"
    write_jsonl(target, [{"version": 1}])
    assert run_child(step, "jsonl", target, 2) == -signal.SIGKILL
    rows = [json.loads(line) for line in target.read_text().splitlines()]
    assert {row["version"] for row in rows} == {expected}
    left = litter(tmp_path, "scores.jsonl")  # the temporary file, when killed before the rename
    assert len(left) == (1 if step == "file-written" else 0)
    assert all(name.endswith(".tmp") for name in left)
    write_jsonl(target, [{"version": 3}])
    assert litter(tmp_path, "scores.jsonl") == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scores.jsonl"]


def test_a_live_writers_staging_folder_is_kept(tmp_path):
    target = tmp_path / "model"
    save_model(tiny_model(1), target)
    live = tmp_path / f".model.{os.getppid()}.abc123.staging"  # our parent: alive
    dead = tmp_path / ".model.999999999.abc123.staging"
    live.mkdir()
    dead.mkdir()
    save_model(tiny_model(2), target)
    assert live.is_dir()
    assert not dead.exists()
