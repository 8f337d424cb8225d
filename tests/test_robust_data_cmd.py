"""``rewardlab data strength`` with stand-ins for the model and data loaders."""

from __future__ import annotations

import json
import sys
import types
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from rewardlab.cli.data_cmd import register
from rewardlab.data.record import Comparison
from rewardlab.robust.ensemble import ModelEnsemble


class Fixed:
    def __init__(self, table: dict[str, float]) -> None:
        self.table = table

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        return np.array([self.table[r] for r in responses], dtype=float)


# gaps (chosen - rejected) per member: pair 1: 2, 0 -> mean 1, std 1
#                                      pair 2: -3, -1 -> mean -2, std 1
#                                      pair 3: 1, 1 -> mean 1, std 0
ENSEMBLE = ModelEnsemble(
    [
        Fixed({"a": 2, "b": 0, "c": 0, "d": 3, "e": 1, "f": 0}),
        Fixed({"a": 0, "b": 0, "c": 0, "d": 1, "e": 1, "f": 0}),
    ]
)
PAIRS = [
    Comparison("p1", ("a", "b"), ranking=(0, 1)),
    Comparison("p2", ("c", "d"), ranking=(0, 1)),
    Comparison("p3", ("e", "f"), ranking=(0, 1)),
]


CALLS: list[tuple[str, str, str]] = []


@pytest.fixture()
def cli(monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    data_load = types.ModuleType("rewardlab.data.load")
    def load_comparisons(path: str, format: str, split: str) -> types.SimpleNamespace:
        CALLS.append((path, format, split))
        return types.SimpleNamespace(records=PAIRS)

    data_load.load_comparisons = load_comparisons  # type: ignore[attr-defined]
    data_load.HF_PREFIX = "hf:"  # type: ignore[attr-defined]
    monkeypatch.setattr("rewardlab.load.load_reward_model", lambda path, **options: ENSEMBLE)
    monkeypatch.setitem(sys.modules, "rewardlab.data.load", data_load)
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """Test root."""

    register(app)
    return app


def _run(app: typer.Typer, tmp_path: Path, *extra: str) -> list[dict]:
    out = tmp_path / "annotated.jsonl"
    args = ["data", "strength", "--model", "m", "--data", "d.jsonl", "--out", str(out), *extra]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert [p.name for p in tmp_path.iterdir()] == ["annotated.jsonl"]  # no temp file left
    return [json.loads(line) for line in out.read_text().splitlines()]


def test_strength_rows(cli: typer.Typer, tmp_path: Path) -> None:
    rows = _run(cli, tmp_path)
    assert rows[0] == {
        "prompt": "p1",
        "chosen": "a",
        "rejected": "b",
        "strength_mean": 1.0,
        "strength_std": 1.0,
        "flipped": False,
    }
    assert [r["strength_mean"] for r in rows] == [1.0, -2.0, 1.0]
    assert [r["strength_std"] for r in rows] == [1.0, 1.0, 0.0]


def test_flip_lowest(cli: typer.Typer, tmp_path: Path) -> None:
    rows = _run(cli, tmp_path, "--flip-lowest", "0.34", "--margins")
    # floor(0.34 * 3) = 1 pair flipped: pair 2 (mean -2), now "d" over "c" with strength +2
    assert [r["flipped"] for r in rows] == [False, True, False]
    assert (rows[1]["chosen"], rows[1]["rejected"]) == ("d", "c")
    assert rows[1]["strength_mean"] == 2.0 and rows[1]["strength"] == 2.0


def test_drop_lowest(cli: typer.Typer, tmp_path: Path) -> None:
    rows = _run(cli, tmp_path, "--drop-lowest", "0.34")
    assert [r["prompt"] for r in rows] == ["p1", "p3"]


def test_flip_and_drop_are_exclusive(cli: typer.Typer, tmp_path: Path) -> None:
    args = ["data", "strength", "--model", "m", "--data", "d", "--out", str(tmp_path / "o.jsonl")]
    result = CliRunner().invoke(cli, [*args, "--flip-lowest", "0.2", "--drop-lowest", "0.2"])
    assert result.exit_code != 0
    assert "not both" in result.output


def test_data_is_a_spec_read_by_the_shared_loader(cli: typer.Typer, tmp_path: Path) -> None:
    """--data is a string spec (hf: too) read with --format and --split, as in train/eval."""
    CALLS.clear()
    _run(cli, tmp_path)
    _run(cli, tmp_path, "--data", "hf:org/pairs", "--format", "trl", "--split", "test")
    assert CALLS == [("d.jsonl", "auto", "train"), ("hf:org/pairs", "trl", "test")]
