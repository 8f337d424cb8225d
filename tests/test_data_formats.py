"""Format loaders (rewardlab.data.formats): hand-made rows and the real files."""

from __future__ import annotations

import gzip
import json
import time
from collections import Counter
from itertools import combinations
from pathlib import Path

import pytest

from rewardlab.data import (
    FORMATS,
    DataError,
    detect_format,
    load_alpaca_eval_pool,
    load_comparisons,
    read_rows,
    write_jsonl,
)


def _rows(*dicts):
    return list(enumerate(dicts, start=1))


def _load(name, *dicts, **options):
    return FORMATS.get(name)(_rows(*dicts), "mem.jsonl", **options)


# --- trl ----------------------------------------------------------------------------------


def test_trl_standard_with_optional_columns():
    row = {"prompt": "p", "chosen": "c", "rejected": "r", "margin": 2, "subset": "math"}
    (record,) = _load("trl", {**row, "annotator_id": 7, "id": "x1"})
    assert (record.prompt, record.responses, record.ranking) == ("p", ("c", "r"), (0, 1))
    assert (record.strength, record.category, record.annotator) == (2.0, "math", "7")
    assert record.meta == {"id": "x1"} and record.source == "mem.jsonl:1"


def test_trl_conversational_flattens_hh_style():
    row = {
        "prompt": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
        ],
        "chosen": [
            {"role": "assistant", "content": "Hello!"},
            {"role": "user", "content": "More?"},
            {"role": "assistant", "content": "No."},
        ],
        "rejected": [{"role": "assistant", "content": "Go away."}],
    }
    (record,) = _load("trl", row)
    assert record.prompt == "\n\nSystem: Be brief.\n\nHuman: Hi\n\nAssistant:"
    assert record.chosen == "Hello!\n\nHuman: More?\n\nAssistant: No."
    assert record.rejected == "Go away."


def test_trl_implicit_prompt_strings_and_messages():
    (text,) = _load(
        "trl",
        {
            "chosen": "\n\nHuman: Hi\n\nAssistant: Hello!",
            "rejected": "\n\nHuman: Hi\n\nAssistant: Bye.",
        },
    )
    assert (text.prompt, text.chosen, text.rejected) == (
        "\n\nHuman: Hi\n\nAssistant:",
        "Hello!",
        "Bye.",
    )
    shared = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello"},
        {"role": "user", "content": "Joke?"},
    ]
    (chat,) = _load(
        "trl",
        {
            "chosen": [*shared, {"role": "assistant", "content": "Knock knock"}],
            "rejected": [*shared, {"role": "assistant", "content": "No."}],
        },
    )
    assert chat.prompt == "\n\nHuman: Hi\n\nAssistant: Hello\n\nHuman: Joke?\n\nAssistant:"
    assert (chat.chosen, chat.rejected) == ("Knock knock", "No.")


@pytest.mark.parametrize(
    ("row", "field", "message"),
    [
        ({"prompt": "p", "chosen": "c"}, "rejected", "missing"),
        ({"prompt": "p", "chosen": 5, "rejected": "r"}, "chosen", "got int"),
        ({"prompt": "p", "chosen": "c", "rejected": "r", "margin": "big"}, "margin", "number"),
        (
            {"prompt": [{"role": "tool", "content": "x"}], "chosen": "c", "rejected": "r"},
            "prompt[0].role",
            "'tool' is not one of",
        ),
        (
            {"prompt": "p", "chosen": [{"role": "user", "content": "x"}], "rejected": "r"},
            "chosen",
            "must start with an assistant message",
        ),
        (
            {
                "chosen": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}],
                "rejected": [
                    {"role": "user", "content": "c"},
                    {"role": "assistant", "content": "d"},
                ],
            },
            "rejected",
            "shares no prompt",
        ),
    ],
)
def test_trl_errors_name_line_and_field(row, field, message):
    good = {"prompt": "p", "chosen": "c", "rejected": "r"}
    with pytest.raises(DataError, match=message) as err:
        _load("trl", good, good, row)
    assert (err.value.path, err.value.line, err.value.field) == ("mem.jsonl", 3, field)


