"""Optimization beyond best-of-n: the exact KL optimum on a pool, best-of-n on the same
pool, the policy-gradient path, Gao's RL fit and the constrained (Lagrangian) update."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rewardlab.lab.overopt.constrained import ConstrainedConfig, train_constrained
from rewardlab.lab.overopt.kl_optimum import (
    PaddedPools,
    at_kl,
    base_log_policy,
    bon_log_policy,
    kl_optimum_curve,
    policy_stats,
    tilted_log_policy,
)
from rewardlab.lab.overopt.policy_gradient import PGConfig, train_policy
from rewardlab.lab.scaling_fit import fit_rl

LN2 = math.log(2.0)


def _three_and_two():
    """Prompt a: 3 candidates, prompt b: 2 (padded to 3)."""
    pools = PaddedPools.from_prompts(["a", "a", "b", "a", "b"])
    reward = pools.matrix([0.0, LN2, 0.0, 2 * LN2, LN2])
    gold = pools.matrix([1.0, 0.0, 2.0, -1.0, 0.0])
    return pools, reward, gold


def test_tilted_policy_matches_a_hand_computation_on_three_candidates():
    pools, reward, gold = _three_and_two()
    assert pools.index.tolist() == [[0, 1, 3], [2, 4, -1]]
    log_pi0 = base_log_policy(pools.mask)
    log_pi = tilted_log_policy(log_pi0, reward, 1.0)
    # prompt a: π ∝ (1, 2, 4)/7; prompt b: π ∝ (1, 2)/3; padding gets 0.
    pi = np.exp(log_pi)
    assert pi[0] == pytest.approx([1 / 7, 2 / 7, 4 / 7])
    assert pi[1] == pytest.approx([1 / 3, 2 / 3, 0.0])
    kl_a = (1 / 7) * math.log(3 / 7) + (2 / 7) * math.log(6 / 7) + (4 / 7) * math.log(12 / 7)
    kl_b = (1 / 3) * math.log(2 / 3) + (2 / 3) * math.log(4 / 3)
    stats = policy_stats(log_pi, log_pi0, reward, gold)
    assert stats["kl"] == pytest.approx((kl_a + kl_b) / 2)
    assert stats["gold"] == pytest.approx(((1 - 4) / 7 + 2 / 3) / 2)
    assert stats["proxy"] == pytest.approx((10 * LN2 / 7 + 2 * LN2 / 3) / 2)


def test_generator_logprobs_are_the_base_policy():
    # π₀ = (½, ¼, ¼), r = (0, ln 2, ln 2), β = 1: π ∝ (½, ½, ½) = uniform.
    mask = np.ones((1, 3), bool)
    log_pi0 = base_log_policy(mask, np.log([[0.5, 0.25, 0.25]]) + 7.0)  # renormalised
    log_pi = tilted_log_policy(log_pi0, np.array([[0.0, LN2, LN2]]), 1.0)
    assert np.exp(log_pi[0]) == pytest.approx([1 / 3] * 3)
    kl = policy_stats(log_pi, log_pi0, np.zeros((1, 3)), np.zeros((1, 3)))["kl"]
    assert kl == pytest.approx((math.log(2 / 3) + 2 * math.log(4 / 3)) / 3)


def test_kl_grows_as_beta_falls_with_pi0_and_argmax_at_the_ends():
    pools, reward, gold = _three_and_two()
    log_pi0 = base_log_policy(pools.mask)
    curve = kl_optimum_curve(log_pi0, reward, gold, [math.inf, 100.0, 3.0, 1.0, 0.3, 0.05, 0.0])
    kls = [p["kl"] for p in curve]
    assert kls[0] == 0.0 and all(b > a for a, b in zip(kls, kls[1:], strict=False))
    assert curve[0]["gold"] == pytest.approx((0.0 + 1.0) / 2)  # π₀: pool means
    # β → 0: the argmax (gold −1 on a, 0 on b); KL = log 3 and log 2.
    assert curve[-1]["gold"] == pytest.approx(-0.5)
    assert curve[-1]["kl"] == pytest.approx((math.log(3) + math.log(2)) / 2)
    assert curve[-2]["gold"] == pytest.approx(-0.5, abs=1e-4)
    assert curve[1]["kl"] < 1e-4


def test_best_of_n_on_the_pool_by_hand():
    mask = np.ones((2, 3), bool)
    log_pi0 = base_log_policy(mask)
    reward = np.array([[0.0, 2.0, 1.0], [0.0, 1.0, 1.0]])
    pick = np.exp(bon_log_policy(log_pi0, reward, 2))
    # distinct: ranks 1,2,3 get 1/9, 3/9, 5/9; tie of the top two shares 8/9.
    assert pick[0] == pytest.approx([1 / 9, 5 / 9, 3 / 9])
    assert pick[1] == pytest.approx([1 / 9, 4 / 9, 4 / 9])
    assert np.exp(bon_log_policy(log_pi0, reward, 1)) == pytest.approx(np.full((2, 3), 1 / 3))
    # π₀ = (½, ¼, ¼), proxy ascending: F = (½, ¾, 1), P = F_b² − F_{b−1}² = (¼, 5/16, 7/16)
    skewed = np.log([[0.5, 0.25, 0.25]])
    got = np.exp(bon_log_policy(skewed, np.array([[0.0, 1.0, 2.0]]), 2))
    assert got[0] == pytest.approx([0.25, 5 / 16, 7 / 16])
    # at equal KL the tilted optimum has at least best-of-n's proxy (it is the maximiser)
    bon = policy_stats(np.log(pick), log_pi0, reward, reward)
    points = kl_optimum_curve(log_pi0, reward, reward, np.geomspace(50, 0.01, 400))
    assert at_kl(points, bon["kl"], "proxy") >= bon["proxy"] - 1e-3
    assert at_kl(points, 10.0) is None


@pytest.mark.parametrize("clip", [None, 0.2])
def test_policy_gradient_converges_to_the_tilted_optimum(clip):
    rng = np.random.default_rng(0)
    pools = PaddedPools.from_prompts([f"p{i // 6}" for i in range(4 * 6 - 1)])
    reward = pools.matrix(rng.normal(size=23))
    gold = pools.matrix(rng.normal(size=23))
    log_pi0 = base_log_policy(pools.mask)
    beta = 0.5
    config = PGConfig(beta=beta, steps=600, group=32, lr=0.5, clip=clip, log_every=100)
    log_pi, path = train_policy(log_pi0, reward, gold, config)
    log_target = tilted_log_policy(log_pi0, reward, beta)
    tv = 0.5 * np.abs(np.exp(log_pi) - np.exp(log_target)).sum(axis=1)
    assert tv.max() < 0.02
    assert [p["step"] for p in path] == list(range(0, 601, 100))
    assert path[0]["kl"] == 0.0 and path[-1]["kl"] == pytest.approx(
        policy_stats(log_target, log_pi0, reward, gold)["kl"], rel=0.05
    )


def test_pg_config_errors_name_the_field():
    with pytest.raises(ValueError, match="'beta'"):
        PGConfig(beta=0.0)
    with pytest.raises(ValueError, match="'clip'"):
        PGConfig(clip=1.5)


def test_rl_fit_recovers_alpha_beta_from_a_noiseless_curve():
    d = np.sqrt(np.array([0.0, 0.05, 0.2, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0]))
    alpha, beta = 1.2, 0.8
    fit = fit_rl(d, d * (alpha - beta * np.log(np.where(d > 0, d, 1.0))))
    assert (fit.alpha, fit.beta) == pytest.approx((alpha, beta))
    assert fit.r2 == pytest.approx(1.0) and fit.form == "rl"
    assert fit.d_peak == pytest.approx(math.exp(alpha / beta - 1.0))
    assert fit.r_peak == pytest.approx(beta * fit.d_peak)
    assert fit.predict(1.0) == pytest.approx(alpha)
    assert fit.to_dict()["form"] == "rl"


def test_constrained_multipliers_hold_each_component_at_its_proxy_point():
    rng = np.random.default_rng(1)
    mask = np.ones((6, 8), bool)
    r1 = rng.normal(size=(6, 8))
    r2 = rng.normal(size=(6, 8)) - 0.5 * r1
    log_pi0 = base_log_policy(mask)
    beta, weights = 0.5, np.array([0.3, 0.7])
    target = tilted_log_policy(log_pi0, weights[0] * r1 + weights[1] * r2, beta)
    theta = [policy_stats(target, log_pi0, r, r)["proxy"] for r in (r1, r2)]
    config = ConstrainedConfig(PGConfig(beta=beta, steps=1500, group=32, lr=1.0, log_every=100),
                               lagrange_lr=5.0)
    _, path = train_constrained(log_pi0, [r1, r2], theta, r1 + r2, config)
    last = path[-1]
    assert last["components"] == pytest.approx(theta, abs=0.01)
    assert last["weights"] == pytest.approx(weights.tolist(), abs=0.01)  # σ(λ) converge
    assert np.abs(np.subtract(path[-2]["lambdas"], last["lambdas"])).max() < 0.01
    assert path[0]["weights"] == [0.5, 0.5]
    with pytest.raises(ValueError, match="'proxy_points'"):
        train_constrained(log_pi0, [r1, r2], theta[:1], r1, config)


@pytest.mark.parametrize("group", [2, 3])
def test_expected_reinforce_update_is_g_minus_1_over_g_times_the_gradient(monkeypatch, group):
    # enumerate every group of picks: E[update] = η (G−1)/G ∇_θ (E_π[r] − β KL(π ‖ π₀)),
    # the gradient taken by central differences
    import itertools

    from rewardlab.lab.overopt import policy_gradient as pg

    log_pi0 = np.log(np.array([[0.5, 0.3, 0.2]]))
    reward = np.array([[1.0, -0.5, 2.0]])
    theta = np.array([[0.3, -0.2, 0.6]])
    beta, lr = 0.4, 0.7

    def objective(logits):
        log_pi = logits - np.log(np.exp(logits).sum())
        pi = np.exp(log_pi)
        return float((pi * reward).sum() - beta * (pi * (log_pi - log_pi0)).sum())

    h = 1e-6
    gradient = np.array([[(objective(theta + h * e) - objective(theta - h * e)) / (2 * h)
                          for e in np.eye(3)]])
    policy = pg.PolicyGradient(log_pi0, PGConfig(beta=beta, lr=lr, group=group))
    pi = np.exp(theta - np.log(np.exp(theta).sum()))[0]
    expected_update = np.zeros_like(theta)
    for picks in itertools.product(range(3), repeat=group):
        monkeypatch.setattr(pg, "sample_group", lambda *_, p=picks: np.array([p]))
        policy.logits = theta.copy()
        policy.step(reward)
        expected_update += np.prod(pi[list(picks)]) * (policy.logits - theta)
    np.testing.assert_allclose(expected_update, lr * (group - 1) / group * gradient, atol=1e-8)
