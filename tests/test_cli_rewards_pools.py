"""``rewardlab bon|build --rewards``: a verifier scores a candidate pool against each row's
reference column; a row without one is one error line naming the file, line and column."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rewardlab.cli.main import app

runner = CliRunner()
SIX_SEVEN = "What is 6*7?"
NINE_FOUR = "What is 9-4?"
# GSM8K-style: the reference's answer follows "####"; gold is a separate score column.
POOL = [
    {"prompt": SIX_SEVEN, "response": "6 times 7 is 42.\n#### 42", "gold": 1.0},
    {"prompt": SIX_SEVEN, "response": "6 times 7 is 41.\n#### 41", "gold": 0.2},
    {"prompt": SIX_SEVEN, "response": "#### 42", "gold": 0.8},
    {"prompt": NINE_FOUR, "response": "#### 4", "gold": 0.5},
    {"prompt": NINE_FOUR, "response": "9 - 4 = 5\n#### 5", "gold": 0.9},
    {"prompt": NINE_FOUR, "response": "#### 6", "gold": 0.1},
]
ANSWERS = {SIX_SEVEN: "6 * 7 = 42\n#### 42", NINE_FOUR: "9 - 4 = 5\n#### 5"}


def _pool(tmp_path: Path, column: str = "answer", rows: list[dict] = POOL) -> Path:
    path = tmp_path / "pool.jsonl"
    lines = [json.dumps({**row, column: ANSWERS[row["prompt"]]}) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def _bon(pool: Path, out: Path, *options: str):
    args = ["bon", "--rewards", "math", "--data", str(pool), "--gold-column", "gold",
            "--n", "1,2", "--out", str(out), *options]
    return runner.invoke(app, args)


def test_bon_scores_the_pool_against_each_rows_reference(tmp_path):
    out = tmp_path / "r.json"
    result = _bon(_pool(tmp_path), out)
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["proxy"] == "rewards:math" and report["samples"] == 6
    one, two = report["curve"]
    # proxies: 6*7 → [1, 0, 1], 9-4 → [0, 1, 0]. n=1: the pool means 2/3 and 1/3.
    assert one["proxy"] == pytest.approx(0.5)
    assert one["gold"] == pytest.approx(((1.0 + 0.2 + 0.8) / 3 + (0.5 + 0.9 + 0.1) / 3) / 2)
    # n=2, the best of each of the 3 pairs (ties broken at random): 6*7 always draws a
    # correct one, 9-4 in 2 of 3 pairs. Gold: 6*7 (1.0 + 0.8 + (1.0+0.8)/2)/3 = 0.9,
    # 9-4 (0.9 + 0.9 + (0.5+0.1)/2)/3 = 0.7.
    assert two["proxy"] == pytest.approx((1.0 + 2 / 3) / 2)
    assert two["gold"] == pytest.approx((0.9 + 0.7) / 2)


def test_the_reference_column_option_picks_the_column(tmp_path):
    pool = _pool(tmp_path, column="target")
    out = tmp_path / "r.json"
    result = _bon(pool, out, "--reference-column", "target")
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["curve"][0]["proxy"] == pytest.approx(0.5)
    # without it, no default column (solution, answer, ground_truth, labels) is there
    missing = _bon(pool, tmp_path / "none.json")
    assert missing.exit_code == 1 and not (tmp_path / "none.json").exists()
    assert "no row has any of the columns" in " ".join(missing.output.split())


def test_build_sft_keeps_exactly_the_correct_candidates(tmp_path):
    out = tmp_path / "sft.jsonl"
    args = ["build", "sft", "--rewards", "math", "--data", str(_pool(tmp_path)),
            "--method", "quantile", "--quantile", "1.0", "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    kept = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(row["prompt"], row["completion"]) for row in kept] == [
        (SIX_SEVEN, POOL[0]["response"]), (SIX_SEVEN, POOL[2]["response"]),
        (NINE_FOUR, POOL[4]["response"]),
    ]


def test_build_pairs_chooses_a_correct_candidate(tmp_path):
    out = tmp_path / "pairs.jsonl"
    args = ["build", "pairs", "--rewards", "math", "--data", str(_pool(tmp_path)),
            "--method", "best-worst", "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    pairs = {row["prompt"]: row for row in map(json.loads, out.read_text().splitlines())}
    assert pairs[NINE_FOUR]["chosen"] == POOL[4]["response"]
    assert pairs[NINE_FOUR]["rejected"] in (POOL[3]["response"], POOL[5]["response"])
    assert pairs[SIX_SEVEN]["rejected"] == POOL[1]["response"]


@pytest.mark.parametrize("command", [["bon", "--n", "1"], ["build", "sft"], ["build", "pairs"]])
def test_a_row_without_its_reference_is_one_error_line(tmp_path, command):
    path = _pool(tmp_path)
    rows = path.read_text().splitlines()
    rows[3] = json.dumps({**json.loads(rows[3]), "answer": None})
    path.write_text("\n".join(rows) + "\n")
    out = tmp_path / "out.json"
    args = [*command, "--rewards", "math", "--data", str(path), "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 1 and not out.exists()
    message = " ".join(result.output.split())
    assert "pool.jsonl:4: field 'answer': missing reference (ground truth)" in message
    assert len(result.output.strip().splitlines()) == 1


ONE_SOURCE = "give exactly one of --model, --scores-column and --rewards"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--model", "x"], f"'--model': {ONE_SOURCE}; got --model and --rewards"),
        (["--scores-column", "gold"], f"{ONE_SOURCE}; got --scores-column and --rewards"),
        (["--aggregate", "mean"], "'--aggregate': not read by --rewards math"),
    ],
)
def test_rewards_excludes_the_other_proxies(tmp_path, options, message):
    """Refused as bad options (exit 2), one line, before the pool is read."""
    out = tmp_path / "r.json"
    result = _bon(_pool(tmp_path), out, *options)
    assert result.exit_code == 2 and not out.exists()
    assert message in " ".join(result.output.split())


def test_reference_column_needs_rewards(tmp_path):
    args = ["bon", "--scores-column", "gold", "--data", str(tmp_path / "absent.jsonl"),
            "--reference-column", "answer", "--out", str(tmp_path / "r.json")]
    result = runner.invoke(app, args)
    assert result.exit_code == 2  # before the (absent) data is read
    assert ("'--reference-column': not read by --scores-column gold"
            in " ".join(result.output.split()))


@pytest.mark.parametrize("command", [["score"], ["eval"], ["compare"], ["data", "strength"],
                                     ["bon"], ["serve"]])
def test_a_rewards_typo_is_a_bad_option_before_the_data(command, tmp_path):
    """``--rewards mathh`` is refused at parse time (exit 2, did-you-mean), as every other
    registry name is, before the absent data is read."""
    several = command in (["compare"], ["data", "strength"])  # a comma list of rewards
    args = [*command, "--rewards", "math,mathh" if several else "mathh"]
    if command != ["serve"]:
        args += ["--data", str(tmp_path / "absent.jsonl"), "--out", str(tmp_path / "o.json")]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--rewards': unknown reward 'mathh'" in result.output
    assert "did you mean 'math'" in result.output and "absent.jsonl" not in result.output
