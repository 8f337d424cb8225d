"""The train verb reproduces ``rewardlab train``: the same model bytes and the same metrics."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from rewardlab.cli.main import app
from rewardlab.options import OptionError
from rewardlab.verbs import TrainSpec, train

TIMINGS = {"encode_seconds", "fit_seconds"}


def _without_timings(metrics: dict) -> dict:
    return {k: _without_timings(v) if isinstance(v, dict) else v
            for k, v in metrics.items() if k not in TIMINGS}


@pytest.fixture
def pairs(tmp_path):
    rows = [{"prompt": f"question {i % 7}", "chosen": f"a helpful answer number {i} " * 2,
             "rejected": f"no {i}"} for i in range(60)]
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_the_library_call_writes_what_the_command_writes(pairs, tmp_path):
    args = ["train", "--data", str(pairs), "--backbone", "hashing", "--test-fraction", "0.2",
            "--epochs", "5", "--lr", "0.01", "--out", str(tmp_path / "cli")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    made = train(TrainSpec(data=str(pairs), out=tmp_path / "lib", backbone="hashing",
                           test_fraction=0.2, options={"epochs": 5, "lr": 0.01}))
    for name in ("model.safetensors", "config.json"):
        assert (tmp_path / "cli" / name).read_bytes() == (tmp_path / "lib" / name).read_bytes()
    saved = json.loads((tmp_path / "cli" / "metrics.json").read_text())
    assert _without_timings(saved) == _without_timings(json.loads(json.dumps(made.metrics)))
    assert made.metrics["test"]["n_pairs"] > 0 and made.kind == "head"


def test_an_option_the_trainer_does_not_read_is_refused_before_the_data(tmp_path):
    spec = TrainSpec(data=str(tmp_path / "absent.jsonl"), out=tmp_path / "m",
                     backbone="hashing", options={"lora": True})
    with pytest.raises(OptionError, match=r"^--lora: not read by --backbone hashing"):
        train(spec)
    with pytest.raises(OptionError, match="unknown trainer option 'lorra'"):
        train(TrainSpec(data="x", out=tmp_path / "m", options={"lorra": True}))
    with pytest.raises(OptionError, match=r"^--lr: must be > 0, got 0"):
        train(TrainSpec(data="x", out=tmp_path / "m", backbone="hashing", options={"lr": 0.0}))
    assert not (tmp_path / "m").exists()
