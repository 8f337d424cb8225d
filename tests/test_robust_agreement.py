"""Agreement filter: keep pairs whose order the reward models agree on."""

from __future__ import annotations

import gzip
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from rewardlab.data.record import Comparison
from rewardlab.models.baselines import LengthReward
from rewardlab.robust.agreement_filter import agreement_filter, order_votes
from rewardlab.robust.ensemble import ModelEnsemble


class Fixed:
    """Reward looked up by response."""

    def __init__(self, table: dict[str, float]) -> None:
        self.table = table

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        return np.array([self.table[r] for r in responses], dtype=float)


# votes on (responses[0], responses[1]) per record:
#   r0 ("a","b"): +1 +1 +1  unanimous for first
#   r1 ("c","d"): -1 -1 +1  2/3 for second
#   r2 ("e","f"): +1 -1  0  1/3 each side: a tie
#   r3 ("g","h"): -1 -1 -1  unanimous for second
M1 = Fixed({"a": 2, "b": 1, "c": 0, "d": 1, "e": 1, "f": 0, "g": 0, "h": 1})
M2 = Fixed({"a": 3, "b": 1, "c": 0, "d": 2, "e": 0, "f": 1, "g": 0, "h": 2})
M3 = Fixed({"a": 1, "b": 0, "c": 1, "d": 0, "e": 1, "f": 1, "g": 1, "h": 3})
RECORDS = [
    Comparison("p", ("a", "b")),
    Comparison("p", ("c", "d"), meta={"k": 1}),
    Comparison("p", ("e", "f")),
    Comparison("p", ("g", "h"), ranking=(0, 1)),  # labelled, but all models prefer "h"
]


def test_order_votes() -> None:
    votes = order_votes([M1, M2, M3], ["p"] * 4, ["a", "c", "e", "g"], ["b", "d", "f", "h"])
    expected = [[1, -1, 1, -1], [1, -1, -1, -1], [1, 1, 0, -1]]
    np.testing.assert_array_equal(votes, expected)


def test_consensus_unanimous() -> None:
    report = agreement_filter(ModelEnsemble([M1, M2, M3]), RECORDS)
    np.testing.assert_allclose(report.agreement, [1.0, 2 / 3, 1 / 3, 1.0])
    np.testing.assert_array_equal(report.kept, [0, 3])
    assert report.rate == pytest.approx(2 / 4)
    # kept records are labelled with the consensus order
    assert [r.ranking for r in report.records] == [(0, 1), (1, 0)]
    assert report.records[1].chosen == "h"


def test_consensus_two_thirds() -> None:
    report = agreement_filter([M1, M2, M3], RECORDS, min_fraction=2 / 3)
    np.testing.assert_array_equal(report.kept, [0, 1, 3])
    assert report.records[1].chosen == "d" and report.records[1].meta == {"k": 1}
    assert report.rate == pytest.approx(3 / 4)
    # a split vote is never kept, even with a low bar
    low = agreement_filter([M1, M2, M3], RECORDS, min_fraction=0.3)
    assert 2 not in low.kept


def test_label_reference() -> None:
    labelled = [
        Comparison("p", ("a", "b"), ranking=(0, 1)),
        Comparison("p", ("c", "d"), ranking=(1, 0)),  # chosen "d": models 1, 2 agree
        Comparison("p", ("g", "h"), ranking=(0, 1)),  # chosen "g": nobody agrees
    ]
    report = agreement_filter([M1, M2, M3], labelled, reference="label")
    np.testing.assert_allclose(report.agreement, [1.0, 2 / 3, 0.0])
    np.testing.assert_array_equal(report.kept, [0])
    assert report.records == [labelled[0]]
    report = agreement_filter([M1, M2, M3], labelled, min_fraction=0.5, reference="label")
    assert report.records == labelled[:2]


def test_bad_input() -> None:
    with pytest.raises(ValueError, match=r"records\[0\]: field 'responses'"):
        agreement_filter([M1], [Comparison("p", ("a",))])
    with pytest.raises(ValueError, match="field 'ranking'"):
        agreement_filter([M1], [Comparison("p", ("a", "b"))], reference="label")
    with pytest.raises(ValueError, match="min_fraction"):
        agreement_filter([M1], RECORDS, min_fraction=0.0)
    assert agreement_filter([M1], []).rate == 0.0


class CharLength:
    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        return np.array([len(r) for r in responses], dtype=float)


class QuestionMarks:
    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        return np.array([r.count("?") for r in responses], dtype=float)


def test_agreement_on_hh_rlhf(shared_data: Path) -> None:
    sep = "\n\nAssistant:"
    records = []
    with gzip.open(shared_data / "hh-rlhf" / "harmless-base-test.jsonl.gz", "rt") as fh:
        for line in fh:
            row = json.loads(line)
            cut = row["chosen"].rfind(sep) + len(sep)
            if row["rejected"].startswith(row["chosen"][:cut]):
                records.append(
                    Comparison(
                        row["chosen"][:cut],
                        (row["chosen"][cut:].strip(), row["rejected"][cut:].strip()),
                        ranking=(0, 1),
                    )
                )
            if len(records) == 300:
                break
    models = [LengthReward(), CharLength(), QuestionMarks()]
    report = agreement_filter(models, records, reference="label")
    prompts = [r.prompt for r in records]
    prefers_chosen = np.stack(
        [
            m.score(prompts, [r.chosen for r in records])
            > m.score(prompts, [r.rejected for r in records])
            for m in models
        ]
    )
    expected = np.flatnonzero(prefers_chosen.all(axis=0))
    np.testing.assert_array_equal(report.kept, expected)
    assert report.rate == pytest.approx(expected.size / 300)
    assert 0 < report.rate < 1
