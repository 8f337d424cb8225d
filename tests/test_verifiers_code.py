"""The code verifier: program extraction, pass fraction / all-pass, the 30 project problems,
bad references, asserts split into sandboxed probes and a check here, and the refusal
without a sandbox."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest

from rewardlab.protocols import MissingReferenceError
from rewardlab.verifiers.code import CodeVerifier, extract_program
from rewardlab.verifiers.code_asserts import bound_names, split_assert
from sandbox_required import sandbox_or_skip

DATA = Path(__file__).parent / "data" / "code_problems"
PROBLEMS = [json.loads(line) for line in (DATA / "problems.jsonl").read_text().splitlines()]
HOSTILE = [json.loads(line) for line in (DATA / "hostile.jsonl").read_text().splitlines()]
SUM_TWO = PROBLEMS[0]


@pytest.fixture()
def sandbox():
    """A working sandbox, else skip (CI fails instead: tests/sandbox_required.py)."""
    return sandbox_or_skip()


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


def test_pass_fraction_and_all_pass_by_hand(sandbox) -> None:
    # |a| + b: right for (2, 3) and (0, 0), wrong for (−4, 10) → 2 of 3 tests
    half = "a, b = map(int, input().split())\nprint(abs(a) + b)\n"
    responses = [f"```python\n{SUM_TWO['correct']}```", half, SUM_TWO["wrong"]]
    refs = [json.dumps(SUM_TWO["reference"])] * 3  # JSON text works like the dict
    fraction = CodeVerifier(workers=2).score(["p"] * 3, responses, refs)
    assert fraction.tolist() == pytest.approx([1.0, 2 / 3, 1 / 3])
    all_pass = CodeVerifier(mode="all", workers=2).score(["p"] * 3, responses, refs)
    assert all_pass.tolist() == [1.0, 0.0, 0.0]


def test_output_comparison_ignores_trailing_whitespace_only(sandbox) -> None:
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


def test_some_problems_correct_and_wrong(sandbox) -> None:
    _check_problems(PROBLEMS[:3] + PROBLEMS[15:18])


@pytest.mark.slow
def test_all_problems_correct_and_wrong(sandbox) -> None:
    _check_problems(PROBLEMS)


@pytest.mark.slow
def test_all_problems_with_every_hostile_prefix(
    sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REWARDLAB_CANARY", "do-not-leak")
    verifier = CodeVerifier(cpu_seconds=1, wall_seconds=3.0, memory_mb=256, workers=2)
    refs = [p["reference"] for p in PROBLEMS]
    for hostile in HOSTILE:
        responses = [hostile["prefix"] + p["correct"] for p in PROBLEMS]
        rewards = verifier.score([""] * len(PROBLEMS), responses, refs)
        assert rewards.tolist() == [hostile["expected"]] * len(PROBLEMS), hostile["kind"]
    assert not Path("/tmp/rewardlab-canary-outside.txt").exists()


def test_bad_references(sandbox, caplog: pytest.LogCaptureFixture) -> None:
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


# --- asserts: probes in the sandbox, the check here (rewardlab.verifiers.code_asserts)


def test_an_assert_is_split_into_probes_and_a_check_by_hand() -> None:
    cases = [
        # (assert, setup names, probes, values that pass, values that fail)
        ("assert add(1, 2) == 3", set(), ("add(1, 2)",), [3], [4]),
        ("assert add(1, 2) == 3.0", set(), ("add(1, 2)",), [3], [True]),
        ("assert not is_even(3)", set(), ("is_even(3)",), [False], [1]),
        ("assert abs(f(1.0) - 2.5) < 1e-6", set(), ("f(1.0)",), [2.5000001], [2.5001]),
        ("assert math.isclose(area(5), 78.5, rel_tol=1e-3)", set(), ("area(5)",), [78.54],
         [80.0]),
        ("assert sorted(f([3, 1])) == [1, 3]", set(), ("f([3, 1])",), [[3, 1]], [[3]]),
        ("assert set(g((3, 4), (4, 5))) == set((4,))", set(), ("g((3, 4), (4, 5))",), [[4, 4]],
         [[4, 5]]),
        ("assert 0 <= h(2) < 10", set(), ("h(2)",), [9], [10]),
        ("assert Stack().push(1).top() == 1", set(), ("Stack().push(1).top()",), [1], [2]),
        ("assert f(1) + f(2) == 5", set(), ("f(1)", "f(2)"), [2, 3], [2, 2]),
        ("assert f(x)[1:] == (2, 3)", {"x"}, ("f(x)[1:]",), [(2, 3)], [[2, 3]]),
        ("assert sorted(f(x))[0] == 1", {"x"}, ("f(x)",), [[3, 1]], [[3, 2]]),
        ("assert type(f(1)) is list and len(f(1)) == 2", set(), ("f(1)", "f(1)"),
         [[0, 0], [0, 0]], [(0, 0), (0, 0)]),
        ("assert RESULT == {'a': 2}", set(), ("RESULT",), [{"a": 2}], [{"a": 2.5}]),
    ]
    for source, setup_names, probes, good, bad in cases:
        split = split_assert(source, setup_names)
        assert split.probes == probes, source
        assert split.passes(good) and not split.passes(bad), source


def test_the_check_survives_bad_values_and_refuses_huge_ones() -> None:
    assert not split_assert("assert f(1) < 3").passes(["text"])  # TypeError: a failed assert
    assert not split_assert("assert 1 / f(0) == 1").passes([0])
    huge = split_assert("assert [0] * f(1) == []")
    started = time.perf_counter()
    assert not huge.passes([10**12]) and not split_assert("assert 2 ** f(1) == 0").passes([10**9])
    assert time.perf_counter() - started < 1.0  # refused before building, not built


@pytest.mark.parametrize(("source", "setup", "message"), [
    ("x = 1", "", "is not one assert statement"),
    ("assert True", "", "does not use the program"),
    ("assert f(1) == expected", "expected = 2", "rooted at 'expected', which setup defines"),
    ("assert check(f(1), 2)", "def check(a, b):\n    return a == b", "which setup defines"),
    ("assert all(f(i) for i in range(3))", "", "GeneratorExp"),
    ("assert sorted(f(1), key=lambda v: -v) == [1]", "", "Lambda"),
    ("assert f(1) == math.tau", "import math", "only math.isclose"),
    ("assert f(1 ==", "", "does not parse"),
])
def test_asserts_that_cannot_be_split_are_refused(source: str, setup: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        split_assert(source, bound_names(setup, "setup"))


def test_asserts_with_floats_and_setup_end_to_end(sandbox) -> None:
    ref = {"setup": "import math\nRADII = [1.0, 2.0]",
           "asserts": ["assert abs(area(RADII[0]) - 3.14159) < 1e-3",
                       "assert math.isclose(area(RADII[1]), 12.566, rel_tol=1e-3)",
                       "assert isinstance(area(0), float)"]}
    right = "import math\ndef area(r):\n    return math.pi * r * r\n"
    wrong = "def area(r):\n    return 3.0 * r * r\n"  # 3.0, 12.0 (both off), a float
    rewards = CodeVerifier(workers=2).score(["p", "p"], [right, wrong], [ref, ref])
    assert rewards.tolist() == pytest.approx([1.0, 1 / 3])


def test_a_program_shadowing_a_checked_builtin_is_a_logged_failure(
    sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    ref = {"asserts": ["assert sum(1, 2) == 3"]}
    with caplog.at_level(logging.WARNING, logger="rewardlab.verifiers"):
        got = CodeVerifier(failure_reward=-1.0).score(["p"], ["def sum(a, b):\n    return a+b"],
                                                      [ref])
    assert got.tolist() == [-1.0]
    assert "it uses 'sum', which the program defines" in caplog.text


def test_without_a_sandbox_the_reward_refuses_unless_waived(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from rewardlab.cli.main import app
    from rewardlab.verifiers.sandbox import Isolation, SandboxUnavailable, run

    missing = "bubblewrap (bwrap) is not installed: install it (apt-get install bubblewrap)"
    monkeypatch.setattr(run, "isolation", lambda: Isolation("none", missing))
    responses = [f"```python\n{SUM_TWO['correct']}```", SUM_TWO["wrong"]]
    refs = [SUM_TWO["reference"]] * 2
    with pytest.raises(SandboxUnavailable, match="bubblewrap"):
        CodeVerifier().score(["p", "p"], responses, refs)
    waived = CodeVerifier(unsafe_no_sandbox=True, workers=2).score(["p", "p"], responses, refs)
    assert waived.tolist() == pytest.approx([1.0, 1 / 3])
    # the CLI: one error line before anything runs, unless --unsafe-no-sandbox
    data = tmp_path / "in.jsonl"
    data.write_text("".join(json.dumps({"prompt": "p", "response": r, "solution": ref}) + "\n"
                            for r, ref in zip(responses, refs)))
    args = ["score", "--data", str(data), "--out", str(tmp_path / "out.jsonl"), "--rewards", "code"]
    refused = CliRunner().invoke(app, args)
    assert refused.exit_code == 1 and not (tmp_path / "out.jsonl").exists()
    assert refused.output.strip().splitlines() == [
        f"error: code rewards refuse to run without a sandbox: {missing} (--unsafe-no-sandbox / "
        "unsafe_no_sandbox=True runs them unisolated)"
    ]
    allowed = CliRunner().invoke(app, [*args, "--unsafe-no-sandbox"])
    assert allowed.exit_code == 0, allowed.output
    scored = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [r["reward"] for r in scored] == pytest.approx([1.0, 1 / 3])
