"""Forecasts checked where the truth is known: the lab's readings, the scores, real AlpacaEval."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from rewardlab.lab.forecast.axis import Axis, bon_axis
from rewardlab.lab.forecast.bootstrap import Forecast
from rewardlab.lab.forecast.methods import PeakEstimate
from rewardlab.lab.forecast.peaks import Realized, interpolated_peak
from rewardlab.lab.forecast.pool import choose_budget
from rewardlab.lab.forecast.run import ForecastOptions, forecast_pools
from rewardlab.lab.forecast.validation import evaluate_reading, lab_readings, score, summarize
from rewardlab.lab.overopt.experiment import OveroptConfig, run_overopt
from rewardlab.lab.overopt.pools import SyntheticPoolConfig
from rewardlab.optimize.bon import best_of_n_curve
from rewardlab.optimize.pool import group_by_prompt

ROOT = Path(__file__).resolve().parents[1]
TINY = SyntheticPoolConfig(n_prompts=200, test_prompts=12, val_prompts=20, pool_size=16,
                           n_val_pairs=60)


def tiny_config() -> OveroptConfig:
    return OveroptConfig(proxy_sizes=(120,), noises=(0.25,), ensemble=2, epochs=2,
                         synthetic=TINY, ns=(1, 2, 4, 8, 16))


def test_lab_readings_are_the_labs_own_proxies(one_torch_thread):
    """Each reading's pool gives exactly the best-of-n gold curve ``run_overopt`` reports."""
    config = tiny_config()
    lab = {s["aggregate"]: s for s in run_overopt(config)["settings"]}
    readings = list(lab_readings(config))
    assert [r.aggregate for r in readings] == ["single", "mean", "wco", "uwo"]
    for reading in readings:
        assert (reading.source, reading.proxy_size, reading.noise) == ("synthetic", 120, 0.25)
        ours = best_of_n_curve(reading.pools, list(config.ns))
        theirs = lab[reading.aggregate]["curve"]
        np.testing.assert_allclose([p["gold"] for p in ours], [p["gold"] for p in theirs],
                                   rtol=1e-12)
        np.testing.assert_allclose([p["proxy"] for p in ours], [p["proxy"] for p in theirs],
                                   rtol=1e-12)


def _forecast(peak: float, interval: tuple[float, float], censored: bool, curve) -> Forecast:
    estimate = PeakEstimate(peak, censored, 1.0, np.asarray(curve, float))
    return Forecast(estimate, interval, (0.0, 1.0), np.zeros((2, 5)), 0.0, np.array([peak]),
                    0.8, np.asarray([curve], float))


def test_scores_clip_censored_peaks_at_the_reach():
    axis = Axis("bon", np.array([1.0, 2, 4, 8, 64]), np.zeros(5), np.log([1.0, 2, 4, 8, 64]))
    rising = np.array([0.0, 1, 2, 3, 4])
    truth = Realized(rising, 64.0, 64.0, True)  # censored: only known to be ≥ 64
    near = score(_forecast(40.0, (30.0, 64.0), False, [0, 1, 2, 3, 2.5]), truth, axis, 64, 0.05)
    assert near["within_factor"] and near["covered"]  # 64/40 = 1.6; 30 ≤ 64 ≤ 64
    assert not near["falls_correct"]  # forecast: falls by 64; truth: still rising
    far = score(_forecast(30.0, (10.0, 50.0), False, rising), truth, axis, 64, 0.05)
    assert not far["within_factor"] and not far["covered"]  # 64/30 = 2.13; 50 < 64
    assert far["falls_correct"]
    inner = Realized(np.array([0.0, 1, 2, 1.99, 1.5]), 4.0, 4.0, False)
    early = score(_forecast(2.0, (1.5, 3.0), False, [0, 2, 1, 0.5, 0]), inner, axis, 64, 0.05)
    assert early["within_factor"] and not early["covered"]  # factor exactly 2; 4 > 3
    summary = summarize([
        {"realized": {"censored": True}, "trials": {"m": [near, far]}},
        {"realized": {"censored": False}, "trials": {"m": [early, {"error": "no fit"}]}},
    ])["m"]
    assert summary["all"]["trials"] == 3 and summary["errors"] == 1
    assert summary["all"]["within_factor"] == pytest.approx(2 / 3)
    assert summary["censored"]["covered"] == pytest.approx(1 / 2)
    assert summary["interior"]["covered"] == 0.0


