"""A reward whose optional package is missing stops the command before any output, with one
line naming the extra to install; it never becomes a column of failure rewards.

The missing package is simulated (``sys.modules[name] = None`` makes ``import name`` raise
``ImportError``), as in an environment without the extra.
"""

from __future__ import annotations

import json
import sys

import pytest
from typer.testing import CliRunner

import rewardlab.serve.runner as runner_module
from rewardlab.cli.main import app
from rewardlab.features.hashing import HashingBackbone
from rewardlab.models.heads import HEADS
from rewardlab.models.io import save_model
from rewardlab.models.normalizer import Normalizer
from rewardlab.models.reward_model import TrainedRewardModel
from rewardlab.verifiers import make_verifier
from rewardlab.verifiers._deps import MissingExtra

runner = CliRunner()
ROWS = [
    {"prompt": "What is 6*7?", "response": "#### 42", "answer": "42"},
    {"prompt": "What is 6*7?", "response": "#### 41", "answer": "42"},
]


@pytest.fixture
def files(tmp_path):
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    return data, tmp_path / "out.json"


@pytest.fixture
def no_math_verify(monkeypatch):
    monkeypatch.setitem(sys.modules, "math_verify", None)


def one_error_line(result, extra: str) -> str:
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: ") and f"pip install 'rewardlab[{extra}]'" in lines[0]
    return lines[0]


@pytest.mark.parametrize(
    "command",
    [["score"], ["bon", "--n", "1"], ["build", "sft"], ["build", "pairs"]],
)
def test_file_commands_refuse_a_verifier_without_its_package(no_math_verify, files, command):
    data, out = files
    result = runner.invoke(app, [*command, "--rewards", "math", "--data", str(data),
                                 "--out", str(out)])
    line = one_error_line(result, "verify")
    assert "verifier 'math'" in line and "math-verify" in line
    assert not out.exists()


def test_serve_refuses_before_it_says_it_serves(no_math_verify, monkeypatch):
    served: list[object] = []
    monkeypatch.setattr(runner_module, "run_server", lambda *args, **kw: served.append(args))
    result = runner.invoke(app, ["serve", "--rewards", "math", "--port", "0"])
    one_error_line(result, "verify")
    assert "serving" not in result.output and served == []


def test_a_recipe_with_the_verifier_is_refused_too(no_math_verify, tmp_path, files):
    data, out = files
    recipe = tmp_path / "r.json"
    recipe.write_text(json.dumps({"components": {"ok": {"verifier": "math"}}}))
    result = runner.invoke(app, ["score", "--rewards", str(recipe), "--data", str(data),
                                 "--out", str(out)])
    one_error_line(result, "verify")
    assert not out.exists()


def test_eval_refuses_a_data_source_without_its_package(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "datasets", None)
    backbone = HashingBackbone(8)
    config = {"feature_dim": backbone.dim, "n_members": 1, "backbone": backbone.config(),
              "head": {"name": "linear", "params": {}}}
    head = HEADS.get("linear")(backbone.dim, 1)
    model = save_model(TrainedRewardModel(backbone, Normalizer(backbone.dim), head, config),
                       tmp_path / "rm")
    out = tmp_path / "res.json"
    result = runner.invoke(app, ["eval", "--model", str(model), "--data", "hf:org/prefs",
                                 "--out", str(out)])
    one_error_line(result, "hub")
    assert not out.exists()


def test_make_verifier_checks_the_package_and_others_need_none(no_math_verify, monkeypatch):
    with pytest.raises(MissingExtra, match=r"verifier 'math'.*rewardlab\[verify\]"):
        make_verifier("math")
    monkeypatch.setitem(sys.modules, "jsonschema", None)
    with pytest.raises(MissingExtra, match="jsonschema"):
        make_verifier("json_schema")
    assert make_verifier("exact").score(["p"], ["a"], ["a"]).tolist() == [1.0]
