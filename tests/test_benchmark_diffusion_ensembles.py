"""``benchmarks/diffusion_ensembles.py``: gold read at equal KL, by hand, on results that
have the lab's shape (the lab itself is run by ``tests/test_diffusion_lab.py``)."""

from __future__ import annotations

import json

import pytest

from test_benchmarks_robust import load_script

bench = load_script("diffusion_ensembles")


def curve(kls, golds):
    return [{"kl": k, "gold": g} for k, g in zip(kls, golds, strict=True)]


def results(single, wco):
    return {"optimizers": {"draft/single": {"reading": "single", "curve": curve(*single)},
                           "draft/wco": {"reading": "wco", "curve": curve(*wco)}},
            "timing": {"total_seconds": 12.5}}


def test_gold_is_interpolated_in_kl_and_none_beyond_the_curve():
    points = curve([0.0, 10.0, 30.0], [-3.0, -2.0, -4.0])
    assert bench.gold_at(points, 5.0) == pytest.approx(-2.5)
    assert bench.gold_at(points, 20.0) == pytest.approx(-3.0)
    assert bench.gold_at(points, 30.0) == pytest.approx(-4.0)
    assert bench.gold_at(points, 31.0) is None


def test_summary_and_seed_means_from_existing_runs(tmp_path):
    seeds = {0: results(([0, 10, 30], [-3, -2, -4]), ([0, 20], [-3, -1])),
             1: results(([0, 10, 40], [-3, -3, -5]), ([0, 20], [-3, -2]))}
    for seed, body in seeds.items():
        (tmp_path / f"seed_{seed}").mkdir()
        (tmp_path / f"seed_{seed}" / "results.json").write_text(json.dumps(body))
    bench.main(["--out", str(tmp_path), "--seeds", "0,1", "--kl", "10,20,30"])
    out = json.loads((tmp_path / "ensembles.json").read_text())
    single = out["per_seed"]["0"]["single"]
    assert (single["gold_peak"], single["kl_at_peak"], single["gold_drop"]) == (-2, 10, 2)
    # seed 1 at KL 20: −3 + (10/30)·(−2); at 30: −3 + (20/30)·(−2)
    assert out["mean"]["single"]["gold_at_kl"] == {
        "10.0": -2.5, "20.0": pytest.approx((-3 - 11 / 3) / 2),
        "30.0": pytest.approx((-4 - 13 / 3) / 2)}
    assert out["mean"]["wco"]["gold_at_kl"] == {"10.0": -2.25, "20.0": -1.5, "30.0": None}
    assert out["mean"]["single"]["gold_drop"] == pytest.approx((2 + 2) / 2)
    assert out["seconds"] == {"0": 12.5, "1": 12.5}
