"""Validation counts, prompt-level splits and the data fingerprint."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest

from rewardlab.data import (
    Comparison,
    fingerprint,
    load_comparisons,
    split_by_prompt,
    validate,
    write_jsonl,
)

# --- validate -----------------------------------------------------------------------------

ROWS = [
    {"prompt": "p1", "chosen": "a", "rejected": "b"},  # 1 ok
    {"prompt": "p2", "chosen": "", "rejected": "b"},  # 2 empty
    {"prompt": "p3", "chosen": "  \n", "rejected": "b"},  # 3 empty (whitespace)
    {"prompt": "p4", "chosen": "same", "rejected": "same"},  # 4 identical
    {"prompt": "p1", "chosen": "a", "rejected": "b"},  # 5 duplicate of 1
    {"prompt": "p1", "chosen": "b", "rejected": "a"},  # 6 ok: the opposite label
    {"prompt": "p5", "chosen": "c", "rejected": "d"},  # 7 ok
    {"prompt": "p5", "chosen": "c", "rejected": "d", "annotator": "x"},  # 8 ok: other annotator
    {"prompt": "p5", "chosen": "c", "rejected": "d"},  # 9 duplicate of 7
    {"prompt": "p6", "chosen": "", "rejected": ""},  # 10 empty (first problem wins)
]


@pytest.fixture
def purpose_built(tmp_path):
    path = tmp_path / "problems.jsonl"
    write_jsonl(path, ROWS)
    return path


def test_validate_counts_on_a_purpose_built_file(purpose_built):
    result = load_comparisons(purpose_built)
    report = result.report
    assert (report.total, report.kept) == (10, 4)
    assert (report.empty_response, report.identical_pair, report.duplicate) == (3, 1, 2)
    assert (
        report.total
        == report.kept + report.empty_response + report.identical_pair + report.duplicate
    )
    assert [r.source for r in result.records] == [f"{purpose_built}:{n}" for n in (1, 6, 7, 8)]
    assert report.examples == {
        "empty_response": [f"{purpose_built}:{n}" for n in (2, 3, 10)],
        "identical_pair": [f"{purpose_built}:4"],
        "duplicate": [f"{purpose_built}:{n}" for n in (5, 9)],
    }
    assert report.summary() == (
        "10 records, 4 kept; dropped: 3 empty response, 1 identical pair, 2 duplicate"
    )


def test_validate_without_dropping_still_counts(purpose_built):
    result = load_comparisons(purpose_built, drop=False)
    assert len(result.records) == 10 and result.report.kept == 10
    assert (
        result.report.empty_response,
        result.report.identical_pair,
        result.report.duplicate,
    ) == (
        3,
        1,
        2,
    )
    assert result.report.summary().endswith(
        "found (kept): 3 empty response, 1 identical pair, 2 duplicate"
    )


def test_validate_examples_are_capped():
    records = [Comparison("p", ("", "b"), (0, 1), source=f"s:{i}") for i in range(4)]
    kept, report = validate(records, max_examples=2)
    assert kept == [] and report.empty_response == 4
    assert report.examples["empty_response"] == ["s:0", "s:1"]


# --- split_by_prompt ----------------------------------------------------------------------


def _grouped(sizes):
    """Group g has sizes[g] records of prompt f"p{g}"."""
    return [
        Comparison(f"p{g}", (f"a{g}.{i}", "b"), (0, 1))
        for g, size in enumerate(sizes)
        for i in range(size)
    ]


def test_split_singletons_hit_the_fractions_exactly():
    records = _grouped([1] * 10)
    # deficits fractions·N − size: every group goes to the split furthest below target,
    # so integer targets 0.8·10 = 8, 0.2·10 = 2 (and 5, 3, 2) are met exactly.
    assert [len(s) for s in split_by_prompt(records)] == [8, 2]
    assert [len(s) for s in split_by_prompt(records, (0.5, 0.3, 0.2), seed=3)] == [5, 3, 2]


def test_split_no_prompt_in_two_splits_and_sizes_within_one_group():
    sizes = [1, 2, 3, 1, 4, 2, 1, 1, 3, 2, 5, 1, 1, 2, 2, 1, 3, 1, 1, 2]
    records = _grouped(sizes)
    for seed in range(5):
        train, test = split_by_prompt(records, (0.8, 0.2), seed=seed)
        assert {r.prompt for r in train}.isdisjoint({r.prompt for r in test})
        assert sorted(map(id, train + test)) == sorted(map(id, records))
        assert abs(len(train) - 0.8 * len(records)) <= max(sizes)
        assert abs(len(test) - 0.2 * len(records)) <= max(sizes)
        assert train == [r for r in records if r in train]  # input order kept


def test_split_is_seeded():
    records = _grouped([1, 2, 3] * 10)
    assert split_by_prompt(records, seed=1) == split_by_prompt(records, seed=1)
    assert split_by_prompt(records, seed=1) != split_by_prompt(records, seed=2)


def test_split_groups_by_instruction_id_or_a_given_key():
    records = [
        Comparison(f"text {i}", ("a", "b"), (0, 1), meta={"instruction_id": i // 2})
        for i in range(20)
    ]
    for part in split_by_prompt(records, seed=4):
        ids = {r.meta["instruction_id"] for r in part}
        assert all(sum(r.meta["instruction_id"] == i for r in part) == 2 for i in ids)
    by_last_char = split_by_prompt(_grouped([1] * 20), seed=0, key=lambda r: r.prompt[-1])
    assert {r.prompt[-1] for r in by_last_char[0]}.isdisjoint(
        {r.prompt[-1] for r in by_last_char[1]}
    )


def test_split_bad_fractions():
    with pytest.raises(ValueError, match="fractions"):
        split_by_prompt(_grouped([1, 1]), (0.8, 0.3))


def test_split_real_alpaca_eval_by_instruction(shared_data):
    records = load_comparisons(shared_data / "alpaca-eval").records
    train, test = split_by_prompt(records, (0.8, 0.2), seed=0)
    train_ids = {r.meta["instruction_id"] for r in train}
    assert train_ids.isdisjoint({r.meta["instruction_id"] for r in test})
    assert abs(len(test) - 0.2 * len(records)) <= 8


# --- fingerprint --------------------------------------------------------------------------


def test_fingerprint_by_hand():
    records = [
        Comparison("p", ("a", "b"), (0, 1)),
        Comparison("café", ("x", "y"), (1, 0), tie=True, strength=0.5, source="f:2"),
    ]
    canonical = '["p",["a","b"],[0,1],false,null]\n["café",["x","y"],[1,0],true,0.5]\n'
    expected = hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]
    assert fingerprint(records) == expected


def test_fingerprint_follows_labels_not_provenance():
    records = [Comparison(f"p{i}", ("a", "b"), (0, 1), source=f"f:{i}") for i in range(3)]
    base = fingerprint(records)
    flipped = [records[0], replace(records[1], ranking=(1, 0)), records[2]]
    assert fingerprint(flipped) != base
    assert fingerprint([records[0], replace(records[1], strength=1.0), records[2]]) != base
    assert fingerprint(records[::-1]) != base
    moved = [
        replace(r, source=f"g:{i}", meta={"k": i}, category="c") for i, r in enumerate(records)
    ]
    assert fingerprint(moved) == base
