"""End to end on images: `rewardlab data digits`, then `train` (default image backbone),
`eval` and `compare` on Pick-a-Pic Parquet and image JSONL; bad image data is one line."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from rewardlab.cli.main import app

runner = CliRunner()


def invoke(*args):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.output


def run_bad(args, code: int, expected: str) -> str:
    result = runner.invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.output and result.exit_code == code, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and expected in errors[0], result.output
    return errors[0]


@pytest.fixture(scope="module")
def noise_task(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("digits") / "noise"
    out = invoke("data", "digits", "--out", folder, "--task", "noise", "--n-pairs", 200,
                 "--test-pairs", 100)
    assert "train: 200 rows (0 ties)" in out and "test: 100 rows (0 ties)" in out
    return folder


def test_clean_digits_beat_noisy_ones_through_train_and_eval(noise_task, tmp_path):
    rows = pq.read_table(noise_task / "test.parquet").to_pylist()
    assert set(rows[0]) >= {"caption", "jpg_0", "jpg_1", "label_0", "label_1"}
    assert rows[0]["jpg_0"].startswith(b"\x89PNG")
    assert {(r["label_0"], r["label_1"]) for r in rows} == {(1.0, 0.0), (0.0, 1.0)}
    model = tmp_path / "rm"
    out = invoke("train", "--data", noise_task / "train.parquet", "--format", "pickapic",
                 "--out", model, "--test-fraction", "0.2")
    assert "baselines by pixels" in out
    config = json.loads((model / "config.json").read_text())
    assert config["backbone"]["kind"] == "conv"  # the default for image responses
    invoke("eval", "--model", model, "--data", noise_task / "test.parquet", "--format",
           "pickapic", "--out", tmp_path / "r.json", "--probes", "brightness,length")
    result = json.loads((tmp_path / "r.json").read_text())
    assert result["metrics"]["accuracy"] >= 0.9
    assert set(result["suite_results"]["baselines"]) == {"pixels", "brightness", "contrast"}
    assert result["suite_results"]["baselines"]["pixels"] == 0.5  # the same size: all ties
    assert result["suite_results"]["baselines"]["brightness"] < 0.2  # noise brightens
    # --probes brightness (issue 26's spelling) is the statistics probe, reported by its name
    assert set(result["probes"]) == {"statistics", "length"}
    assert set(result["probes"]["statistics"]["statistics"]) == {"pixels", "brightness",
                                                                   "contrast"}


def test_the_jsonl_form_trains_and_compares(noise_task, tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    invoke("train", "--data", noise_task / "train.jsonl", "--out", first, "--epochs", 3)
    invoke("train", "--data", noise_task / "train.jsonl", "--out", second, "--epochs", 3,
           "--seed", 1, "--l2", 0.01)
    invoke("compare", "--model", f"{first},{second}", "--data", noise_task / "test.jsonl",
           "--out", tmp_path / "c.json")
    compared = json.loads((tmp_path / "c.json").read_text())
    assert compared["pairwise"]["0-1"]["pair_agreement"] > 0.8
    assert compared["ensemble"]["n_members"] == 2 and "0-1" in compared["starc"]


def test_text_only_options_are_refused_on_images(noise_task, tmp_path):
    run_bad(["train", "--data", noise_task / "train.parquet", "--backbone", "hashing",
             "--out", tmp_path / "m"], 1,
            "backbone 'hashing' featurizes text responses, but these are image")
    invoke("train", "--data", noise_task / "train.parquet", "--out", tmp_path / "m",
           "--epochs", 2)
    run_bad(["eval", "--model", tmp_path / "m", "--data", noise_task / "test.parquet",
             "--out", tmp_path / "r.json", "--probes", "perturb"], 1,
            "probe 'perturb' takes text responses; these responses are image")
    assert not (tmp_path / "r.json").exists()


def test_a_corrupt_image_is_one_line_naming_the_file_row_and_field(noise_task, tmp_path):
    rows = pq.read_table(noise_task / "test.parquet").to_pylist()[:3]
    rows[2]["jpg_1"] = rows[2]["jpg_1"][:80]
    import pyarrow as pa

    bad = tmp_path / "bad.parquet"
    pq.write_table(pa.Table.from_pylist(rows), bad)
    run_bad(["train", "--data", bad, "--out", tmp_path / "m"], 1,
            f"{bad}:3: field 'jpg_1': PNG data is not a decodable image")
    assert not (tmp_path / "m").exists()


@pytest.mark.slow
def test_the_digits_acceptance(tmp_path):
    """docs/results/images.md: 1,000 noisy pairs; held-out agreement with the gold order at
    least 0.85 and above the pixel-count and brightness baselines."""
    folder = tmp_path / "gold"
    invoke("data", "digits", "--out", folder)
    invoke("train", "--data", folder / "train.parquet", "--format", "pickapic", "--out",
           tmp_path / "rm")
    for name in ("test", "test-gold"):
        invoke("eval", "--model", tmp_path / "rm", "--data", folder / f"{name}.parquet",
               "--out", tmp_path / f"{name}.json")
    noisy, gold = (json.loads((tmp_path / f"{n}.json").read_text())["suite_results"]
                   for n in ("test", "test-gold"))
    assert gold["n_pairs"] == noisy["n_pairs"] == 500
    assert gold["accuracy"] >= 0.85
    for result in (noisy, gold):
        assert result["accuracy"] > max(result["baselines"]["pixels"],
                                        result["baselines"]["brightness"]) + 0.1


def test_data_digits_refuses_bad_requests_in_one_line(tmp_path):
    (tmp_path / "file").write_text("x")
    run_bad(["data", "digits", "--out", tmp_path / "file"], 1, f"--out {tmp_path / 'file'}")
    run_bad(["data", "digits", "--out", tmp_path / "d", "--task", "nope"], 2, "'--task'")
    run_bad(["data", "digits", "--out", tmp_path / "d", "--n-prompts", 5, "--n-pairs", 500], 1,
            "field 'n_pairs': these prompts have")
    run_bad(["data", "digits", "--out", tmp_path / "d", "--task", "noise", "--n-pairs", 1700,
             "--test-pairs", 200], 1, "field 'test_pairs': only 97 scans are left")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]  # nothing written