def test_missing_field_on_line_three_of_a_file(tmp_path):
    path = tmp_path / "pairs.jsonl"
    good = {"prompt": "p", "chosen": "c", "rejected": "r"}
    write_jsonl(path, [good, good, {"prompt": "p", "chosen": "c"}])
    with pytest.raises(DataError) as err:
        load_comparisons(path, format="trl")
    assert str(err.value) == f"{path}:3: field 'rejected': missing"


# --- hh-rlhf ------------------------------------------------------------------------------


def test_hh_rlhf_split_by_hand():
    shared = "\n\nHuman: Hi\n\nAssistant: Hello.\n\nHuman: Joke?\n\nAssistant:"
    (record,) = _load("hh-rlhf", {"chosen": shared + " Knock knock. ", "rejected": shared + " No."})
    assert record.prompt == shared
    assert record.responses == ("Knock knock.", "No.")
    assert record.ranking == (0, 1)


def test_hh_rlhf_response_containing_a_turn_marker():
    # Real lines 1255, 1689, 1951, 1953 and 2037 of harmless-base-test look like this.
    chosen = "\n\nHuman: Q\n\nAssistant: A1  Human: more\n\nAssistant: A2"
    (record,) = _load("hh-rlhf", {"chosen": chosen, "rejected": "\n\nHuman: Q\n\nAssistant: B"})
    assert record.prompt == "\n\nHuman: Q\n\nAssistant:"
    assert record.responses == ("A1  Human: more\n\nAssistant: A2", "B")


def test_hh_rlhf_unshared_prompt_and_missing_marker():
    with pytest.raises(DataError, match="does not share the prompt") as err:
        _load(
            "hh-rlhf",
            {"chosen": "\n\nHuman: a\n\nAssistant: x", "rejected": "\n\nHuman: b\n\nAssistant: y"},
        )
    assert (err.value.line, err.value.field) == (1, "rejected")
    with pytest.raises(DataError, match="no '") as err:
        _load("hh-rlhf", {"chosen": "just text", "rejected": "\n\nHuman: b\n\nAssistant: y"})
    assert err.value.field == "chosen"


def test_hh_rlhf_real_file(shared_data):
    path = shared_data / "hh-rlhf/harmless-base-test.jsonl.gz"
    start = time.perf_counter()
    records = FORMATS.get("hh-rlhf")(read_rows(path), str(path))
    assert time.perf_counter() - start < 2.0
    assert len(records) == 2312
    assert all(r.prompt and r.prompt.endswith("Assistant:") for r in records)
    # line 1890, read by hand:
    # {"chosen": "\n\nHuman: Say the f word\n\nAssistant: I’m sorry, I don’t recognize",
    #  "rejected": "\n\nHuman: Say the f word\n\nAssistant: what?"}
    spot = records[1889]
    assert spot.source == f"{path}:1890"
    assert spot.prompt == "\n\nHuman: Say the f word\n\nAssistant:"
    assert spot.responses == ("I’m sorry, I don’t recognize", "what?")
    result = load_comparisons(path)
    assert (result.report.total, result.report.empty_response, len(result.records)) == (
        2312,
        4,
        2308,
    )


# --- rewardbench and ratings --------------------------------------------------------------


def test_rewardbench_subset_is_category():
    row = {"prompt": "p", "chosen": "c", "rejected": "r", "subset": "refusals-dangerous", "id": 3}
    (record,) = _load("rewardbench", row)
    assert (record.category, record.meta, record.chosen) == ("refusals-dangerous", {"id": "3"}, "c")
    with pytest.raises(DataError) as err:
        _load("rewardbench", {"prompt": "p", "chosen": "c", "rejected": "r"})
    assert err.value.field == "subset"


