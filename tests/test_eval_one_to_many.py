"""One-to-many (RewardMATH): win only if the chosen beats every rejected; MRR; real suites."""

from __future__ import annotations

import glob
import gzip
import json

import numpy as np
import pytest

from rewardlab.evaluate.one_to_many import (
    evaluate_one_to_many,
    load_gsm8k_groups,
    load_prmbench_groups,
    one_to_many_metrics,
)
from rewardlab.models.baselines import LengthReward


class CharLength:
    def score(self, prompts, responses):
        return np.array([len(r) for r in responses], dtype=float)


def test_win_and_mrr_by_hand():
    res = one_to_many_metrics([5, 3, 2], [[1, 4], [3, 1], [0, 1, 1.5]])
    # group 2: a tie with a rejected (3 = 3) is a loss and ranks the chosen 2nd
    assert res["wins"] == [1.0, 0.0, 1.0]
    assert res["ranks"] == [1, 2, 1]
    assert res["accuracy"] == pytest.approx(2 / 3)
    assert res["mrr"] == pytest.approx((1 + 1 / 2 + 1) / 3)
    assert res["n_rejected"] == 7


def test_empty_rejected_is_an_error():
    with pytest.raises(ValueError, match="rejected"):
        one_to_many_metrics([1.0], [[]])


def test_gsm8k_groups_and_length_rule(shared_data):
    path = shared_data / "gsm8k" / "example_model_solutions.jsonl"
    rows = [json.loads(line) for line in path.open(encoding="utf-8")]
    keys = ("6b_finetuning", "6b_verification", "175b_finetuning", "175b_verification")
    expected_groups, wins = 0, 0
    for row in rows:
        wrong = {row[k]["solution"] for k in keys if not row[k]["is_correct"]}
        if wrong:
            expected_groups += 1
            ref = len(row["ground_truth"].split())
            wins += all(ref > len(w.split()) for w in wrong)
    groups = load_gsm8k_groups(path)
    assert len(rows) == 1319
    assert len(groups) == expected_groups == 1319 - 156  # 156 questions: all 4 solutions correct
    res = evaluate_one_to_many(LengthReward(), groups)
    assert res["n_groups"] == expected_groups
    assert res["accuracy"] == pytest.approx(wins / expected_groups)


def test_prmbench_groups_and_char_length_rule(shared_data):
    files = sorted(glob.glob(str(shared_data / "prmbench" / "*.jsonl.gz")))
    found: dict[tuple[str, str], set[str]] = {}
    for f in files:
        for line in gzip.open(f, "rt", encoding="utf-8"):
            row = json.loads(line)
            key = (row["original_question"], "\n".join(row["original_process"]))
            found.setdefault(key, set()).add("\n".join(row["modified_process"]))
    groups = load_prmbench_groups(files)
    assert len(groups) == len(found) == 1652
    assert sum(len(g.responses) - 1 for g in groups) == sum(map(len, found.values())) == 2845
    wins = sum(len(k[1]) > max(len(m) for m in mods) for k, mods in found.items())
    ranks = [1 + sum(len(m) >= len(k[1]) for m in mods) for k, mods in found.items()]
    res = evaluate_one_to_many(CharLength(), groups)
    assert res["accuracy"] == pytest.approx(wins / len(found))
    assert res["mrr"] == pytest.approx(np.mean([1 / r for r in ranks]))


def test_cli_eval_detects_a_gsm8k_file_and_runs_one_to_many(tmp_path):
    """`rewardlab eval --format auto` on GSM8K model solutions runs the one-to-many suite."""
    from typer.testing import CliRunner

    from rewardlab.cli.main import app

    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(
        json.dumps({"prompt": f"q{i}", "chosen": f"answer {i} with steps", "rejected": "no"}) + "\n"
        for i in range(12)
    ))
    solutions = tmp_path / "example_model_solutions.jsonl"
    keys = ("6b_finetuning", "6b_verification")
    solutions.write_text("".join(
        json.dumps({"question": f"q{i}", "ground_truth": f"ref {i}",
                    **{k: {"is_correct": j == i % 2, "solution": f"sol {i} {j}"}
                       for j, k in enumerate(keys)}}) + "\n"
        for i in range(4)
    ))
    runner = CliRunner()
    model, out = tmp_path / "m", tmp_path / "res.json"
    trained = runner.invoke(app, ["train", "--data", str(pairs), "--backbone", "hashing",
                                  "--out", str(model), "--l2", "0", "--epochs", "2"])
    assert trained.exit_code == 0, trained.output
    result = runner.invoke(app, ["eval", "--model", str(model), "--data", str(solutions),
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["suite"] == "one-to-many"
    assert report["n_records"] == 4  # each question has exactly one wrong solution
    assert report["n_pairs"] == 4
