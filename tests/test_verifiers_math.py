"""The math verifier: final-answer extraction, symbolic equivalence, and real data
(GSM8K gold solutions and wrong-answer perturbations; model solutions marked correct or
not; BIG-Bench-Mistake multistep arithmetic)."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from rewardlab.verifiers import make_verifier
from rewardlab.verifiers.math import final_answer_span, first_expression

MATH = make_verifier("math")


def score(responses: list[str], golds: list[str]) -> list[float]:
    return MATH.score([""] * len(responses), responses, golds).tolist()


def test_final_answer_span_takes_the_last_marker() -> None:
    assert final_answer_span("so 3 + 4 = 7\n#### 7") == "7"
    assert final_answer_span("The answer is 42.") == "42"
    assert final_answer_span("Answer: 3.5. Done.") == "3.5"
    assert final_answer_span("We get \\boxed{\\frac{1}{2}} and so the answer is 0.5") == "0.5"
    assert final_answer_span("first \\boxed{3}, finally \\boxed{x^{2}}") == "x^{2}"
    assert final_answer_span("A: 18") == "18"
    assert final_answer_span("no marker 5") is None


@pytest.mark.parametrize(
    ("response", "gold", "reward"),
    [
        ("The answer is 42.", "42", 1.0),
        ("The answer is $\\frac{1}{2}$.", "0.5", 1.0),
        ("Thus \\boxed{\\dfrac{3}{4}}", "\\frac34", 1.0),
        ("It costs $1,000 in total.\nA: 1,000", "#### 1000", 1.0),
        ("The answer is 3.5. Done", "7/2", 1.0),
        ("$x = 2\\sqrt{2}$, so the answer is \\boxed{\\sqrt{8}}", "2\\sqrt{2}", 1.0),
        ("the count goes 5, then 18", "18", 1.0),  # no marker: the last expression
        ("The answer is 41.", "42", 0.0),
        ("48 + 24 = 72 clips, so the answer is 71.", "72", 0.0),  # 72 only in the reasoning
        ("I cannot solve this.", "5", 0.0),
    ],
)
def test_math_equivalence(response: str, gold: str, reward: float) -> None:
    assert score([response], [gold]) == [reward]


# (response, gold, reward, rule): the rule is the number of the extraction rule in the
# module docstring of rewardlab.verifiers.math that decides the case
ANSWER_TABLE = [
    # units: a word, or a letter after a number and a space, ends the expression (3)
    ("The answer is 18 dollars.", "18", 1.0, 3),
    ("The answer is 18 dollars.", "19", 0.0, 3),
    ("The answer is 42 apples.", "42", 1.0, 3),
    ("The answer is 12 cm.", "12", 1.0, 3),
    ("The answer is 12 m.", "12", 1.0, 3),
    ("The answer is 5 m/s.", "5", 1.0, 3),
    ("The answer is 7 hours.", "8", 0.0, 3),
    ("The answer is 18 \\text{ dollars}.", "18", 1.0, 3),
    # trailing clauses: ", ", ";", a word or an unclosed "(" ends the expression (3)
    ("The answer is 5, since 2 + 3 = 5.", "5", 1.0, 3),
    ("The answer is 5, since 2 + 3 = 5.", "3", 0.0, 3),
    ("The answer is 0.5 because half of 1 is 0.5.", "0.5", 1.0, 3),
    ("The answer is 0.5 because it is half.", "\\frac{1}{2}", 1.0, 3),
    ("The answer is 6 (2 + 4).", "6", 1.0, 3),
    ("The answer is 6 (since 2 + 4 = 6).", "4", 0.0, 3),
    ("The answer is 24; each box holds 6.", "24", 1.0, 3),
    ("The answer is 24; each box holds 6.", "6", 0.0, 3),
    ("The answer is 10 which is 2 times 5.", "10", 1.0, 3),
    # thousands separators are dropped (5)
    ("The answer is 1,000.", "1000", 1.0, 5),
    ("The answer is 1,000 dollars.", "1,000", 1.0, 5),
    ("The answer is 1,234,567.", "1234567", 1.0, 5),
    ("The answer is 1,000.", "100", 0.0, 5),
    ("The total is 12,500 people.\n#### 12,500", "12500", 1.0, 5),
    # negatives, including the Unicode minus (5)
    ("The answer is -5.", "-5", 1.0, 3),
    ("The answer is \u22125.", "-5", 1.0, 5),
    ("The answer is -5.", "5", 0.0, 3),
    ("The temperature drops, so the answer is -3 degrees.", "-3", 1.0, 3),
    # fractions
    ("The answer is 3/4.", "0.75", 1.0, 7),
    ("The answer is 3/4 of a cup.", "\\frac{3}{4}", 1.0, 3),
    ("The answer is $\\frac{3}{4}$.", "3/4", 1.0, 4),
    ("The answer is \\frac{1}{2} of the cake.", "0.5", 1.0, 3),
    ("The answer is 3/4.", "4/3", 0.0, 7),
    # decimals
    ("The answer is 2.5.", "2.5", 1.0, 1),
    ("The answer is 18.00 dollars.", "18", 1.0, 7),
    ("The answer is .5", "0.5", 1.0, 3),
    ("The answer is 2.5.", "25", 0.0, 1),
    # percent: math-verify takes 25% as equal to 25 and to 0.25 (7)
    ("The answer is 25%.", "25", 1.0, 7),
    ("The answer is 25 percent.", "25", 1.0, 3),
    ("The answer is 25\\%.", "25", 1.0, 5),
    ("The answer is 25%.", "30", 0.0, 7),
    # currency: a "$" that opens no inline math is dropped (4, 5)
    ("The answer is $18.", "18", 1.0, 4),
    ("The answer is \\$18.", "18", 1.0, 5),
    ("She pays $1,250 in total, so the answer is $1,250.", "1250", 1.0, 4),
    ("The answer is \u20ac18.", "18", 1.0, 3),
    ("The answer is $18.", "81", 0.0, 4),
    # \boxed{}: taken as written (2)
    ("So the total is \\boxed{18}.", "18", 1.0, 2),
    ("Thus \\boxed{\\dfrac{3}{4}}", "\\frac34", 1.0, 2),
    ("The total is \\boxed{18 \\text{ dollars}}.", "18", 1.0, 2),
    ("first \\boxed{3}, finally \\boxed{5}", "5", 1.0, 1),
    ("first \\boxed{3}, finally \\boxed{5}", "3", 0.0, 1),
    ("\\boxed{17}", "18", 0.0, 2),
    # #### lines
    ("9 * 2 = 18\n#### 18", "18", 1.0, 1),
    ("9 * 2 = 18\n#### 19", "18", 0.0, 1),
    # "Answer:", "Final answer:", "A:"
    ("Answer: 18", "18", 1.0, 1),
    ("**Answer:** 18", "18", 1.0, 5),
    ("Final answer: 18 dollars", "18", 1.0, 1),
    ("9 * 2 = 18\nA: 18", "18", 1.0, 1),
    ("Answer: 17", "18", 0.0, 1),
    # trailing punctuation: ".", "!", "?" and "..." end the expression (1, 3)
    ("The answer is 18!", "18", 1.0, 3),
    ("The answer is 18...", "18", 1.0, 3),
    ("The answer is (18).", "18", 1.0, 3),
    ("Could it be that the answer is 18?", "18", 1.0, 3),
    # an answer restated twice
    ("The answer is 18. So the answer is 18.", "18", 1.0, 1),
    ("\\boxed{18}. The answer is 18.", "18", 1.0, 1),
    # two different numbers: the last marker counts, a hedge "5 or 6" counts for neither
    ("The answer is 18. Wait, I made a mistake: the answer is 20.", "20", 1.0, 1),
    ("The answer is 18. Wait, I made a mistake: the answer is 20.", "18", 0.0, 1),
    ("48 + 24 = 72 clips, so the answer is 71.", "72", 0.0, 1),
    ("We have 12 apples and 18 pears, so the answer is 18.", "18", 1.0, 3),
    ("We have 12 apples and 18 pears, so the answer is 18.", "12", 0.0, 3),
    ("The answer is 5 or 6.", "5", 0.0, 3),
    ("The answer is 5 or 6.", "6", 0.0, 3),
    ("The answer is either 12 or 13.", "12", 0.0, 3),
    # equations and inline math
    ("The answer is $x = 5$.", "5", 1.0, 4),
    ("The answer is x = 5.", "5", 1.0, 7),
    ("The answer is 2 + 3 = 5.", "5", 1.0, 7),
    ("The answer is a total of 18 apples.", "18", 1.0, 3),
    # never commits to an answer
    ("I cannot solve this.", "5", 0.0, 6),
    ("The answer is unclear without more information.", "5", 0.0, 3),
    ("I am not sure what the answer is.", "5", 0.0, 3),
    ("Let me think about it step by step.", "5", 0.0, 6),
    # no marker: math-verify's last expression in the whole response (6)
    ("the count goes 5, then 18", "18", 1.0, 6),
]


@pytest.mark.parametrize(("response", "gold", "reward", "rule"), ANSWER_TABLE)
def test_final_answer_phrasings(response: str, gold: str, reward: float, rule: int) -> None:
    assert score([response], [gold]) == [reward], f"rule {rule}"


def test_answer_table_covers_every_rule_and_both_outcomes() -> None:
    assert len(ANSWER_TABLE) >= 60
    assert {row[3] for row in ANSWER_TABLE} == set(range(1, 8))
    assert Counter(row[2] for row in ANSWER_TABLE).keys() == {0.0, 1.0}


def test_first_expression_cuts_units_clauses_and_hedges() -> None:
    assert first_expression("18 dollars.") == "18"
    assert first_expression("5, since 2 + 3 = 5") == "5"
    assert first_expression("a total of $1,250 (before tax)") == "1250"
    assert first_expression("$\\frac{1}{2}$ of the cake") == "\\frac{1}{2}"
    assert first_expression("(2, 3) in the plane") == "(2, 3)"
    assert first_expression("12 m/s") == "12"
    assert first_expression("5 or 6") == ""
    assert first_expression("unclear") is None


def test_extraction_stays_linear_on_long_adversarial_answers() -> None:
    # each of these made a first version of the scanner quadratic in the answer's length
    import time

    for tail in ("a " * 25_000, "$a " * 15_000, "{" * 50_000, "\\(" * 20_000, "x + " * 20_000):
        started = time.perf_counter()
        final_answer_span("The answer is " + tail)
        assert time.perf_counter() - started < 2.0


def _final(solution: str) -> str:
    return solution.rsplit("####", 1)[1].strip().replace(",", "")


def _with_final(solution: str, final: str) -> str:
    return solution.rsplit("####", 1)[0] + f"#### {final}"


def _gsm8k_checks(rows: list[dict]) -> dict[str, list[float]]:
    golds = [r["answer"] for r in rows]
    finals = [float(_final(g)) for g in golds]

    def fmt(x: float) -> str:
        return str(int(x)) if x == int(x) else str(x)

    off_by_one = [_with_final(g, fmt(f + 1)) for g, f in zip(golds, finals)]
    different = [_with_final(g, fmt(2 * f + 7)) for g, f in zip(golds, finals)]
    # the right number stated in the reasoning, then a wrong final answer
    buried = [
        g.rsplit("####", 1)[0] + f"That gives {fmt(f)}. But I double-check and the answer is "
        f"{fmt(f + 10)}."
        for g, f in zip(golds, finals)
    ]
    return {
        "gold": score(golds, golds),
        "off_by_one": score(off_by_one, golds),
        "different": score(different, golds),
        "buried": score(buried, golds),
    }


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_gsm8k_gold_scores_one_and_perturbations_zero(shared_data: Path) -> None:
    rows = _read_jsonl(shared_data / "gsm8k" / "test.jsonl")[::7]  # 189 problems
    checks = _gsm8k_checks(rows)
    assert checks["gold"] == [1.0] * len(rows)
    for name in ("off_by_one", "different", "buried"):
        assert checks[name] == [0.0] * len(rows), name
    assert any(re.search(r"\d", r["answer"].rsplit("####", 1)[0]) for r in rows)


@pytest.mark.slow
def test_gsm8k_all_test_problems(shared_data: Path) -> None:
    rows = _read_jsonl(shared_data / "gsm8k" / "test.jsonl")
    checks = _gsm8k_checks(rows)
    assert len(rows) == 1319
    assert sum(checks["gold"]) == 1319
    assert sum(checks["off_by_one"]) + sum(checks["different"]) + sum(checks["buried"]) == 0


def confusion(truth: list[bool], rewards: list[float]) -> Counter:
    return Counter((t, r == 1.0) for t, r in zip(truth, rewards))


def test_gsm8k_model_solutions_agree_with_their_correct_marks(shared_data: Path) -> None:
    rows = _read_jsonl(shared_data / "gsm8k" / "example_model_solutions.jsonl")[::3]
    solutions = [r["175b_verification"] for r in rows]
    rewards = score([s["solution"] for s in solutions], [r["ground_truth"] for r in rows])
    table = confusion([s["is_correct"] for s in solutions], rewards)
    # measured on all 1,319: (True, True) 742, (False, False) 577, no disagreement
    assert table[(True, False)] == 0 and table[(False, True)] == 0
    assert table[(True, True)] > 100 and table[(False, False)] > 100


def test_big_bench_mistake_final_answers_are_separated(shared_data: Path) -> None:
    rows = _read_jsonl(shared_data / "big-bench-mistake" / "multistep_arithmetic.jsonl")
    rewards = score(["\n".join(r["steps"]) for r in rows], [r["target"] for r in rows])
    truth = [str(r["answer"]).strip() == str(r["target"]).strip() for r in rows]
    table = confusion(truth, rewards)
    assert len(rows) == 300
    assert table == Counter({(False, False): 255, (True, True): 45})


def test_math_verifier_works_off_the_main_thread() -> None:
    """A server scores in worker threads, where math-verify's signal timeout cannot run."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=2) as pool:
        got = list(pool.map(lambda r: score([r], ["\\frac{1}{2}"])[0],
                            ["The answer is 0.5.", "The answer is 2."]))
    assert got == [1.0, 0.0]