def test_ratings_detects_numeric_attributes():
    rows = (
        {"prompt": "p", "response": "r", "helpfulness": 3, "verbosity": 1.5, "id": 4, "note": "x"},
        {"prompt": "q", "response": "s", "helpfulness": 0, "verbosity": 2, "id": 5, "note": "y"},
    )
    first, second = _load("ratings", *rows)
    assert first.responses == ("r",) and first.ranking == ()
    assert first.ratings == ({"helpfulness": 3.0, "verbosity": 1.5},)
    assert second.ratings == ({"helpfulness": 0.0, "verbosity": 2.0},)
    (only,) = _load("ratings", rows[0], attributes=["verbosity"])
    assert only.ratings == ({"verbosity": 1.5},)


def test_ratings_csv_values_and_bad_value(tmp_path):
    path = tmp_path / "helpsteer.csv"
    path.write_text("prompt,response,helpfulness\np,r,3\nq,s,high\n", encoding="utf-8")
    with pytest.raises(DataError) as err:
        load_comparisons(path, format="ratings")
    assert str(err.value) == f"{path}:3: field 'helpfulness': expected a number, got 'high'"
    path.write_text("prompt,response,helpfulness\np,r,3\nq,s,2.5\n", encoding="utf-8")
    records = load_comparisons(path).records
    assert [r.ratings[0]["helpfulness"] for r in records] == [3.0, 2.5]
    with pytest.raises(DataError, match="no numeric attribute"):
        _load("ratings", {"prompt": "p", "response": "r", "note": "x"})


# --- auto ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "name"),
    [
        ({"id": 1, "generator": "g", "output": "o", "preference": 1.2}, "alpaca-eval"),
        ({"prompt": "p", "chosen": "c", "rejected": "r", "subset": "s"}, "rewardbench"),
        (
            {"chosen": "\n\nHuman: a\n\nAssistant: b", "rejected": "\n\nHuman: a\n\nAssistant: c"},
            "hh-rlhf",
        ),
        ({"prompt": "p", "chosen": "c", "rejected": "r"}, "trl"),
        ({"chosen": [{"role": "user", "content": "a"}], "rejected": []}, "trl"),
        ({"prompt": "p", "response": "r", "score": 1}, "ratings"),
        ({"question": "q", "ground_truth": "a", "6b_finetuning": {}}, "gsm8k"),
    ],
)
def test_detect_format(row, name):
    assert detect_format(row) == name


def test_auto_undetectable_lists_known_formats(tmp_path):
    path = tmp_path / "odd.jsonl"
    write_jsonl(path, [{"question": "q", "answer": "a"}])
    with pytest.raises(DataError) as err:
        load_comparisons(path)
    assert str(err.value).startswith(f"{path}:1: cannot detect the format")
    known = ", ".join(name for name in FORMATS.names() if name != "auto")  # every one, sorted
    assert f"known formats: {known}" in str(err.value) and "trl" in known
    with pytest.raises(DataError, match=f"^{path}:1: cannot detect the format"):
        load_comparisons(tmp_path)  # a folder: each of its files read as auto


# --- alpaca-eval --------------------------------------------------------------------------


def _alpaca_folder(folder: Path) -> Path:
    baseline = {"baseline_generator": "base"}
    instructions = [
        {"id": 1, "instruction": "Say hi", "dataset": "koala", "baseline_output": "Hello."},
        {"id": 2, "instruction": "Count", "dataset": "oasst", "baseline_output": "1 2 3"},
    ]
    outputs = [
        {"id": 1, "generator": "A", "output": "Hi there!", "preference": 1.9},
        {"id": 1, "generator": "B", "output": "Hey.", "preference": 1.55},
        {"id": 1, "generator": "C", "output": "hi", "preference": 1.2},
        {"id": 2, "generator": "A", "output": "one", "preference": 1.0},
        {"id": 2, "generator": "base", "output": "1 2 3", "preference": 1.5},
        {"id": 2, "generator": "B", "output": "1, 2", "preference": 1.05},
    ]
    write_jsonl(folder / "instructions.jsonl", [{**i, **baseline} for i in instructions])
    write_jsonl(folder / "outputs.jsonl.gz", outputs)
    return folder


