"""End-to-end: `rewardlab train` with structured heads and multi-backbone ensembles,
and `score` on what it saved."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from rewardlab.cli.main import app
from rewardlab.robust.loading import load_reward_model

runner = CliRunner()


def invoke(*args):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def hh_pairs(shared_data, tmp_path_factory):
    from rewardlab.data.load import load_comparisons

    records = load_comparisons(shared_data / "hh-rlhf" / "harmless-base-test.jsonl.gz").records
    path = tmp_path_factory.mktemp("zoo") / "pairs.jsonl"
    path.write_text("".join(
        json.dumps({"prompt": r.prompt, "chosen": r.chosen, "rejected": r.rejected}) + "\n"
        for r in records[:300]
    ))
    return path


def test_gpm_head_trains_saves_and_loads_as_a_preference_model(hh_pairs, tmp_path):
    out = tmp_path / "gpm"
    invoke("train", "--data", hh_pairs, "--backbone", "hashing", "--head", "gpm",
           "--head-params", '{"k": 2, "epochs": 3}', "--test-fraction", "0.2", "--out", out)
    assert json.loads((out / "config.json").read_text())["format"] == "rewardlab-gpm"
    assert 0 < json.loads((out / "metrics.json").read_text())["test"]["n_pairs"] < 300
    model = load_reward_model(out)
    p_ab = model.prob(["q"], ["a short answer"], ["another, longer answer here"])
    p_ba = model.prob(["q"], ["another, longer answer here"], ["a short answer"])
    assert p_ab[0] + p_ba[0] == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(ValueError, match="no members to aggregate"):
        load_reward_model(out, aggregate="wco")


def test_unknown_structured_option_is_a_clear_error(hh_pairs, tmp_path):
    result = runner.invoke(app, ["train", "--data", str(hh_pairs), "--backbone", "hashing",
                                 "--head", "gpm", "--head-params", '{"kk": 2}',
                                 "--out", str(tmp_path / "m")])
    assert result.exit_code == 1 and "--head-params for 'gpm'" in result.output
    assert not (tmp_path / "m").exists()


def test_multi_backbone_ensemble_scores_with_any_aggregation(hh_pairs, tmp_path):
    out = tmp_path / "ens"
    invoke("train", "--data", hh_pairs, "--backbones", "hashing,hashing", "--ensemble", "2",
           "--epochs", "3", "--out", out)
    config = json.loads((out / "config.json").read_text())
    assert config["format"] == "rewardlab-ensemble"
    prompts, responses = ["Human: hi\n\nAssistant:"] * 3, ["Hello!", "Go away.", "Sure, here it is."]
    members = load_reward_model(out, aggregate="mean").score_members(prompts, responses)
    assert members.shape == (4, 3)
    wco = load_reward_model(out, aggregate="wco").score(prompts, responses)
    np.testing.assert_allclose(wco, members.min(axis=0))
    pool = tmp_path / "in.jsonl"
    pool.write_text("".join(json.dumps({"prompt": p, "response": r}) + "\n"
                            for p, r in zip(prompts, responses)))
    scored = tmp_path / "out.jsonl"
    invoke("score", "--model", out, "--input", pool, "--output", scored,
           "--aggregate", "uwo", "--uncertainty")
    rows = [json.loads(line) for line in scored.read_text().splitlines()]
    uwo = members.mean(axis=0) - 0.5 * members.var(axis=0)
    np.testing.assert_allclose([r["reward"] for r in rows], uwo, rtol=1e-6)
    np.testing.assert_allclose([r["uncertainty"] for r in rows], members.std(axis=0), rtol=1e-6)


def test_prm_head_trains_on_step_labels_and_scores_steps(shared_data, tmp_path):
    source = shared_data / "big-bench-mistake" / "multistep_arithmetic.jsonl"
    subset = tmp_path / "bbm.jsonl"
    subset.write_text("".join(source.read_text().splitlines(keepends=True)[:120]))
    out = tmp_path / "prm"
    invoke("train", "--data", subset, "--format", "big-bench-mistake", "--backbone", "hashing",
           "--head", "prm", "--head-params", '{"epochs": 5}', "--out", out)
    assert json.loads((out / "config.json").read_text())["format"] == "rewardlab-prm"
    model = load_reward_model(out)
    steps = [["Step one.", "Step two.", "Step three."]]
    (per_step,) = model.score_steps(["Solve 2 + 2."], steps)
    assert per_step.shape == (3,)
    solution = model.score(["Solve 2 + 2."], ["Step one.\nStep two.\nStep three."])
    # the default aggregate is the minimum step probability
    assert solution[0] == pytest.approx(float(per_step.min()), rel=1e-5)
