"""Process reward model: step labels from the first wrong step, the solution
aggregations by hand, first-error detection, and the step loaders on the real files."""

from __future__ import annotations

import json
import math
from collections import Counter

import numpy as np
import pytest
import torch

from rewardlab.data.errors import DataError
from rewardlab.data.formats.steps import (
    first_wrong_step,
    labels_from_first_wrong,
    load_big_bench_mistake,
    load_prmbench,
    load_step_folder,
)
from rewardlab.data.record import Comparison
from rewardlab.features.backbones import build_backbone
from rewardlab.models.heads import LinearHead
from rewardlab.models.normalizer import Normalizer
from rewardlab.models.structured.prm import (
    PRMOptions,
    ProcessRewardModel,
    evaluate_prm,
    load_prm,
    predicted_first_error,
    prm_baselines,
    save_prm,
    split_steps,
    step_inputs,
    train_prm,
)
from rewardlab.protocols import RewardModel, StepRewardModel, reduce_steps

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


class WrongFlagBackbone:
    """One feature: 1 when the step (the response) contains "WRONG", else 0."""

    dim = 1

    def __init__(self):
        self.calls = []

    def encode(self, prompts, responses, progress=None):
        self.calls.append((list(prompts), list(responses)))
        return np.array([[float("WRONG" in r)] for r in responses], np.float32)

    def config(self):
        return {"kind": "wrong-flag"}


def _hand_model(reduce: str = "min") -> ProcessRewardModel:
    """r = 4 − 8·flag: p = σ(4) for a plain step, σ(−4) for a WRONG one."""
    head = LinearHead(1, 1)
    with torch.no_grad():
        head.weight.fill_(-8.0)
        head.bias.fill_(4.0)
    return ProcessRewardModel(
        WrongFlagBackbone(), Normalizer(1), head, {"options": {"reduce": reduce}}
    )


def test_labels_from_first_wrong_step():
    assert labels_from_first_wrong(4, 2) == (1, 1, 0, 0)  # steps after the mistake are 0 too
    assert labels_from_first_wrong(3, None) == (1, 1, 1)
    assert labels_from_first_wrong(2, 0) == (0, 0)
    assert first_wrong_step((1, 1, 0, 0)) == 2
    assert first_wrong_step((1, 1)) is None


def test_step_reductions_by_hand():
    probs = np.array([0.9, 0.5, 0.8])
    assert reduce_steps(probs, "min") == 0.5
    assert reduce_steps(probs, "product") == pytest.approx(0.9 * 0.5 * 0.8)  # 0.36
    with pytest.raises(ValueError, match="no step rewards"):  # never the vacuous 1.0
        reduce_steps(np.array([]), "min")


def test_the_reduction_is_read_from_the_saved_options_old_name_included():
    """A PRM saved before the step reductions had one name stored ``aggregate``."""
    flags = ["fine", "WRONG"]  # p = σ(4), σ(−4)
    for options in ({"reduce": "product"}, {"aggregate": "product"}):
        model = _hand_model()
        model.config = {"options": options}
        assert model.score(["Q"], ["\n".join(flags)])[0] == pytest.approx(sigmoid(4) * sigmoid(-4))
    assert PRMOptions(reduce="mean").reduce == "mean"


def test_first_error_and_inputs_by_hand():
    assert predicted_first_error(np.array([0.9, 0.4, 0.3])) == 1
    assert predicted_first_error(np.array([0.9, 0.5])) is None  # 0.5 passes
    assert step_inputs("Q", ["a", "b", "c"]) == (["Q", "Q\n\na", "Q\n\na\nb"], ["a", "b", "c"])
    assert split_steps("a\n\n b \nc") == ["a", " b ", "c"]


def test_an_empty_response_is_one_step_scored_like_any_other():
    """One rule (``rewardlab.protocols.split_steps``), used by the PRM and the server:
    a response without a non-blank line is one step, not a solution of no steps
    (whose min reduction would be the vacuous 1.0)."""
    model = _hand_model("min")
    assert isinstance(model, StepRewardModel)
    assert split_steps("") == [""] and split_steps(" \n ") == [" \n "]
    assert model.split_steps("") == [""] and model.split_steps("a\n\nb") == ["a", "b"]
    assert model.score(["Q"], [""])[0] == pytest.approx(sigmoid(4))
    assert model.backbone.calls[-1] == (["Q"], [""])


