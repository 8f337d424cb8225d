"""Rule verifiers (choice, match, format, JSON, length, repetition), the registry, the
per-sample failure reward and the reference helpers of rewardlab.protocols."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence

import numpy as np
import pytest

from rewardlab.protocols import (
    MissingReferenceError,
    ReferenceRewardModel,
    RewardModel,
    score_components,
    score_with_references,
)
from rewardlab.registry import UnknownNameError
from rewardlab.verifiers import VERIFIERS, Verifier, make_verifier
from rewardlab.verifiers.length import overlong_penalty
from rewardlab.verifiers.match import normalize_answer
from rewardlab.verifiers.repetition import repetition_rate


def score(name: str, responses: list[str], refs: list | None = None, **params) -> list[float]:
    model = make_verifier(name, **params)
    return model.score(["p"] * len(responses), responses, refs).tolist()


def test_every_verifier_is_a_reference_reward_model() -> None:
    assert VERIFIERS.names() == [
        "choice", "code", "exact", "format", "json", "json_schema", "math", "normalized",
        "overlong", "repetition",
    ]
    for name in VERIFIERS:
        cls = VERIFIERS.get(name)
        params = {"max_length": 10, "cache_length": 2} if name == "overlong" else {}
        model = cls(**params)
        assert isinstance(model, ReferenceRewardModel) and isinstance(model, RewardModel)


def test_registry_suggests_close_names() -> None:
    with pytest.raises(UnknownNameError, match=r"unknown verifier 'mathh'; did you mean 'math'"):
        make_verifier("mathh")
    with pytest.raises(ValueError, match=r"verifier 'choice': bad parameters \['letters'\]"):
        make_verifier("choice", letters="AB")


def test_choice_reads_the_final_letter() -> None:
    responses = [
        "Option (A) looks tempting, but the answer is (C).",
        "Answer: b",
        "I pick \\boxed{D}",
        "(A) is wrong; (B) is right",
        "C",
        "No idea.",
    ]
    assert score("choice", responses, ["C", "(B)", "D", "B", "C", "A"]) == [1, 1, 1, 1, 1, 0]
    assert score("choice", ["The answer is (A)."], ["C"]) == [0.0]


def test_exact_and_normalized_match() -> None:
    assert score("exact", ["  Paris\n", "paris"], ["Paris", "Paris"]) == [1.0, 0.0]
    assert normalize_answer("The  Eiffel-Tower!") == "eiffeltower"
    assert score("normalized", ["the Paris.", "Lyon"], ["Paris", ["Lyon", "Lyons"]]) == [1.0, 1.0]
    pattern = r"Answer:\s*(.+)"
    got = score("normalized", ["Thinking… Answer: an apple", "no marker"], ["Apple", "x"],
                pattern=pattern)
    assert got == [1.0, 0.0]


def test_format_full_match_and_partial_credit() -> None:
    good = "<think>2+2 is 4</think>\n<answer>4</answer>"
    no_think_close = "<think>2+2 is 4\n<answer>4</answer>"
    doubled = "<think>a</think><think>b</think><answer>4</answer>"
    assert score("format", [good, no_think_close, "4"]) == [1.0, 0.0, 0.0]
    # partial: 0.5 × (parts present exactly once) / 4
    got = score("format", [good, no_think_close, doubled, "4"], partial_credit=True)
    assert got == [1.0, 0.5 * 3 / 4, 0.5 * 2 / 4, 0.0]
    assert score("format", ["ANSWER: 7"], pattern=r"ANSWER: \d+") == [1.0]
    with pytest.raises(ValueError, match="partial_scale"):
        make_verifier("format", partial_scale=1.0)
    with pytest.raises(ValueError, match="not a valid regular expression"):
        make_verifier("format", pattern="(unclosed")


def test_json_validity_and_schema() -> None:
    fenced = 'Here you go:\n```json\n{"name": "Ada", "age": 36}\n```'
    assert score("json", [fenced, '{"a": 1}', "{'a': 1}", "[1, 2"]) == [1.0, 1.0, 0.0, 0.0]
    schema = {"type": "object", "properties": {"age": {"type": "integer", "minimum": 0}},
              "required": ["age"]}
    responses = [fenced, '{"age": -1}', '{"name": "x"}', "not json"]
    assert score("json_schema", responses, schema=schema) == [1.0, 0.0, 0.0, 0.0]
    # per-sample schemas given as references (dict or JSON text)
    refs = [schema, json.dumps({"type": "array"}), schema, schema]
    assert score("json_schema", ['{"age": 3}', "[1]", "[1]", '{"age": 3.5}'], refs) == [
        1.0, 1.0, 0.0, 0.0,
    ]
    with pytest.raises(ValueError, match="schema: 'no-such-type' is not valid"):
        make_verifier("json_schema", schema={"type": "no-such-type"})


def test_overlong_penalty_matches_dapo() -> None:
    # L_max = 10, L_cache = 4: 0 up to 6, then (6 − L)/4, −1 beyond 10
    assert [overlong_penalty(n, 10, 4) for n in (0, 6, 7, 8, 10, 11)] == [
        0.0, 0.0, -0.25, -0.5, -1.0, -1.0,
    ]
    words = [" ".join(["w"] * n) for n in (5, 8, 12)]
    assert score("overlong", words, max_length=10, cache_length=4) == [0.0, -0.5, -1.0]
    assert score("overlong", ["abcdefgh"], max_length=10, cache_length=4, unit="chars") == [-0.5]
    model = make_verifier("overlong", max_length=10, cache_length=4, length_fn=lambda s: 9)
    assert model.score(["p"], ["x"]).tolist() == [-0.75]
    with pytest.raises(ValueError, match="cache_length"):
        make_verifier("overlong", max_length=4, cache_length=5)


def test_repetition_rate_and_penalty() -> None:
    # "a b a b a b": bigrams ab ba ab ba ab → 5 bigrams, 2 distinct → rate 1 − 2/5
    assert repetition_rate("a b a b a b", 2) == pytest.approx(0.6)
    assert repetition_rate("one two three", 3) == 0.0
    assert repetition_rate("too short", 3) == 0.0
    assert score("repetition", ["a b a b a b", "x y z"], n=2, weight=2.0) == [-1.2, 0.0]


class Exploding(Verifier):
    name = "exploding"

    def check(self, prompt: str, response: str, reference: object) -> float:
        if response == "boom":
            raise RuntimeError("parser blew up")
        return 1.0


def test_a_crash_on_one_sample_gives_the_failure_reward(caplog) -> None:
    model = Exploding(failure_reward=-1.0)
    with caplog.at_level(logging.WARNING, logger="rewardlab.verifiers"):
        got = model.score(["p"] * 3, ["ok", "boom", "ok"], ["r"] * 3)
    assert got.tolist() == [1.0, -1.0, 1.0]
    reason = "verifier 'exploding' failed on sample 1 (reward -1.0): RuntimeError: parser blew up"
    assert reason in caplog.text
    # a reference the rule cannot read is a per-sample failure too
    with caplog.at_level(logging.WARNING, logger="rewardlab.verifiers"):
        assert score("choice", ["(A)", "(A)"], ["A", "not a letter"]) == [1.0, 0.0]
    assert "failed on sample 1" in caplog.text


class Plain:
    """An existing-style reward model: no references."""

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        return np.array([float(len(r)) for r in responses])


def test_score_with_references_passes_references_only_to_models_that_take_them() -> None:
    plain = Plain()
    assert not isinstance(plain, ReferenceRewardModel)
    got = score_with_references(plain, ["p", "q"], ["ab", "c"], ["x", None])
    np.testing.assert_array_equal(got, [2.0, 1.0])
    math = make_verifier("math")
    got = score_with_references(math, ["p", "p"], ["The answer is 4.", "5"], ["4", "4"])
    np.testing.assert_array_equal(got, [1.0, 0.0])
    fmt = make_verifier("format")
    np.testing.assert_array_equal(score_with_references(fmt, ["p"], ["x"]), [0.0])
    total, parts = score_components(plain, ["p"], ["abc"])
    assert total.tolist() == [3.0] and parts == {}


def test_a_missing_reference_is_one_error_naming_the_field() -> None:
    math = make_verifier("math")
    with pytest.raises(MissingReferenceError, match=r"needs a reference for every sample in field "
                       r"'labels', but none was given"):
        score_with_references(math, ["p"], ["4"], None, field="labels")
    with pytest.raises(MissingReferenceError, match=r"field 'solution'; samples 1 have none"):
        score_with_references(math, ["p", "p"], ["4", "4"], ["4", None], field="solution")
    with pytest.raises(MissingReferenceError, match=r"verifier 'math' needs a reference"):
        math.score(["p"], ["4"])
    with pytest.raises(ValueError, match=r"field 'labels' has 1 items but there are 2"):
        score_with_references(math, ["p", "p"], ["4", "4"], ["4"], field="labels")


def test_reference_column_prefers_the_named_then_the_usual_columns() -> None:
    from rewardlab.data.references import reference_column

    assert reference_column(["prompt", "answer", "solution"]) == "solution"
    assert reference_column(["prompt", "ground_truth", "answer"]) == "answer"
    assert reference_column(["prompt", "labels", "ground_truth"]) == "ground_truth"
    assert reference_column(["prompt", "labels"]) == "labels"  # OpenRLHF's name
    assert reference_column(["prompt"]) is None
    assert reference_column(["prompt", "gold"], "gold") == "gold"
    with pytest.raises(ValueError, match=r"reference column 'gold' is not in the data "
                       r"\(columns: prompt, answer\)"):
        reference_column(["prompt", "answer"], "gold")