def test_evaluate_reading_on_a_known_curve():
    """Pools whose gold is the proxy's rank pattern: every prompt has the same curve, so every
    subset's forecast equals the realized peak and its interval is a point."""
    rng = np.random.default_rng(0)
    pools = []
    for p in range(30):
        scores = rng.permutation(32).astype(float)
        gold = -((scores - 27.0) ** 2)  # the best gold at proxy rank 27 of 0..31
        pools.extend(group_by_prompt([f"q{p}"] * 32, [str(i) for i in range(32)], scores,
                                     gold=gold))
    outcome = evaluate_reading(pools, budget=10, subsets=3, replicates=20, level=0.8, seed=0)
    axis = bon_axis(32)
    curve = best_of_n_curve(pools, [int(n) for n in axis.x])
    gold = np.array([p["gold"] for p in curve])
    assert outcome["realized"]["grid_peak"] == axis.x[int(np.argmax(gold))]
    assert outcome["realized"]["peak"] == pytest.approx(interpolated_peak(axis, gold - gold[0]))
    for trial in outcome["trials"]["empirical"]:
        assert trial["covered"] and trial["within_factor"] and trial["falls_correct"]


def test_alpaca_eval_length_proxy_forecast(shared_data):
    """Real data: the GPT-4-turbo judge's gold on all 805 AlpacaEval instructions, proxy = the
    response's word count (a known hack). The realized best-of-n gold peaks inside the pool;
    forecasts from 100 random instructions land within a factor 2 of it."""
    from rewardlab.data.formats import load_alpaca_eval_pool

    rows = load_alpaca_eval_pool(shared_data / "alpaca-eval")
    responses = [row["response"] for row in rows]
    pools = group_by_prompt([row["prompt"] for row in rows], responses,
                            np.array([len(r.split()) for r in responses], dtype=float),
                            gold=np.array([row["gold"] for row in rows]))
    assert len(pools) == 805
    axis = bon_axis(min(len(p) for p in pools))
    direct = [p["gold"] for p in best_of_n_curve(pools, [int(n) for n in axis.x])]
    truth = axis.x[int(np.argmax(direct))]
    assert truth < axis.reach  # length picks overoptimize within 55 candidates
    for seed in range(3):
        budget = choose_budget(range(len(pools)), 100, seed)
        result = forecast_pools(pools, budget, ForecastOptions(Path("pool"), gold_column="gold",
                                                               bootstrap=200, seed=seed))
        assert result.realized["grid_peak"] == truth and result.falls["realized"] is True
        real = result.realized["peak"]
        assert max(result.peak / real, real / result.peak) <= 2.0, result.verdict


def test_benchmark_tiny_run(tmp_path, one_torch_thread):
    spec = importlib.util.spec_from_file_location("forecast_bench",
                                                  ROOT / "benchmarks" / "forecast.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "bench.json"
    module.main(["--out", str(out), "--sources", "synthetic", "--n-prompts", "200",
                 "--test-prompts", "24", "--pool-size", "16", "--proxy-sizes", "120",
                 "--noises", "0.25", "--ensemble", "2", "--epochs", "2", "--budget", "12",
                 "--subsets", "2", "--bootstrap", "20"])
    result = json.loads(out.read_text())
    assert len(result["settings"]) == 4
    assert set(result["summary"]) == {"empirical", "gao"}
    assert result["summary"]["empirical"]["all"]["trials"] == 8
    assert "benchmarks/forecast.py --out" in result["command"]
    assert result["timing"]["total_seconds"] > 0
