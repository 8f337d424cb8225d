"""HTML report: self-contained, atomic, renders in headless Chromium to a non-blank page."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest

from rewardlab.data.record import Comparison
from rewardlab.evaluate.probes.attack import AttackConfig
from rewardlab.evaluate.report import render_html, write_html_report
from rewardlab.evaluate.suite import run_evaluation
from rewardlab.models.baselines import LengthReward

CHROMIUM = Path("/usr/bin/chromium")

PAIRS = [
    Comparison(f"p{i}", (" ".join(["w"] * (i % 7 + 2)) + ". Done.", " ".join(["w"] * (i % 5 + 1))),
               (0, 1), category="ab"[i % 2])
    for i in range(30)
]


@pytest.fixture(scope="module")
def results() -> dict:
    return run_evaluation(
        LengthReward(), PAIRS, probes=["length", "offtopic", "perturb", "attack"],
        probe_options={"attack": {"config": AttackConfig(budget=16, batch=4, max_pairs=10)}},
    )


def test_html_embeds_all_figures(results, tmp_path):
    path = write_html_report(results, tmp_path / "report.html")
    text = path.read_text(encoding="utf-8")
    # per-subset bars, reliability, reward vs length, perturbation boxes, attack curve
    assert text.count('<img alt="') == 5
    assert text.count("data:image/png;base64,") == 5
    assert "http://" not in text and "https://" not in text
    assert "<td>accuracy</td>" in text
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]  # no temporary file left


def test_figures_absent_without_data():
    text = render_html({"metrics": {"accuracy": 0.5}, "higher_is_better": {"accuracy": True}})
    assert "<img" not in text and "<td>0.5000</td>" in text


@pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed")
def test_renders_in_headless_chromium(results, tmp_path):
    html_path = write_html_report(results, tmp_path / "report.html")
    shot = tmp_path / "shot.png"
    cmd = [
        str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}",
        "--window-size=1200,2000", html_path.resolve().as_uri(),
    ]
    subprocess.run(cmd, check=True, capture_output=True, timeout=90,
                   env={**os.environ, "HOME": str(tmp_path)})
    img = mpimg.imread(shot)[..., :3]
    assert img.shape[:2] == (2000, 1200)
    non_white = np.mean(img.min(axis=2) < 0.9)
    assert non_white > 0.02, "screenshot is (almost) blank"
    assert img.std() > 0.05