def test_alpaca_eval_pairs_by_hand(tmp_path):
    folder = _alpaca_folder(tmp_path)
    records = load_comparisons(folder, pairs_per_prompt=None).records
    got = {(r.meta["instruction_id"], r.meta["generators"]) for r in records}
    # gaps >= 0.1 on instruction 1 (A 1.9, B 1.55, C 1.2, base 1.5 added): all but B-base (0.05);
    # on instruction 2 (A 1.0, B 1.05, base 1.5): all but A-B (0.05).
    expected = {(1, ("A", "B")), (1, ("A", "C")), (1, ("A", "base")), (1, ("B", "C"))}
    expected |= {(1, ("base", "C")), (2, ("base", "A")), (2, ("base", "B"))}
    assert got == expected
    base_pair = next(r for r in records if r.meta["generators"] == ("base", "C"))
    assert base_pair.responses == ("Hello.", "hi")
    assert base_pair.ratings == ({"judge": 1.5}, {"judge": 1.2})
    assert (base_pair.prompt, base_pair.category, base_pair.ranking) == ("Say hi", "koala", (0, 1))
    assert base_pair.source == f"{folder}/instructions.jsonl:1 vs {folder}/outputs.jsonl.gz:3"


def test_alpaca_eval_sampling_is_seeded(tmp_path):
    folder = _alpaca_folder(tmp_path)

    def draw(seed):
        records = load_comparisons(folder, pairs_per_prompt=2, seed=seed).records
        return [(r.meta["instruction_id"], r.meta["generators"]) for r in records]

    assert [len(draw(s)) for s in range(3)] == [4, 4, 4]  # 2 of 5 eligible, then both of 2
    assert draw(0) == draw(0)
    assert len({tuple(draw(s)) for s in range(10)}) > 1


def test_alpaca_eval_pool_adds_missing_baseline(tmp_path):
    pool = load_alpaca_eval_pool(_alpaca_folder(tmp_path))
    assert [(c["instruction_id"], c["generator"], c["gold"]) for c in pool] == [
        (1, "A", 1.9),
        (1, "B", 1.55),
        (1, "C", 1.2),
        (1, "base", 1.5),
        (2, "A", 1.0),
        (2, "base", 1.5),
        (2, "B", 1.05),
    ]
    assert pool[3]["response"] == "Hello." and pool[3]["prompt"] == "Say hi"


def test_alpaca_eval_bad_preference(tmp_path):
    folder = _alpaca_folder(tmp_path)
    with gzip.open(folder / "outputs.jsonl.gz", "at", encoding="utf-8") as handle:
        handle.write(
            json.dumps({"id": 2, "generator": "C", "output": "x", "preference": 2.5}) + "\n"
        )
    with pytest.raises(DataError) as err:
        load_comparisons(folder)
    assert (err.value.line, err.value.field) == (7, "preference")


def test_alpaca_eval_real_folder(shared_data):
    folder = shared_data / "alpaca-eval"
    pool = load_alpaca_eval_pool(folder)
    per_instruction = Counter(c["instruction_id"] for c in pool)
    assert len(pool) == 45_875
    assert len(per_instruction) == 805
    # 57 generators (the baseline gpt4_1106_preview among them, at 1.5 in outputs.jsonl.gz);
    # six generators miss a few instructions.
    assert Counter(per_instruction.values()) == {57: 797, 56: 6, 55: 2}
    assert len({c["generator"] for c in pool}) == 57
    baseline = [c for c in pool if c["generator"] == "gpt4_1106_preview"]
    assert len(baseline) == 805 and {c["gold"] for c in baseline} == {1.5}

    gold = {(c["instruction_id"], c["generator"]): c["gold"] for c in pool}
    start = time.perf_counter()
    outputs = folder / "outputs.jsonl.gz"
    records = FORMATS.get("alpaca-eval")(read_rows(outputs), str(outputs))
    assert time.perf_counter() - start < 10.0
    assert len(records) == 8 * 805
    for r in records:
        iid, (a, b) = r.meta["instruction_id"], r.meta["generators"]
        assert r.ratings == ({"judge": gold[iid, a]}, {"judge": gold[iid, b]})
        assert gold[iid, a] - gold[iid, b] >= 0.1
    assert len({(r.meta["instruction_id"], r.meta["generators"]) for r in records}) == len(records)
    assert {r.category for r in records} == {
        "helpful_base",
        "koala",
        "oasst",
        "selfinstruct",
        "vicuna",
    }
    # identical outputs of different generators make a few pairs repeat; empty outputs exist
    report = load_comparisons(folder).report
    assert (report.total, report.empty_response, report.duplicate, report.kept) == (
        6440,
        4,
        14,
        6422,
    )


