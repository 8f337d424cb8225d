"""Tiny runs of the performance benchmarks, so the scripts cannot rot."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import encoder_throughput  # noqa: E402
import scaling  # noqa: E402
import train_vs_trl  # noqa: E402


def test_growth_exponent_is_the_log_log_slope():
    # t = 3 n^2 at n = 10, 100, 1000: slope 2; t constant: slope 0
    rows = [{"n": n, **{s: {"seconds": 3.0 * n**2} for s in scaling.STAGES}} for n in (10, 100, 1000)]
    assert scaling.growth_exponents(rows)["fit"] == pytest.approx(2.0)
    flat = [{"n": n, **{s: {"seconds": 5.0} for s in scaling.STAGES}} for n in (10, 100)]
    assert scaling.growth_exponents(flat)["bon"] == pytest.approx(0.0, abs=1e-9)


def test_scaling_script_tiny_run(tmp_path):
    out = tmp_path / "scaling.json"
    result = scaling.main(["--sizes", "20", "40", "--n-prompts", "8", "--out", str(out)])
    saved = json.loads(out.read_text())
    assert [row["n"] for row in saved["sizes"]] == [20, 40]
    assert set(saved["exponents"]) == set(scaling.STAGES)
    assert all(row[s]["seconds"] >= 0 for row in result["sizes"] for s in scaling.STAGES)
    assert saved["machine"]["cores"] >= 1 and len(saved["machine"]["load_average"]) == 3


def test_random_features_are_a_deterministic_lookup():
    backbone = scaling.RandomFeatures(dim=8, rows=16, seed=0)
    x = backbone.encode(["p", "p", "q"], ["r", "r", "r"])
    assert x.shape == (3, 8)
    np.testing.assert_array_equal(x[0], x[1])
    assert not np.array_equal(x[0], x[2])


def test_pair_accuracy_counts_ties_half():
    # pairs: 1 > 0 (win), 2 = 2 (tie, ½), 3 < 4 (loss) -> 1.5 / 3
    assert train_vs_trl.pair_accuracy(np.array([1.0, 2, 3]), np.array([0.0, 2, 4])) == 0.5


def test_trl_table_shows_every_method():
    row = {"seconds": 10.0, "pairs_per_s": 2.0, "accuracy": 0.6}
    result = {
        "n_train_pairs": 20, "n_test_pairs": 10, "max_length": 32, "trl": row,
        "rewardlab_cached_head": {"cold": row, "warm": row}, "rewardlab_finetuned": row,
        "speedup_cold": 1.0, "speedup_warm": 1.0, "finetuned_time_ratio": 1.0,
    }
    text = train_vs_trl.table(result)
    for name in ("TRL RewardTrainer", "head (cold)", "head (warm)", "fine-tuned"):
        assert name in text


@pytest.mark.slow
def test_train_vs_trl_tiny_run(tmp_path, shared_data):
    out = tmp_path / "trl.json"
    train_vs_trl.main(["--data", str(shared_data), "--n-train", "8", "--n-test", "4",
                       "--max-length", "32", "--out", str(out)])
    saved = json.loads(out.read_text())
    assert saved["n_train_pairs"] == 8
    for key in ("trl", "rewardlab_finetuned"):
        assert 0 <= saved[key]["accuracy"] <= 1 and saved[key]["seconds"] > 0


@pytest.mark.encoder
def test_encoder_throughput_tiny_run(tmp_path, shared_data):
    out = tmp_path / "enc.json"
    result = encoder_throughput.main(["--data", str(shared_data), "--n-texts", "3",
                                      "--repeats", "1", "--out", str(out)])
    saved = json.loads(out.read_text())
    assert saved["n_texts"] == 3
    assert saved["exact_min_cosine"] > 1 - 1e-5
    median = result["median"]
    assert math.isclose(median["exact_speedup"], median["baseline_s"] / median["exact_s"])
    assert 0 < median["roofline_gflops"]
    assert "roofline" in encoder_throughput.table(result)


def test_alpaca_eval_pool_holds_only_instructions_the_training_split_never_saw(
    shared_data, tmp_path
):
    import alpaca_eval_pool

    from rewardlab.data.load import load_comparisons
    from rewardlab.data.split import split_by_prompt

    out = tmp_path / "pool.jsonl"
    alpaca_eval_pool.main(["--data", str(shared_data / "alpaca-eval"), "--out", str(out)])
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    records = load_comparisons(shared_data / "alpaca-eval", "alpaca-eval", seed=0).records
    train, test = split_by_prompt(records, (0.8, 0.2), 0)
    pool_prompts = {r["prompt"] for r in rows}
    assert pool_prompts == {r.prompt for r in test}
    assert not pool_prompts & {r.prompt for r in train}
    per_prompt = np.bincount(np.unique([r["prompt"] for r in rows], return_inverse=True)[1])
    assert per_prompt.min() >= 50, "every candidate of an instruction is in the pool"
    first = rows[0]
    assert first["length"] == len(first["response"].split()) and 1.0 <= first["gold"] <= 2.0


def test_held_out_pairs_are_the_train_command_s_test_split(shared_data, tmp_path):
    import held_out_pairs

    from rewardlab.data.load import load_comparisons
    from rewardlab.data.split import split_by_prompt

    data = shared_data / "hh-rlhf" / "harmless-base-test.jsonl.gz"
    out = tmp_path / "test.jsonl"
    rows = held_out_pairs.main(["--data", str(data), "--seed", "1", "--out", str(out)])
    train, test = split_by_prompt(load_comparisons(data).records, (0.8, 0.2), 1)
    assert [json.loads(line) for line in out.read_text().splitlines()] == rows
    assert [(r["prompt"], r["chosen"]) for r in rows] == [(t.prompt, t.chosen) for t in test]
    assert not {r["prompt"] for r in rows} & {t.prompt for t in train}
    sampled = held_out_pairs.held_out(str(data), 1, 0.2, 50)
    assert len(sampled) == 50 and all(row in rows for row in sampled)
