"""Tiny runs of the robust benchmarks (hashing backbone, synthetic pairs) so the scripts cannot rot."""

from __future__ import annotations

import importlib.util
import json
import statistics
from pathlib import Path

import numpy as np
import pytest

from rewardlab.data.io import write_jsonl
from rewardlab.data.record import Comparison
from rewardlab.data.synthetic import ArenaConfig, generate_arena, preference_pairs

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def pairs_file(tmp_path_factory) -> Path:
    arena = generate_arena(ArenaConfig(n_prompts=60, candidates_per_prompt=4, seed=0))
    pairs = preference_pairs(arena, 300, label_noise=0.0, seed=0)
    path = tmp_path_factory.mktemp("bench") / "pairs.jsonl"
    write_jsonl(path, [{"prompt": p.prompt, "chosen": p.chosen, "rejected": p.rejected} for p in pairs])
    return path


def test_flip_labels_and_detection_by_hand():
    noisy_labels = load_script("noisy_labels")
    records = [Comparison(f"p{i}", (f"a{i}", f"b{i}"), (0, 1)) for i in range(8)]
    noisy, flipped = noisy_labels.flip_labels(records, 0.25, seed=3)
    assert len(flipped) == 2 and list(flipped) == sorted(flipped)
    assert list(noisy_labels.flip_labels(records, 0.25, seed=3)[1]) == list(flipped)
    assert any(
        list(noisy_labels.flip_labels(records, 0.25, seed=s)[1]) != list(flipped) for s in (4, 5)
    )
    assert [r.chosen for r in noisy] == [f"b{i}" if i in flipped else f"a{i}" for i in range(8)]
    truth = np.array([1, 1, 0, 0, 0, 0, 0, 0], bool)
    predicted = np.array([1, 0, 1, 0, 0, 0, 0, 0], bool)
    mu = np.array([-2.0, 0.5, -1.0, 1.0, 2.0, 3.0, 4.0, 5.0])
    found = noisy_labels.detection(predicted, truth, mu)
    # one hit of 2 predicted and 2 true flips; -μ̂ ranks (flip, clean) pairs right in 10 of 12
    # (μ̂ = 0.5 is above only -1 of the clean ones): AUC = (6 + 5) / 12
    assert found["precision"] == 0.5 and found["recall"] == 0.5
    assert found["auc"] == pytest.approx(11 / 12)
    assert found["mu_mean_flipped"] == pytest.approx(-0.75)


def test_noisy_labels_tiny_run(pairs_file, tmp_path, capsys):
    noisy_labels = load_script("noisy_labels")
    out = tmp_path / "noisy.json"
    result = noisy_labels.main(
        ["--data", str(pairs_file), "--backbone", "hashing", "--members", "3", "--seeds", "0",
         "--epochs", "2", "--out", str(out)]
    )
    assert json.loads(out.read_text())["summary"] == result["summary"]
    assert "benchmarks/noisy_labels.py --data" in result["command"]
    n = result["n_train_pairs"]
    assert n + result["n_test_pairs"] == result["n_pairs"] and result["n_fit_pairs"] + result["n_val_pairs"] == n
    for run in result["runs"]:
        flipped = run["flipped_indices"]
        assert len(flipped) == round(0.25 * n) and len(set(flipped)) == len(flipped)
        assert run["label_accuracy_noisy"] == pytest.approx(1 - len(flipped) / n)
        d = run["detection"]
        n_predicted = int(np.floor(0.2 * n + 1e-9))
        hits = d["precision"] * n_predicted
        assert hits == pytest.approx(d["recall"] * len(flipped))
        # wrong labels after flipping back: the missed flips plus the wrongly flipped clean pairs
        wrong = (len(flipped) - hits) + (n_predicted - hits)
        assert run["label_accuracy_corrected"] == pytest.approx(1 - wrong / n)
        assert set(run["ensemble"]) == {
            "mean", "mean_centered", "min", "min_centered", "uwo", "uwo_centered"
        }
        # centering moves both sides of a pair equally under the mean: same accuracy
        assert run["ensemble"]["mean"] == run["ensemble"]["mean_centered"]
        assert len(run["members"]) == 3
    assert result["summary"]["single_clean"]["mean"] == result["runs"][0]["single_clean"]
    assert "flip-back lowest 20% by μ̂" in capsys.readouterr().out


def test_ensemble_timing_tiny_run(pairs_file, tmp_path, capsys):
    ensemble_timing = load_script("ensemble_timing")
    out = tmp_path / "timing.json"
    result = ensemble_timing.main(
        ["--data", str(pairs_file), "--backbone", "hashing", "--members", "4", "--repeats", "1",
         "--epochs", "2", "--out", str(out)]
    )
    assert json.loads(out.read_text())["settings"].keys() == {"fixed", "early_stopping"}
    fixed = result["settings"]["fixed"]
    assert [r["epochs"] for r in fixed["runs"]["1"] + fixed["runs"]["4"]] == [2] * 2
    medians = {k: statistics.median(r["wall"] for r in rows) for k, rows in fixed["runs"].items()}
    assert fixed["ratio_wall"] == pytest.approx(medians["4"] / medians["1"])
    assert result["members"] == 4
    assert "early_stopping" in capsys.readouterr().out
