"""End-to-end: `rewardlab eval` with every probe and an HTML report, and `rewardlab compare`."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from rewardlab.cli.main import app

runner = CliRunner()


def invoke(*args):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def trained(shared_data, tmp_path_factory):
    """Two hashing models (different seeds) trained on 300 HH-RLHF harmless pairs."""
    from rewardlab.data.load import load_comparisons

    records = load_comparisons(shared_data / "hh-rlhf" / "harmless-base-test.jsonl.gz").records
    root = tmp_path_factory.mktemp("eval")
    data = root / "pairs.jsonl"
    data.write_text("".join(
        json.dumps({"prompt": r.prompt, "chosen": r.chosen, "rejected": r.rejected}) + "\n"
        for r in records[:300]
    ))
    models = []
    for seed in (0, 1):
        out = root / f"m{seed}"
        invoke("train", "--data", data, "--backbone", "hashing", "--out", out,
               "--epochs", "3", "--seed", seed)
        models.append(out)
    return data, models


def test_eval_with_all_probes_writes_json_and_html(trained, tmp_path):
    data, (model, _) = trained
    out, html = tmp_path / "results.json", tmp_path / "report.html"
    invoke("eval", "--model", model, "--data", data, "--out", out, "--html", html,
           "--probes", "length,offtopic,perturb,sycophancy,attack", "--attack-budget", "16")
    results = json.loads(out.read_text())
    metrics = results["metrics"]
    for name in ("accuracy", "length_baseline_accuracy", "ece", "brier", "nll", "length_pearson",
                 "offtopic_rate", "perturb_max_flip_rate", "sycophancy_agreement_rate",
                 "hackability"):
        assert name in metrics and name in results["higher_is_better"], name
    assert 0.0 <= metrics["offtopic_rate"] <= 1.0 and 0.0 <= metrics["hackability"] <= 1.0
    assert results["n_pairs"] == 300
    page = html.read_text()
    assert page.count("<img") >= 3 and "data:image/png;base64," in page
    saved = json.loads((model / "metrics.json").read_text())
    assert saved["metrics"] == results["metrics"]


def test_eval_rejects_an_unknown_probe_with_a_suggestion(trained, tmp_path):
    data, (model, _) = trained
    result = runner.invoke(app, ["eval", "--model", str(model), "--data", str(data),
                                 "--out", str(tmp_path / "r.json"), "--probes", "offtpic"])
    assert result.exit_code == 2 and "--probes" in result.output
    assert "did you mean 'offtopic'" in result.output
    assert not (tmp_path / "r.json").exists()


def test_compare_reports_agreement_and_starc(trained, tmp_path):
    data, models = trained
    out = tmp_path / "compare.json"
    invoke("compare", "--model", f"{models[0]},{models[1]}", "--data", data, "--out", out)
    results = json.loads(out.read_text())
    entry = results["pairwise"]["0-1"]
    assert 0.0 < entry["pair_agreement"] <= 1.0
    assert 0.0 <= results["starc"]["0-1"] <= 1.0
    assert results["models"] == [str(models[0]), str(models[1])]
    # a model compared with itself is at STARC distance 0 and agrees on every pair
    invoke("compare", "--model", f"{models[0]},{models[0]}", "--data", data, "--out", out)
    same = json.loads(out.read_text())
    assert same["starc"]["0-1"] == pytest.approx(0.0, abs=1e-9)
    assert same["pairwise"]["0-1"]["pair_agreement"] == 1.0
