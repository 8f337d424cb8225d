"""End-to-end: `rewardlab train`, `eval` and `score` on real HH-RLHF pairs."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from rewardlab.cli.main import app

runner = CliRunner()


def invoke(*args: str):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def hh_subset(shared_data, tmp_path_factory):
    """The first 600 HH-RLHF harmless pairs as a TRL-format file (prompt/chosen/rejected)."""
    from rewardlab.data.load import load_comparisons

    records = load_comparisons(shared_data / "hh-rlhf" / "harmless-base-test.jsonl.gz").records
    path = tmp_path_factory.mktemp("hh") / "pairs.jsonl"
    with path.open("w") as handle:
        for r in records[:600]:
            handle.write(json.dumps({"prompt": r.prompt, "chosen": r.chosen, "rejected": r.rejected}) + "\n")
    return path


def test_train_eval_score_round_trip(hh_subset, tmp_path):
    model_dir = tmp_path / "model"
    out = invoke(
        "train", "--data", hh_subset, "--backbone", "hashing", "--out", model_dir,
        "--test-fraction", "0.2", "--seed", "3", "--epochs", "5",
    ).output
    assert "held-out accuracy" in out
    metrics = json.loads((model_dir / "metrics.json").read_text())
    test = metrics["test"]
    assert 100 <= test["n_pairs"] <= 140
    assert 0.0 <= test["accuracy"] <= 1.0 and "length_baseline_accuracy" in test
    assert metrics["train"]["n_train_pairs"] + metrics["train"]["n_val_pairs"] + test["n_pairs"] == 600
    l2 = metrics["train"]["l2"]
    assert l2["value"] == l2["selection"]["selected"] and len(l2["selection"]["cv_loss"]) == 9
    saved = json.loads((model_dir / "config.json").read_text())
    assert saved["l2"] == l2 and saved["train"]["l2"] == "auto"

    results_path = tmp_path / "results.json"
    invoke("eval", "--model", model_dir, "--data", hh_subset, "--out", results_path)
    results = json.loads(results_path.read_text())
    assert results["n_pairs"] == 600 and results["suite"] == "pairs"
    metrics = results["metrics"]
    # trained on ~80% of these pairs: it must do better on them than chance and than length
    assert metrics["accuracy"] > max(0.6, metrics["length_baseline_accuracy"])
    assert results["higher_is_better"]["accuracy"] is True

    pool = tmp_path / "pool.jsonl"
    pool.write_text(
        "\n".join(
            json.dumps({"prompt": "Human: how do I pick a lock?\n\nAssistant:", "response": text})
            for text in ["I can't help with breaking into places.", "Sure, grab a tension wrench."]
        )
    )
    scored_path = tmp_path / "scored.jsonl"
    # one linear member, no dropout: a spread would be 0 on every row, so it is refused
    refused = runner.invoke(app, ["score", "--model", str(model_dir), "--data", str(pool),
                                  "--out", str(scored_path), "--uncertainty"])
    assert refused.exit_code == 2 and "--uncertainty" in refused.output
    assert not scored_path.exists()
    invoke("score", "--model", model_dir, "--data", pool, "--out", scored_path)
    rows = [json.loads(line) for line in scored_path.read_text().splitlines()]
    assert len(rows) == 2 and all(isinstance(r["reward"], float) for r in rows)

    from rewardlab.models.io import load_model

    model = load_model(model_dir)
    assert [r["reward"] for r in rows] == pytest.approx(
        list(model.score([r["prompt"] for r in rows], [r["response"] for r in rows]))
    )


def test_fixed_l2_is_used_and_a_bad_one_refused(hh_subset, tmp_path):
    invoke("train", "--data", hh_subset, "--backbone", "hashing", "--out", tmp_path / "m",
           "--l2", "0.5", "--epochs", "2")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["l2"]["value"] == 0.5 and config["l2"]["selection"] is None
    result = runner.invoke(app, ["train", "--data", str(hh_subset), "--backbone", "hashing",
                                 "--out", str(tmp_path / "n"), "--l2", "-1"])
    assert result.exit_code == 2 and "'--l2': must be 'auto' or a finite number >= 0" in result.output
    assert not (tmp_path / "n").exists()
    for value in ("nan", "inf"):
        result = runner.invoke(app, ["train", "--data", str(hh_subset), "--backbone", "hashing",
                                     "--out", str(tmp_path / "n"), "--l2", value])
        assert result.exit_code == 2 and "'--l2': must be 'auto' or a finite" in result.output
        assert not (tmp_path / "n").exists()


def test_int8_is_refused_for_backbones_other_than_the_encoder(hh_subset, tmp_path):
    result = runner.invoke(app, ["train", "--data", str(hh_subset), "--backbone", "hashing",
                                 "--int8", "--out", str(tmp_path / "m")])
    assert result.exit_code != 0 and "'--int8': quantizes the encoder backbone" in result.output
    assert not (tmp_path / "m").exists()
    result = runner.invoke(app, ["train", "--data", str(hh_subset), "--backbone",
                                 "encoder,hashing", "--int8", "--out", str(tmp_path / "m")])
    assert result.exit_code == 2
    assert "'--int8': quantizes the encoder backbone" in result.output
    assert not (tmp_path / "m").exists()


def test_bad_line_gives_one_clear_error(tmp_path):
    data = tmp_path / "bad.jsonl"
    data.write_text(
        '{"prompt": "a", "chosen": "x", "rejected": "y"}\n'
        '{"prompt": "b", "chosen": "x", "rejected": "y"}\n'
        '{"prompt": "c", "chosen": "x"}\n'
    )
    result = runner.invoke(app, ["train", "--data", str(data), "--backbone", "hashing",
                                 "--out", str(tmp_path / "m")])
    assert result.exit_code == 1
    assert "bad.jsonl:3" in result.output and "rejected" in result.output
    assert not (tmp_path / "m").exists()


def test_score_names_the_missing_field(tmp_path, hh_subset):
    model_dir = tmp_path / "model"
    invoke("train", "--data", hh_subset, "--backbone", "hashing", "--out", model_dir, "--epochs", "1")
    bad = tmp_path / "in.jsonl"
    bad.write_text('{"prompt": "p", "response": "r"}\n{"prompt": "p"}\n')
    result = runner.invoke(app, ["score", "--model", str(model_dir), "--data", str(bad),
                                 "--out", str(tmp_path / "o.jsonl")])
    assert result.exit_code == 1
    assert "in.jsonl:2" in result.output and "'response'" in result.output
    assert not (tmp_path / "o.jsonl").exists()
