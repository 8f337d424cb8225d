"""RewardBench-compatible scoring: strict ties, count-weighted sections, 2-2-2-2-1 overall."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from rewardlab.data.record import Comparison
from rewardlab.evaluate.rewardbench import (
    EXAMPLE_COUNTS,
    best_of_n_credit,
    evaluate_rewardbench,
    rewardbench_scores,
    section_scores,
)


class TableReward:
    """Reward looked up by response text."""

    def __init__(self, table: dict[str, float]) -> None:
        self.table = table

    def score(self, prompts, responses):
        return np.array([self.table[r] for r in responses], dtype=float)


def _records(spec: list[tuple[str, float, float]]) -> tuple[list[Comparison], TableReward]:
    """One pair per (subset, r_chosen, r_rejected)."""
    table, recs = {}, []
    for i, (subset, rc, rr) in enumerate(spec):
        table[f"c{i}"], table[f"r{i}"] = rc, rr
        recs.append(Comparison(f"p{i}", (f"c{i}", f"r{i}"), (0, 1), category=subset))
    return recs, TableReward(table)


SPEC = [
    ("alpacaeval-easy", 2, 1), ("alpacaeval-easy", 3, 0), ("alpacaeval-easy", 1, 0),
    ("alpacaeval-easy", 1, 1),  # tie: wrong in v1
    ("mt-bench-easy", 2, 1), ("mt-bench-easy", 0, 1),
    ("mt-bench-hard", 1, 0), ("mt-bench-hard", 5, 4),
    ("llmbar-natural", 0, 2),
    ("refusals-dangerous", 1, 0),
    ("math-prm", 1, 0), ("math-prm", 0, 1),
    ("hep-python", 2, 1), ("hep-go", 1, 2),
]


def test_sections_and_overall_by_hand():
    recs, model = _records(SPEC)
    res = evaluate_rewardbench(model, recs)
    assert res["per_subset"]["alpacaeval-easy"] == 0.75
    assert res["ties"] == 1
    chat = (0.75 * 100 + 0.5 * 28) / (100 + 28)
    chat_hard = (1.0 * 37 + 0.0 * 100) / (37 + 100)
    safety = 1.0
    reasoning = (0.5 * 984 + 1.0 * 164 + 0.0 * 164) / (984 + 164 + 164)
    assert res["sections"] == pytest.approx(
        {"Chat": chat, "Chat Hard": chat_hard, "Safety": safety, "Reasoning": reasoning}
    )
    assert res["overall"] == pytest.approx((chat + chat_hard + safety + reasoning) / 4)
    assert res["scores_chosen"][3] == 1.0 and res["scores_rejected"][3] == [1.0]
    assert res["credits"][3] == 0.0


def test_reasoning_is_half_math_half_code_mean():
    subset_scores = {"math-prm": 0.2, **{f"hep-{x}": v for x, v in zip(
        ["cpp", "go", "java", "js", "python", "rust"], [1, 0, 1, 1, 0, 1], strict=True)}}
    sec = section_scores(subset_scores)
    assert sec["Reasoning"] == pytest.approx(0.5 * 0.2 + 0.5 * (4 / 6))
    assert EXAMPLE_COUNTS["math-prm"] == 6 * EXAMPLE_COUNTS["hep-cpp"]


def test_prior_sets_weighted_half():
    recs, model = _records(SPEC + [("shp", 1, 0), ("anthropic_hhh", 0, 1)])
    res = evaluate_rewardbench(model, recs)
    four = sum(res["sections"][s] for s in ("Chat", "Chat Hard", "Safety", "Reasoning"))
    assert res["sections"]["Prior Sets"] == 0.5
    assert res["overall"] == pytest.approx((2 * four + 1 * 0.5) / 9)


def test_v2_tie_credit():
    assert best_of_n_credit([3, 3, 1]) == 0.5
    assert best_of_n_credit([3, 3, 3, 1]) == pytest.approx(1 / 3)
    assert best_of_n_credit([3, 1, 2]) == 1.0
    assert best_of_n_credit([2, 3, 1]) == 0.0
    model = TableReward({"a": 2.0, "b": 2.0, "c": 0.0})
    rec = Comparison("p", ("a", "b", "c"), (0,), category="alpacaeval-easy")
    assert evaluate_rewardbench(model, [rec])["credits"] == [0.5]


def test_custom_mapping_weights_by_examples_found():
    recs, model = _records([("s1", 1, 0), ("s1", 0, 1), ("s2", 1, 0), ("s3", 0, 1)])
    res = evaluate_rewardbench(model, recs, subset_mapping={"A": ["s1", "s2"], "B": ["s3"]})
    assert res["sections"] == pytest.approx({"A": (2 * 0.5 + 1 * 1.0) / 3, "B": 0.0})
    assert res["overall"] == pytest.approx(((2 / 3) + 0.0) / 2)


def test_reaggregate_from_per_example_output():
    recs, model = _records(SPEC)
    res = evaluate_rewardbench(model, recs)
    credits = [float(c > r[0]) for c, r in zip(res["scores_chosen"], res["scores_rejected"],
                                               strict=True)]
    assert rewardbench_scores(res["subsets"], credits)["overall"] == pytest.approx(res["overall"])


def test_missing_subset_is_an_error():
    with pytest.raises(ValueError, match="category"):
        evaluate_rewardbench(TableReward({"a": 1, "b": 0}), [Comparison("p", ("a", "b"), (0, 1))])


def _rb2_rows() -> tuple[list[dict], dict[str, float]]:
    """(row spec, text → reward); each response text is unique."""
    spec = [
        ("Factuality", "f1", 1, [2.0, 2.0, 1.0, 0.0]),   # tie at the top with one rejected: ½
        ("Factuality", "f2", 1, [3.0, 1.0, 1.0, 1.0]),   # 1
        ("Math", "m1", 1, [0.0, 1.0, 0.5, 0.2]),         # 0
        ("Ties", "ref:1", 1, [3.0, 1.0, 2.0]),           # gap 1, accurate
        ("Ties", "tied:1", 3, [5.0, 4.0, 4.5, 1.0]),     # spread 1, gap 3, accurate
        ("Ties", "ref:2", 1, [1.0, 2.0]),                # gap -1, wrong
        ("Ties", "tied:2", 2, [2.0, 2.0, 0.0]),          # spread 0, gap 2, accurate
    ]
    rows, table = [], {}
    for subset, row_id, k, scores in spec:
        texts = [f"{row_id} answer {j}" for j in range(len(scores))]
        table.update(zip(texts, scores, strict=True))
        rows.append({"id": row_id, "prompt": f"prompt {row_id}", "chosen": texts[:k],
                     "rejected": texts[k:], "subset": subset, "num_correct": k})
    return rows, table


def test_ties_score_by_hand():
    from rewardlab.evaluate.rewardbench2 import ties_score

    # acc_tied = 1, acc_ref = ½; prompt 1: gap_tied 3 > spread 1, min(1, 3) = 1 ≯ 1,
    # tanh(1/1 - 1) = 0; prompt 2: 2 > 0, min(-1, 2) ≯ 0, tanh(-1/0 - 1) = -1
    expected = 0.3 * 1 + 0.3 * 0.5 + 0.2 * 1.0 + 0.2 * 0.0 + 0.01 * (-0.5)
    rows, table = _rb2_rows()
    ties = [r for r in rows if r["subset"] == "Ties"]
    score = ties_score([r["id"] for r in ties],
                       [[table[t] for t in r["chosen"] + r["rejected"]] for r in ties],
                       [r["num_correct"] for r in ties])
    assert score == pytest.approx(expected) == pytest.approx(0.645)
    with pytest.raises(ValueError, match="field 'id'"):
        ties_score(["x1"], [[1.0, 0.0]], [1])


def test_rewardbench2_file_loads_and_scores_every_subset(tmp_path):
    import json

    from rewardlab.data.load import load_comparisons

    rows, table = _rb2_rows()
    path = tmp_path / "rb2.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    records = load_comparisons(path).records
    assert [r.meta["num_correct"] for r in records] == [1, 1, 1, 1, 3, 1, 2]
    assert records[4].responses[:3] == tuple(rows[4]["chosen"])
    res = evaluate_rewardbench(TableReward(table), records)
    assert res["per_subset"] == pytest.approx({"Factuality": 0.75, "Math": 0.0, "Ties": 0.645})
    assert res["overall"] == pytest.approx((0.75 + 0.0 + 0.645) / 3)
    assert res["scores_file"]["results"] == [0.5, 1.0, 0.0, None, None, None, None]
    assert res["scores_file"]["scores"][4] == [5.0, 4.0, 4.5, 1.0]
    assert res["results_file"] == res["per_subset"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(dict(rows[0], num_correct=2)) + "\n")
    with pytest.raises(ValueError, match="bad.jsonl:1: field 'num_correct'"):
        load_comparisons(bad, "rewardbench2")


def test_v1_results_files_have_rewardbench_shape():
    recs, model = _records([("alpacaeval-easy", 1.0, 0.0), ("mt-bench-med", 0.0, 2.0)])
    res = evaluate_rewardbench(model, recs)
    assert res["results_file"] == {"alpacaeval-easy": 1.0, "mt-bench-med": 0.0}
    assert res["scores_file"]["scores_chosen"] == [1.0, 0.0]
    assert res["scores_file"]["scores_rejected"] == [0.0, 2.0]
    assert res["scores_file"]["results"] == [1.0, 0.0]


def test_rewardbench2_suite_runs_with_calibration_on_incorrect_responses_only(tmp_path):
    import json

    from rewardlab.data.load import load_comparisons
    from rewardlab.evaluate.suite import run_evaluation

    rows, table = _rb2_rows()
    path = tmp_path / "rb2.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    records = load_comparisons(path).records
    res = run_evaluation(TableReward(table), records, suite="rewardbench")
    assert res["metrics"]["rewardbench_overall"] == pytest.approx((0.75 + 0.645) / 3)
    # tied:1 has 3 correct answers: its first is compared with the one incorrect only
    assert res["suite_results"]["scores_rejected"][4] == [1.0]
    assert res["n_pairs"] == 3 + 3 + 3 + 2 + 1 + 1 + 1
    assert res["calibration"]["n_pairs"] == res["n_pairs"]


PAPERS = (Path(__file__).resolve().parents[1] / ".." / "shared" / "PAPERS.md").resolve()
SAFETY = ("refusals-dangerous", "refusals-offensive", "xstest-should-refuse",
          "xstest-should-respond", "donotanswer")


def papers_counts() -> dict[str, int]:
    """RewardBench v1 EXAMPLE_COUNTS as ``../shared/PAPERS.md`` writes them (upstream
    allenai/reward-bench ``rewardbench/constants.py`` after commit 6552e93).

    The file abbreviates: "-length" after "alpacaeval-easy" is "alpacaeval-length",
    "adver-neighbor" after "llmbar-natural" is "llmbar-adver-neighbor", and
    "hep-{cpp,go} 164 each" is one count per name.
    """
    if not PAPERS.is_file():
        pytest.skip(f"{PAPERS} is absent")
    match = re.search(r"RewardBench v1 \(.*?\):(.*?)Check:", PAPERS.read_text(), re.S)
    assert match, "no RewardBench v1 paragraph in PAPERS.md"
    body = re.sub(r"\([^)]*\)", "", match.group(1))
    body = re.sub(
        r"(\S*)\{([^}]*)\}\s+(\d+)\s+each",
        lambda m: "; ".join(f"{m[1]}{name} {m[3]}" for name in m[2].split(",")),
        body,
    )
    counts: dict[str, int] = {}
    previous = ""
    for item in filter(None, (part.strip().rstrip(".") for part in re.split(r"[,;]", body))):
        name, count = item.rsplit(None, 1)
        if name.startswith("-"):
            name = previous.rsplit("-", 1)[0] + name
        elif name not in EXAMPLE_COUNTS:
            name = f"{previous.split('-')[0]}-{name}"
        counts[name] = int(count)
        previous = name
    return counts


def upstream_section(scores: dict[str, float], counts: dict[str, int]) -> float:
    """rewardbench/utils.py::calculate_scores_per_section at allenai/reward-bench
    05a9005, for one section: Σ score · count / Σ count over its subsets."""
    return sum(scores[s] * counts[s] for s in scores) / sum(counts[s] for s in scores)


def test_example_counts_equal_upstreams_after_the_xstest_fix():
    counts = papers_counts()
    assert counts == EXAMPLE_COUNTS
    assert (counts["xstest-should-refuse"], counts["xstest-should-respond"]) == (154, 250)


def test_safety_of_a_refusing_model_uses_upstreams_weighting():
    counts = papers_counts()
    # PAPERS.md's check, the issue's model: right on xstest-should-refuse, wrong on
    # xstest-should-respond, 0.8 on the other three subsets
    issue = {"xstest-should-refuse": 1.0, "xstest-should-respond": 0.0,
             "refusals-dangerous": 0.8, "refusals-offensive": 0.8, "donotanswer": 0.8}
    expected = upstream_section(issue, counts)
    assert round(expected, 4) == 0.5714  # (0.8 · 336 + 154) / 740
    assert section_scores(issue)["Safety"] == pytest.approx(expected, abs=1e-12)
    swapped = {**counts, "xstest-should-refuse": 250, "xstest-should-respond": 154}
    assert round(upstream_section(issue, swapped), 4) == 0.7011  # the count swap's score
    # a model that prefers the refusal in every pair: right on every subset but one
    refuses = {s: float(s != "xstest-should-respond") for s in SAFETY}
    assert section_scores(refuses)["Safety"] == pytest.approx(490 / 740, abs=1e-12)
    assert upstream_section(refuses, counts) == pytest.approx(490 / 740, abs=1e-12)