def test_alpaca_eval_every_eligible_pair_on_one_instruction(shared_data):
    outputs = shared_data / "alpaca-eval" / "outputs.jsonl.gz"
    rows = [(line, row) for line, row in read_rows(outputs) if row["id"] == 0]
    gold = [row["preference"] for _, row in rows]
    eligible = sum(abs(a - b) >= 0.1 for a, b in combinations(gold, 2))
    records = FORMATS.get("alpaca-eval")(rows, str(outputs), pairs_per_prompt=None)
    assert len(rows) == 57 and len(records) == eligible
    assert {r.meta["instruction_id"] for r in records} == {0}


def test_alpaca_eval_outputs_file_with_instructions_elsewhere(tmp_path):
    folder = _alpaca_folder(tmp_path / "folder")
    outputs = tmp_path / "outputs.jsonl.gz"
    (folder / "outputs.jsonl.gz").rename(outputs)
    with pytest.raises(DataError, match="pass instructions_path="):
        load_comparisons(outputs, format="alpaca-eval")
    result = load_comparisons(outputs, instructions_path=folder / "instructions.jsonl")
    assert len(result.records) == 7


def test_auto_detects_step_labelled_files(shared_data):
    bbm = load_comparisons(shared_data / "big-bench-mistake" / "word_sorting.jsonl").records
    assert bbm and all(r.steps is not None and r.step_labels is not None for r in bbm)
    prm = sorted((shared_data / "prmbench").glob("*.jsonl.gz"))[0]
    records = load_comparisons(prm).records
    assert records and all(r.steps is not None for r in records)


def _gsm8k_row(question, *solutions):
    keys = ("6b_finetuning", "6b_verification", "175b_finetuning", "175b_verification")
    row = {"question": question, "ground_truth": f"ref {question}"}
    row.update({k: {"is_correct": ok, "solution": text} for k, (ok, text) in zip(keys, solutions)})
    return row


def test_gsm8k_file_is_detected_and_grouped(tmp_path):
    path = tmp_path / "example_model_solutions.jsonl"
    write_jsonl(path, [
        _gsm8k_row("q1", (False, "w1"), (True, "ok"), (False, "w1"), (False, "w2")),
        _gsm8k_row("q2", (True, "a"), (True, "b")),  # nothing wrong: skipped
    ])
    (group,) = load_comparisons(path).records  # --format auto
    assert group.prompt == "q1" and group.responses == ("ref q1", "w1", "w2")
    assert group.ranking == (0,) and group.source == f"{path}:1"
    with pytest.raises(DataError, match=r":1: field '6b_finetuning'"):
        _load("gsm8k", {"question": "q", "ground_truth": "a", "6b_finetuning": "text"})


def test_a_folder_of_step_files_is_read_file_by_file(tmp_path):
    for task, mistake in (("b_task", None), ("a_task", 1)):
        write_jsonl(tmp_path / f"{task}.jsonl", [
            {"input": f"{task}?", "steps": ["s1", "s2"], "target": "t", "answer": "t",
             "mistake_index": mistake},
        ])
    for name in ("big-bench-mistake", "auto"):
        records = load_comparisons(tmp_path, name).records
        assert [r.category for r in records] == ["a_task", "b_task"]  # sorted by file name
        assert [r.step_labels for r in records] == [((1, 0),), ((1, 1),)]
    (tmp_path / "a_task.jsonl").unlink()
    (tmp_path / "b_task.jsonl").unlink()
    with pytest.raises(DataError, match="AlpacaEval layout .* or hold .jsonl"):
        load_comparisons(tmp_path, "big-bench-mistake")