def test_scores_and_first_error_detection_on_a_hand_built_case():
    model = _hand_model("min")
    assert isinstance(model, RewardModel)
    probs = model.score_steps(["Q", "R"], [["ok", "ok", "WRONG x", "ok"], ["ok", "ok"]])
    hi, lo = sigmoid(4), sigmoid(-4)
    assert np.allclose(probs[0], [hi, hi, lo, hi]) and np.allclose(probs[1], [hi, hi])
    contexts, steps = model.backbone.calls[-1]
    assert contexts[2] == "Q\n\nok\nok" and steps[2] == "WRONG x"
    assert model.first_errors(["Q", "R"], [["ok", "ok", "WRONG x", "ok"], ["ok"]]) == [2, None]
    assert model.score(["Q"], ["ok\nWRONG\nok"])[0] == pytest.approx(lo)
    assert _hand_model("product").score(["Q"], ["ok\nWRONG\nok"])[0] == pytest.approx(hi * lo * hi)
    records = [
        Comparison("Q", ("",), steps=(("ok", "ok", "WRONG x", "ok"),), step_labels=((1, 1, 0, 0),)),
        Comparison("R", ("",), steps=(("ok", "ok"),), step_labels=((1, 1),)),
        Comparison("S", ("",), steps=(("WRONG", "ok"),), step_labels=((1, 1),)),
    ]
    # steps right: 3/4 + 2/2 + 1/2 = 6 of 8; first errors right: 2 = 2, None = None, 0 ≠ None
    metrics = evaluate_prm(model, records)
    assert metrics["step_accuracy"] == 6 / 8
    assert metrics["first_error_accuracy"] == 2 / 3
    assert metrics["n_steps"] == 8
    assert metrics["baselines"] == prm_baselines([(1, 1, 0, 0), (1, 1), (1, 1)])


def test_trivial_baselines_by_hand():
    # 3 of 7 steps correct; first errors at 0, 1 and none (one each)
    base = prm_baselines([(0, 0, 0), (1, 0), (1, 1)])
    assert base["all_correct"] == {"step_accuracy": 3 / 7, "first_error_accuracy": 1 / 3}
    assert base["best_constant"] == {"step_accuracy": 4 / 7, "first_error_accuracy": 1 / 3}
    # first errors at 1, 1 and 0: the best constant answer "step 1" is right for 2 of 3
    base = prm_baselines([(1, 0), (1, 0), (0,)])
    assert base["all_correct"] == {"step_accuracy": 2 / 5, "first_error_accuracy": 0.0}
    assert base["best_constant"] == {"step_accuracy": 3 / 5, "first_error_accuracy": 2 / 3}


