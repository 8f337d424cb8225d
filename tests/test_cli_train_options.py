"""``rewardlab train``: defaults come from the config dataclasses, structured heads get
--epochs/--lr/--batch-size/--seed, and --out replaces only a model (or with --overwrite)."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

from typer.testing import CliRunner

from rewardlab.cli.main import app
from rewardlab.models.structured.gpm import GPMOptions
from rewardlab.models.training.config import TrainConfig

runner = CliRunner()


def pairs_file(folder: Path) -> Path:
    rows = [
        {"prompt": f"question {i}", "chosen": f"a careful answer number {i} " * 2,
         "rejected": f"no {i}"}
        for i in range(24)
    ]
    path = folder / "pairs.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def train(*args) -> None:
    result = runner.invoke(app, ["train", "--backbone", "hashing", *[str(a) for a in args]])
    assert result.exit_code == 0, result.output


def default(cls: type, name: str):
    return next(f.default for f in fields(cls) if f.name == name)


def test_head_defaults_are_the_config_dataclass_defaults(tmp_path):
    train("--data", pairs_file(tmp_path), "--out", tmp_path / "m", "--l2", "0")
    saved = json.loads((tmp_path / "m" / "config.json").read_text())["train"]
    for name in ("epochs", "lr", "batch_size"):
        assert saved[name] == default(TrainConfig, name)
    train("--data", pairs_file(tmp_path), "--out", tmp_path / "m", "--l2", "0",
          "--epochs", "2", "--lr", "0.01", "--batch-size", "16")
    saved = json.loads((tmp_path / "m" / "config.json").read_text())["train"]
    assert (saved["epochs"], saved["lr"], saved["batch_size"]) == (2, 0.01, 16)


def test_structured_heads_take_epochs_lr_batch_size_and_seed(tmp_path):
    data = pairs_file(tmp_path)
    train("--data", data, "--head", "gpm", "--out", tmp_path / "g")
    options = json.loads((tmp_path / "g" / "config.json").read_text())["options"]
    for name in ("epochs", "lr", "batch_size", "seed"):
        assert options[name] == default(GPMOptions, name)
    train("--data", data, "--head", "gpm", "--out", tmp_path / "g", "--epochs", "3",
          "--lr", "0.05", "--batch-size", "8", "--seed", "4")
    options = json.loads((tmp_path / "g" / "config.json").read_text())["options"]
    assert (options["epochs"], options["lr"], options["batch_size"], options["seed"]) == (
        3, 0.05, 8, 4)


def test_out_replaces_a_model_and_with_overwrite_any_folder(tmp_path):
    data = pairs_file(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep").write_text("x")
    train("--data", data, "--out", out, "--l2", "0", "--epochs", "1", "--overwrite")
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "metrics.json",
                                                     "model.safetensors"]
    train("--data", data, "--out", out, "--l2", "0.5", "--epochs", "1")  # a model: replaced
    assert json.loads((out / "config.json").read_text())["train"]["l2"] == 0.5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "pairs.jsonl"]
