"""The overoptimization lab: label noise, ensemble readings, best-of-n curves and the
whole run (deterministic by seed) on a tiny synthetic arena."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from rewardlab.data.record import Comparison
from rewardlab.lab.overopt import OveroptConfig, SyntheticPoolConfig, run_overopt
from rewardlab.lab.overopt.pools import CandidatePool, flip_labels, synthetic_data
from rewardlab.lab.overopt.proxies import BON_AXIS, bon_curves, default_ns, read_rewards
from rewardlab.lab.scaling_fit import fit_bon

TINY = SyntheticPoolConfig(
    n_prompts=80, test_prompts=5, val_prompts=8, pool_size=12, n_val_pairs=40
)


def tiny_config(**changes) -> OveroptConfig:
    base = {
        "proxy_sizes": (60,),
        "noises": (0.25,),
        "ensemble": 3,
        "synthetic": TINY,
        "epochs": 2,
    }
    return OveroptConfig(**{**base, **changes})


def test_flip_labels_is_seeded_and_nested_across_rates():
    pairs = [Comparison("p", (f"a{i}", f"b{i}"), ranking=(0, 1)) for i in range(400)]
    low = [r.ranking == (1, 0) for r in flip_labels(pairs, 0.1, seed=3)]
    high = [r.ranking == (1, 0) for r in flip_labels(pairs, 0.25, seed=3)]
    assert all(h for lo, h in zip(low, high, strict=True) if lo)  # ε=0.1 flips ⊂ ε=0.25 flips
    assert 20 < sum(low) < 60 and 70 < sum(high) < 130
    assert high == [r.ranking == (1, 0) for r in flip_labels(pairs, 0.25, seed=3)]
    assert flip_labels(pairs, 0.0, seed=3) == pairs
    with pytest.raises(ValueError, match="noise"):
        flip_labels(pairs, 1.5, seed=0)


def test_readings_single_member_zero_and_centred_aggregations():
    # One prompt, three responses, two members: m0 = (0, 1, 2), m1 = (0, 0, 3).
    # Centred per prompt: m0 − 1 = (−1, 0, 1), m1 − 1 = (−1, −1, 2).
    members = np.array([[0.0, 1.0, 2.0], [0.0, 0.0, 3.0]])
    prompts = ["p", "p", "p"]
    np.testing.assert_allclose(read_rewards(members, prompts, "single"), [0, 1, 2])
    np.testing.assert_allclose(read_rewards(members, prompts, "mean"), [-1, -0.5, 1.5])
    np.testing.assert_allclose(read_rewards(members, prompts, "wco"), [-1, -1, 1])
    # UWO = mean − 0.5·Var, Var (ddof 0) of (−1, −1), (0, −1), (1, 2) = 0, 0.25, 0.25.
    np.testing.assert_allclose(read_rewards(members, prompts, "uwo"), [-1, -0.625, 1.375])
    # λ = 1 through the declared parameter: mean − Var = (−1, −0.75, 1.25)
    np.testing.assert_allclose(read_rewards(members, prompts, "uwo", {"lam": 1.0}),
                               [-1, -0.75, 1.25])


def test_bon_curve_is_the_unbiased_estimate_with_deltas_and_attributes():
    # Proxy (1, 2, 3), gold (5, 0, 1). n=1: mean gold 2. n=2: the pick is rank 2 with
    # weight C(1,1)/C(3,2) = 1/3 and rank 3 with 2/3: gold = 0·1/3 + 1·2/3 = 2/3.
    # n=3: always the top (gold 1). Words (10, 20, 30) follow the same weights.
    pool = CandidatePool(["p"] * 3, ["a", "b", "c"], np.array([5.0, 0.0, 1.0]),
                         {"words": np.array([10.0, 20.0, 30.0])})
    curve = bon_curves(pool, np.array([1.0, 2.0, 3.0]), [1, 2, 3])
    assert [p["gold"] for p in curve] == pytest.approx([2.0, 2 / 3, 1.0])
    assert [p["gold_delta"] for p in curve] == pytest.approx([0.0, -4 / 3, -1.0])
    assert [p["proxy_delta"] for p in curve] == pytest.approx([0.0, 8 / 3 - 2, 1.0])
    assert [p["attributes"]["words"] for p in curve] == pytest.approx([20.0, 20 / 3 + 20, 30.0])


def test_default_ns_are_powers_of_two_then_the_pool_size():
    assert default_ns(8) == [1, 2, 4, 8]
    assert default_ns(1000) == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000]


def test_config_errors_name_the_flag():
    with pytest.raises(ValueError, match="^--pool: .*'arena'"):
        OveroptConfig(pool="arena")
    with pytest.raises(ValueError, match="^--data: the alpaca-eval pool needs"):
        OveroptConfig(pool="alpaca-eval")
    with pytest.raises(ValueError, match="^--n: expected increasing values starting at 1"):
        OveroptConfig(ns=(2, 4))
    with pytest.raises(ValueError, match="^--aggregate: .*did you mean 'uwo'"):
        OveroptConfig(aggregates=("uwoo",))
    with pytest.raises(ValueError, match="^--aggregate-params: 'brme' is not a reading"):
        OveroptConfig(aggregate_params={"brme": {"w": 0.1}})
    with pytest.raises(ValueError, match="option 'lam': must be >= 0"):
        OveroptConfig(aggregate_params={"uwo": {"lam": -1.0}})


def test_an_option_no_chosen_component_reads_is_refused():
    """A pool's or an optimizer's options given when it is not chosen: refused by name."""
    from rewardlab.lab.overopt.rl_curves import LabPGConfig, RLConfig

    with pytest.raises(ValueError, match="^--pg-steps: not read by --optimizer bon,kl;"):
        OveroptConfig(optimizers=("bon", "kl"), rl=RLConfig(pg=LabPGConfig(steps=7)))
    with pytest.raises(ValueError, match="^--n: not read by --optimizer pg;"):
        OveroptConfig(optimizers=("pg",), ns=(1, 2))
    with pytest.raises(ValueError, match="^--pool-size: not read by --pool alpaca-eval;"):
        OveroptConfig(pool="alpaca-eval", data="x", synthetic=SyntheticPoolConfig(pool_size=9))
    with pytest.raises(ValueError, match="^--max-test-prompts: not read by --pool synthetic;"):
        OveroptConfig(max_test_prompts=3)
    # read by a chosen one: accepted
    assert OveroptConfig(optimizers=("pg",), rl=RLConfig(pg=LabPGConfig(steps=7))).rl.pg.steps == 7


def test_run_is_deterministic_and_gold_at_n1_is_the_pool_mean():
    first = run_overopt(tiny_config())
    second = run_overopt(tiny_config())
    for run in (first, second):
        for setting in run["settings"]:
            del setting["train"]["fit_seconds"]  # wall time, the one thing allowed to differ
    assert json.dumps(first["settings"], sort_keys=True) == json.dumps(
        second["settings"], sort_keys=True
    )
    assert [s["aggregate"] for s in first["settings"]] == ["single", "mean", "wco", "uwo"]
    pool = synthetic_data(TINY, 60, seed=0).test
    assert first["ns"] == [1, 2, 4, 8, 12]
    for setting in first["settings"]:
        curve = setting["curve"]
        assert curve[0]["gold"] == pytest.approx(pool.gold.mean())  # n = 1 ignores the proxy
        # fit (and plot) axis: d = √(log n − (n−1)/n), not the pool's kl_exact
        d = [math.sqrt(math.log(p["n"]) - (p["n"] - 1) / p["n"]) for p in curve]
        assert [p[BON_AXIS] for p in curve] == pytest.approx(d, abs=1e-12)
        refit = fit_bon(d, [p["gold_delta"] for p in curve])
        assert setting["fit"]["alpha"] == pytest.approx(refit.alpha)
        assert setting["fit"]["beta"] == pytest.approx(refit.beta)
    assert synthetic_data(TINY, 60, seed=1).test.fingerprint() != pool.fingerprint()
    assert pool.fingerprint() == first["data"]["test_fingerprint"]