def test_cli_train_prm_on_a_folder_evaluates_held_out_steps(tmp_path):
    """`rewardlab train --head prm --test-fraction` on a BIG-Bench-Mistake-style folder
    prints and saves held-out step and first-error accuracy with their baselines."""
    from typer.testing import CliRunner

    from rewardlab.cli.main import app
    from rewardlab.data.load import load_comparisons
    from rewardlab.data.split import split_by_prompt

    folder = tmp_path / "bbm"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for task in ("sorting", "arithmetic"):
        rows = []
        for i in range(30):
            n = int(rng.integers(2, 6))
            wrong = int(rng.integers(0, n)) if i % 3 else None
            rows.append({
                "input": f"{task} question {i}", "target": "t", "answer": "a",
                "steps": ["WRONG" if k == wrong else f"step {k} of {task}" for k in range(n)],
                "mistake_index": wrong,
            })
        (folder / f"{task}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "prm"
    result = CliRunner().invoke(app, [
        "train", "--head", "prm", "--data", str(folder), "--format", "big-bench-mistake",
        "--test-fraction", "0.3", "--backbone", "hashing", "--out", str(out),
    ])
    assert result.exit_code == 0, result.output
    assert "held-out step accuracy" in " ".join(result.output.split())
    test = json.loads((out / "metrics.json").read_text())["test"]
    records = load_comparisons(folder, "big-bench-mistake").records
    rest, held_out = split_by_prompt(records, (0.7, 0.3), 0)
    assert test["n_solutions"] == len(held_out) > 0
    assert test["n_steps"] == sum(len(r.step_labels[0]) for r in held_out)
    assert test["baselines"] == prm_baselines([r.step_labels[0] for r in held_out])
    assert test["step_accuracy"] > test["baselines"]["best_constant"]["step_accuracy"]
    assert test == evaluate_prm(load_prm(out), held_out)


def test_training_learns_the_wrong_flag():
    rng = np.random.default_rng(0)
    records = []
    for i in range(60):
        n = int(rng.integers(2, 6))
        wrong = int(rng.integers(0, n)) if i % 2 else None
        steps = tuple("WRONG" if k == wrong else f"step {k}" for k in range(n))
        records.append(
            Comparison(
                f"q{i}",
                ("\n".join(steps),),
                steps=(steps,),
                step_labels=(labels_from_first_wrong(n, wrong),),
            )
        )
    model = train_prm(
        records, WrongFlagBackbone(), PRMOptions(head="linear", epochs=200, lr=0.05, patience=200)
    )
    assert model.first_errors(["q", "q"], [["a", "WRONG", "b"], ["a", "b"]]) == [1, None]
    assert evaluate_prm(model, records)["first_error_accuracy"] == 1.0


def test_save_load_roundtrip_and_errors(tmp_path):
    records = [
        Comparison(
            f"q{i}", ("x",), steps=((f"add {i}", f"then {i % 3}"),), step_labels=((1, i % 2),)
        )
        for i in range(20)
    ]
    model = train_prm(records, build_backbone("hashing", n_features=128), PRMOptions(epochs=3))
    loaded = load_prm(save_prm(model, tmp_path / "prm"))
    steps = [["add 3", "then 1"], ["then 2"]]
    for a, b in zip(
        model.score_steps(["q", "r"], steps), loaded.score_steps(["q", "r"], steps), strict=True
    ):
        assert np.array_equal(a, b)
    with pytest.raises(ValueError, match="no step-labelled"):
        train_prm([Comparison("q", ("a",))], WrongFlagBackbone())
    with pytest.raises(KeyError, match="unknown step reduction 'meen'; did you mean 'mean'"):
        train_prm(records, WrongFlagBackbone(), PRMOptions(reduce="meen"))


def test_loader_errors_name_line_and_field():
    with pytest.raises(DataError, match=r"f.jsonl:3: field 'mistake_index'"):
        load_big_bench_mistake([(3, {"input": "q", "steps": ["a"], "mistake_index": 1})], "f.jsonl")
    with pytest.raises(
        DataError, match=r"g.jsonl:2: field 'error_steps': step numbers are 1-based"
    ):
        row = {
            "original_question": "q",
            "modified_question": "q",
            "original_process": ["a"],
            "modified_process": ["b"],
            "error_steps": [0],
            "classification": "c",
        }
        load_prmbench([(2, row)], "g.jsonl")


def test_big_bench_mistake_real_files(shared_data):
    records = load_step_folder(shared_data / "big-bench-mistake", "big-bench-mistake")
    assert len(records) == 2186
    assert Counter(r.category for r in records) == {
        "dyck_languages": 986,
        "logical_deduction": 300,
        "multistep_arithmetic": 300,
        "tracking_shuffled_objects": 300,
        "word_sorting": 300,
    }
    assert sum(len(r.steps[0]) for r in records) == 33306
    assert sum(sum(r.step_labels[0]) for r in records) == 15739
    assert sum(r.meta["mistake_index"] is None for r in records) == 478
    for r in records:
        labels = r.step_labels[0]
        assert first_wrong_step(labels) == r.meta["mistake_index"]
        assert r.responses[0].split("\n") == list(r.steps[0])


def test_prmbench_real_files(shared_data):
    records = load_step_folder(shared_data / "prmbench", "prmbench")
    assert len(records) == 3124
    pairs = [r for r in records if r.is_pair]
    assert len(pairs) == 2568  # questions agree; the 280 with an edited question give 2 records
    assert sum("modified_skipped" in r.meta for r in records) == 4
    for r in pairs:
        assert all(r.step_labels[0])  # the original process is all correct
        first = first_wrong_step(r.step_labels[1])
        in_range = [e for e in r.meta["error_steps"] if e <= len(r.steps[1])]
        assert first == min(in_range) - 1  # error_steps are 1-based
