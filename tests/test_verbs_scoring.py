"""The library verbs reproduce their commands: ``eval``, ``compare``, ``data strength``,
``data digits``, ``score`` and ``serve`` write (or serve) what the verb returns and writes."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from model_kinds import head_model, pairs_file, read_jsonl, rows_file
from rewardlab.cli.main import app
from rewardlab.verbs import (
    CompareSpec,
    EvalSpec,
    ScoreSpec,
    ServeSpec,
    StrengthSpec,
    compare,
    evaluate,
    score,
    server_app,
    strength,
)

runner = CliRunner()


def invoke(*args: object) -> str:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return {"a": head_model(root / "a", seed=0), "b": head_model(root / "b", seed=1),
            "ens": head_model(root / "ens", n_members=3, seed=2)}


def test_evaluate_writes_what_eval_writes(models, tmp_path):
    data = pairs_file(tmp_path)
    invoke("eval", "--model", models["ens"], "--data", data, "--out", tmp_path / "cli.json",
           "--aggregate", "min", "--probes", "length,offtopic", "--seed", "3")
    result = evaluate(EvalSpec(model=str(models["ens"]), data=str(data), out=tmp_path / "lib.json",
                               probes=("length", "offtopic"), seed=3,
                               aggregation=_aggregate("min")))
    cli = json.loads((tmp_path / "cli.json").read_text())
    assert cli == json.loads((tmp_path / "lib.json").read_text())
    assert cli["metrics"] == result.results["metrics"] and result.written == [tmp_path / "lib.json"]
    assert set(cli["probes"]) == {"length", "offtopic"} and cli["aggregate"] == "min"
    # the accuracy is the share of pairs whose min-aggregated reward ranks chosen first
    from model_kinds import CHOSEN, PROMPTS, REJECTED
    from rewardlab.load import load

    model = load(model=str(models["ens"]), aggregate="min")
    members = model.members
    margin = (members.score_members(PROMPTS, CHOSEN).min(axis=0)
              - members.score_members(PROMPTS, REJECTED).min(axis=0))
    assert cli["metrics"]["accuracy"] == pytest.approx(np.mean(margin > 0) + 0.5 * np.mean(
        margin == 0))


def _aggregate(name: str):
    from rewardlab.robust.aggregate import AggregateOptions

    return AggregateOptions(aggregate=name)


def test_compare_writes_what_compare_writes(models, tmp_path):
    data = pairs_file(tmp_path)
    invoke("compare", "--model", f"{models['a']},{models['b']}", "--data", data,
           "--out", tmp_path / "cli.json")
    result = compare(CompareSpec(model=f"{models['a']},{models['b']}", data=str(data),
                                 out=tmp_path / "lib.json"))
    cli = json.loads((tmp_path / "cli.json").read_text())
    assert cli == json.loads((tmp_path / "lib.json").read_text()) == result.results
    assert list(cli["starc"]) == ["0-1"] and len(result.lines()) == 1


def test_strength_writes_what_data_strength_writes(models, tmp_path):
    data = pairs_file(tmp_path)
    out = invoke("data", "strength", "--model", models["ens"], "--data", data,
                 "--out", tmp_path / "cli.jsonl", "--flip-lowest", "0.25", "--margins")
    result = strength(StrengthSpec(model=str(models["ens"]), data=str(data),
                                   out=tmp_path / "lib.jsonl", flip_lowest=0.25, margins=True))
    assert (tmp_path / "cli.jsonl").read_bytes() == (tmp_path / "lib.jsonl").read_bytes()
    assert result.summary().replace("lib.jsonl", "cli.jsonl") in " ".join(out.split())
    assert (result.written, result.flipped, result.dropped) == (4, 1, 0)


def test_strength_of_verifiers_uses_each_as_a_member(tmp_path):
    """``--rewards A,B`` is an ensemble of verifiers: member k's gap is verifier k's
    r(chosen) - r(rejected), worked out by hand from each verifier's rule."""
    from model_kinds import write_jsonl

    chosen = ["<think>x</think><answer>4</answer>", "the answer is 4",
              "<think>y</think><answer>5</answer>"]
    rejected = ["4 4 4 4 4 4 4 4 4 4 4 4", "<think>z</think><answer>4</answer>",
                "five five five five five five five five"]
    data = write_jsonl(tmp_path / "p.jsonl", [{"prompt": "p", "chosen": c, "rejected": r}
                                              for c, r in zip(chosen, rejected, strict=True)])
    invoke("data", "strength", "--rewards", "format,repetition", "--data", data,
           "--out", tmp_path / "s.jsonl")
    rows = read_jsonl(tmp_path / "s.jsonl")
    # format: 1 for the tagged response, 0 otherwise. repetition: -(1 - distinct/all word
    # 3-grams): twelve 4s have 10 3-grams, 1 distinct (-0.9); eight "five" 6, 1 distinct
    # (-5/6); a text of under 3 words has none (0)
    gaps = np.array([[1.0, -1.0, 1.0], [0.9, 0.0, 5 / 6]])
    assert [r["strength_mean"] for r in rows] == pytest.approx(gaps.mean(axis=0).tolist())
    assert [r["strength_std"] for r in rows] == pytest.approx(gaps.std(axis=0).tolist())
    one = runner.invoke(app, ["data", "strength", "--rewards", "format", "--data", str(data),
                              "--out", str(tmp_path / "x.jsonl")])
    assert one.exit_code == 2 and "two or more rewards" in one.output


