"""End-to-end: `rewardlab train` with structured heads and multi-backbone ensembles,
and `score` on what it saved."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from rewardlab.cli.main import app
from rewardlab.load import load_reward_model

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
    output = " ".join(result.output.split())
    assert result.exit_code == 2 and "'--head-params': unknown option 'kk'" in output
    assert not (tmp_path / "m").exists()


def test_multi_backbone_ensemble_scores_with_any_aggregation(hh_pairs, tmp_path):
    out = tmp_path / "ens"
    invoke("train", "--data", hh_pairs, "--backbone", "hashing,hashing", "--ensemble", "2",
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
    invoke("score", "--model", out, "--data", pool, "--out", scored,
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


def opposed_tastes(n: int, seed: int, key: str) -> list[dict]:
    """Two groups with opposite tastes: group "a" prefers the answer about cats, "b" the
    one about dogs. ``key`` names the column that carries the group (annotator or category)."""
    rng = np.random.default_rng(seed)
    filler = ["really", "quite", "honestly", "truly", "always", "so", "very", "just"]
    rows = []
    for i in range(n):
        group = "a" if i % 2 == 0 else "b"
        words = list(rng.choice(filler, size=3))
        cats = " ".join(["I", *words[:2], "love", "cats"])
        dogs = " ".join(["I", *words[1:], "love", "dogs"])
        chosen, rejected = (cats, dogs) if group == "a" else (dogs, cats)
        row = {"prompt": f"question {i}", "chosen": chosen, "rejected": rejected, key: group}
        if key == "annotator":
            row["annotator"] = f"{group}{i % 6}"
        rows.append(row)
    return rows


@pytest.mark.parametrize(
    ("head", "key", "params", "at_least"),
    [
        # PAL on hashed n-grams through the CLI reaches 0.83 here, early-stopped on the
        # validation loss (0.995 on fixed features in tests/test_pal.py); a scalar BT
        # stays near 0.5. At PAL's default lr 1e-2 it fits the 8,193 features within an
        # epoch, and the validation loss then picks epoch 1 (0.57).
        ("pal", "annotator", '{"k": 2, "epochs": 80, "lr": 0.001}', 0.78),
        ("dmoe", "category", '{"epochs": 80}', 0.9),
    ],
)
def test_group_aware_heads_learn_opposed_tastes_that_bt_cannot(tmp_path, head, key, params,
                                                              at_least):
    data = tmp_path / "pairs.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in opposed_tastes(400, 0, key)))
    bt, structured = tmp_path / "bt", tmp_path / head
    invoke("train", "--data", data, "--backbone", "hashing", "--out", bt, "--test-fraction", "0.25")
    invoke("train", "--data", data, "--backbone", "hashing", "--head", head,
           "--head-params", params, "--out", structured, "--test-fraction", "0.25")
    bt_acc = json.loads((bt / "metrics.json").read_text())["test"]["accuracy"]
    model = load_reward_model(structured)
    test = opposed_tastes(200, 1, key)
    prompts = [r["prompt"] for r in test]
    if head == "pal":
        annotators = [r["annotator"] for r in test]
        good = model.score(prompts, [r["chosen"] for r in test], annotators=annotators)
        bad = model.score(prompts, [r["rejected"] for r in test], annotators=annotators)
    else:
        categories = [r["category"] for r in test]
        good = model.score(prompts, [r["chosen"] for r in test], categories=categories)
        bad = model.score(prompts, [r["rejected"] for r in test], categories=categories)
    assert bt_acc < 0.65  # one scalar cannot serve two opposed groups
    assert np.mean(good > bad) > at_least
