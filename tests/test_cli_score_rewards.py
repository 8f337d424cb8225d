"""``rewardlab score --rewards``: a verifier or recipe over a JSONL file, references from a
column, one field per component, and one-line errors naming the file, line and column."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rewardlab.cli.main import app

runner = CliRunner()
ROWS = [
    {"prompt": "What is 6*7?", "response": "<think>6*7</think><answer>The answer is 42.</answer>",
     "solution": "42"},
    {"prompt": "What is 2+2?", "response": "#### 5", "solution": "4"},
    {"prompt": "Half of 1?", "response": "\\boxed{\\frac{1}{2}}", "solution": "0.5"},
]


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _score(tmp_path: Path, rows: list[dict], *options: str):
    data = _write(tmp_path / "in.jsonl", rows)
    out = tmp_path / "out.jsonl"
    args = ["score", "--data", str(data), "--out", str(out), *options]
    result = runner.invoke(app, args)
    scored = [json.loads(x) for x in out.read_text().splitlines()] if out.exists() else None
    return result, scored


def test_a_verifier_scores_against_the_solution_column(tmp_path):
    result, scored = _score(tmp_path, ROWS, "--rewards", "math")
    assert result.exit_code == 0, result.output
    assert [r["reward"] for r in scored] == [1.0, 0.0, 1.0]
    assert [r["reward_math"] for r in scored] == [1.0, 0.0, 1.0]
    assert scored[0]["solution"] == "42"  # input columns are kept


def test_a_recipe_writes_each_component_and_the_weighted_total(tmp_path):
    recipe = tmp_path / "r.json"
    recipe.write_text(json.dumps({
        "components": {"correct": {"verifier": "math"},
                       "fmt": {"verifier": "format", "params": {"partial_credit": True}}},
        "combine": {"weights": {"fmt": 0.5}},
    }))
    rows = [{"prompt": r["prompt"], "response": r["response"], "answer": a}
            for r, a in zip(ROWS, ["42", "5", "0.5"], strict=True)]
    result, scored = _score(tmp_path, rows, "--rewards", str(recipe))
    assert result.exit_code == 0, result.output
    assert [r["reward_correct"] for r in scored] == [1.0, 1.0, 1.0]
    # fmt: a full match, then no tags at all
    assert [r["reward_fmt"] for r in scored] == [1.0, 0.0, 0.0]
    assert [r["reward"] for r in scored] == [1.5, 1.0, 1.0]


@pytest.mark.parametrize(
    ("options", "rows", "message"),
    [
        (["--reference-column", "gold"], [{**ROWS[0], "gold": "41"}], None),
        ([], [{"prompt": "p", "response": "r", "gold": "1"}],
         "in.jsonl: this reward checks each response against a reference, but no row has any"),
        (["--reference-column", "golf"], ROWS, "in.jsonl: field 'golf': no such column"),
        ([], [ROWS[0], {**ROWS[1], "solution": None}],
         "in.jsonl:2: field 'solution': missing reference (ground truth)"),
    ],
)
def test_the_reference_column_option_and_its_errors(tmp_path, options, rows, message):
    result, scored = _score(tmp_path, rows, "--rewards", "math", *options)
    if message is None:  # the named column wins over solution: 42 against 41
        assert result.exit_code == 0 and scored[0]["reward"] == 0.0
        return
    assert result.exit_code == 1 and scored is None
    assert message in " ".join(result.output.split())


def test_model_and_rewards_are_exclusive(tmp_path):
    result, _ = _score(tmp_path, ROWS)
    assert result.exit_code == 2 and "exactly one of --model and --rewards" in result.output
    for option in ("--uncertainty", "--attributes", "--aggregate"):
        result, _ = _score(tmp_path, ROWS, "--rewards", "math", option,
                           *(["mean"] if option == "--aggregate" else []))
        assert result.exit_code == 2, result.output
        assert result.output == (f"error: Invalid value for '{option}': not read by --rewards "
                                 "math (a verifier or recipe); leave it out\n")


def test_a_reference_column_without_rewards_is_refused_before_the_data(tmp_path):
    """A model checks no reference: ``--reference-column`` with ``--model`` used to be
    accepted silently; it is refused before the (absent) data is read."""
    result = runner.invoke(app, ["score", "--model", str(tmp_path / "m"), "--reference-column",
                                 "solution", "--data", str(tmp_path / "absent.jsonl"),
                                 "--out", str(tmp_path / "o.jsonl")])
    assert result.exit_code == 2
    assert result.output.startswith("error: Invalid value for '--reference-column': read with "
                                    "--rewards only")