def test_score_writes_what_score_writes(models, tmp_path):
    data = rows_file(tmp_path)
    invoke("score", "--model", models["ens"], "--uncertainty", "--data", data,
           "--out", tmp_path / "cli.jsonl")
    result = score(ScoreSpec(model=str(models["ens"]), uncertainty=True, data=data,
                             out=tmp_path / "lib.jsonl"))
    assert (tmp_path / "cli.jsonl").read_bytes() == (tmp_path / "lib.jsonl").read_bytes()
    assert result.rows == read_jsonl(tmp_path / "cli.jsonl")
    from rewardlab.models.io import load_model

    rows = read_jsonl(data)
    members = load_model(models["ens"]).score_members([r["prompt"] for r in rows],
                                                      [r["response"] for r in rows])
    assert [r["reward"] for r in result.rows] == pytest.approx(members.mean(axis=0).tolist())
    assert [r["uncertainty"] for r in result.rows] == pytest.approx(members.std(axis=0).tolist())


def test_score_with_rewards_writes_what_score_writes(tmp_path):
    data = rows_file(tmp_path)
    invoke("score", "--rewards", "math", "--reference-column", "answer", "--data", data,
           "--out", tmp_path / "cli.jsonl")
    result = score(ScoreSpec(rewards="math", reference_column="answer", data=data,
                             out=tmp_path / "lib.jsonl"))
    assert (tmp_path / "cli.jsonl").read_bytes() == (tmp_path / "lib.jsonl").read_bytes()
    # "#### i" against answer: right for rows 2 and 3 only (rows_file)
    assert [r["reward"] for r in result.rows] == [0.0, 0.0, 1.0, 1.0]


def test_serve_serves_what_server_app_serves(models, monkeypatch):
    from fastapi.testclient import TestClient

    import rewardlab.serve.runner as serve_runner
    from rewardlab.serve.app import create_app

    served = []
    monkeypatch.setattr(serve_runner, "run_server", lambda m, s, **kw: served.append((m, s)))
    out = invoke("serve", "--model", models["ens"], "--aggregate", "min", "--port", "0",
                 "--max-batch", "8")
    ((model, settings),) = served
    assert "max batch 8" in out
    spec = ServeSpec(model=str(models["ens"]), aggregation=_aggregate("min"), port=0,
                     max_batch=8)
    body = {"prompts": ["q", "q"], "responses": ["a short answer", "a longer answer here"]}
    with TestClient(create_app(model, settings)) as cli, TestClient(server_app(spec)) as lib:
        one, two = cli.post("/score", json=body).json(), lib.post("/score", json=body).json()
    assert one == two
    from rewardlab.models.io import load_model

    expected = load_model(models["ens"]).score_members(body["prompts"], body["responses"])
    rewards = one["rewards"] if isinstance(one, dict) else one
    assert rewards == pytest.approx(expected.min(axis=0).tolist())


def test_digits_writes_what_data_digits_writes(tmp_path):
    from rewardlab.verbs.digits import DigitsSpec, digits

    invoke("data", "digits", "--task", "noise", "--n-pairs", "6", "--test-pairs", "4",
           "--out", tmp_path / "cli")
    summary = digits(DigitsSpec(out=tmp_path / "lib", task="noise", n_pairs=6, test_pairs=4))
    for name in ("train.jsonl", "test.jsonl", "digits.json"):
        assert (tmp_path / "cli" / name).read_bytes() == (tmp_path / "lib" / name).read_bytes()
    assert summary["files"]["train"]["rows"] >= 6


def test_digits_refuses_an_option_its_task_does_not_read(tmp_path):
    result = runner.invoke(app, ["data", "digits", "--task", "noise", "--label-noise", "0.2",
                                 "--out", str(tmp_path / "d")])
    assert result.exit_code == 2
    assert result.output == ("error: Invalid value for '--label-noise': not read by --task "
                             "noise; leave it out\n")
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize(("command", "word"), [
    (["bon"], "[gold]"), (["bon"], "[score columns]"), (["build", "sft"], "[gold]"),
    (["lab", "overopt"], "[logprob]"),
])
def test_help_shows_brackets_as_written(command, word):
    """Rich markup used to swallow ``[gold]``, ``[score columns]`` and ``[logprob]``; every
    command's help is now shown as written."""
    from rewardlab.cli.reference import cli_commands

    params = cli_commands()[tuple(command)].params
    assert any(word in (p.help or "") for p in params)  # the help text holds it
    result = CliRunner(env={"COLUMNS": "400"}).invoke(app, [*command, "--help"])
    assert result.exit_code == 0
    assert word in result.output and "\\[" not in result.output
