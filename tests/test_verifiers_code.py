"""The code verifier: program extraction, pass fraction / all-pass, the 30 project problems,
and bad references."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from rewardlab.protocols import MissingReferenceError
from rewardlab.verifiers.code import CodeVerifier, extract_program

DATA = Path(__file__).parent / "data" / "code_problems"
PROBLEMS = [json.loads(line) for line in (DATA / "problems.jsonl").read_text().splitlines()]
HOSTILE = [json.loads(line) for line in (DATA / "hostile.jsonl").read_text().splitlines()]
SUM_TWO = PROBLEMS[0]


def test_the_problem_set() -> None:
    assert len(PROBLEMS) == 30 and len({p["id"] for p in PROBLEMS}) == 30
    kinds = [("tests" in p["reference"], "asserts" in p["reference"]) for p in PROBLEMS]
    assert kinds.count((True, False)) == 15 and kinds.count((False, True)) == 15
    assert SUM_TWO["id"] == "sum-two" and len(SUM_TWO["reference"]["tests"]) == 3


def test_extract_program() -> None:
    assert extract_program("Here:\n```python\nprint(1)\n```\nand\n```py\nprint(2)\n```") == (
        "print(2)\n"
    )
    assert extract_program("```\nprint(3)\n```") == "print(3)\n"
    assert extract_program("```text\nhi\n```\n```python\nprint(4)\n```") == "print(4)\n"
    assert extract_program("print(5)") == "print(5)"


def test_pass_fraction_and_all_pass_by_hand() -> None:
    # |a| + b: right for (2, 3) and (0, 0), wrong for (−4, 10) → 2 of 3 tests
    half = "a, b = map(int, input().split())\nprint(abs(a) + b)\n"
    responses = [f"```python\n{SUM_TWO['correct']}```", half, SUM_TWO["wrong"]]
    refs = [json.dumps(SUM_TWO["reference"])] * 3  # JSON text works like the dict
    fraction = CodeVerifier(workers=2).score(["p"] * 3, responses, refs)
    assert fraction.tolist() == pytest.approx([1.0, 2 / 3, 1 / 3])
    all_pass = CodeVerifier(mode="all", workers=2).score(["p"] * 3, responses, refs)
    assert all_pass.tolist() == [1.0, 0.0, 0.0]


def test_output_comparison_ignores_trailing_whitespace_only() -> None:
    ref = {"tests": [{"input": "", "output": "a\nb\n"}]}
    responses = ["print('a  ')\nprint('b')\nprint()", "print('a b')"]
    assert CodeVerifier().score(["p", "p"], responses, [ref, ref]).tolist() == [1.0, 0.0]


def _check_problems(problems: list[dict]) -> None:
    verifier = CodeVerifier(workers=2)
    n = len(problems)
    refs = [p["reference"] for p in problems]
    correct = verifier.score([""] * n, [p["correct"] for p in problems], refs)
    wrong = verifier.score([""] * n, [p["wrong"] for p in problems], refs)
    assert correct.tolist() == [1.0] * n
    assert all(w < 1.0 for w in wrong), [p["id"] for p, w in zip(problems, wrong) if w == 1.0]


def test_some_problems_correct_and_wrong() -> None:
    _check_problems(PROBLEMS[:3] + PROBLEMS[15:18])


@pytest.mark.slow
def test_all_problems_correct_and_wrong() -> None:
    _check_problems(PROBLEMS)


@pytest.mark.slow
def test_all_problems_with_every_hostile_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REWARDLAB_CANARY", "do-not-leak")
    verifier = CodeVerifier(cpu_seconds=1, wall_seconds=3.0, memory_mb=256, workers=2)
    refs = [p["reference"] for p in PROBLEMS]
    for hostile in HOSTILE:
        responses = [hostile["prefix"] + p["correct"] for p in PROBLEMS]
        rewards = verifier.score([""] * len(PROBLEMS), responses, refs)
        assert rewards.tolist() == [hostile["expected"]] * len(PROBLEMS), hostile["kind"]
    assert not Path("/tmp/rewardlab-canary-outside.txt").exists()


def test_bad_references(caplog: pytest.LogCaptureFixture) -> None:
    verifier = CodeVerifier(failure_reward=-1.0)
    with caplog.at_level(logging.WARNING, logger="rewardlab.verifiers"):
        got = verifier.score(["p"] * 3, ["print(1)"] * 3,
                             [{"tests": [{"input": "", "output": "1"}]}, {"nothing": 1}, "[1, 2]"])
    assert got.tolist() == [1.0, -1.0, -1.0]
    assert "verifier 'code' failed on sample 1 (reward -1.0): ValueError: the reference has no " \
           "'tests' and no 'asserts'" in caplog.text
    assert "failed on sample 2" in caplog.text
    with pytest.raises(MissingReferenceError, match="verifier 'code' needs a reference"):
        verifier.score(["p"], ["print(1)"])
    with pytest.raises(ValueError, match="mode"):
        CodeVerifier(mode="some")
