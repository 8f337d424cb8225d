"""Constrained RLHF on a pool: component rewards held at their proxy points by multipliers.

Moskovitz et al., "Confronting Reward Model Overoptimization with Constrained
RLHF" (ICLR 2024). Each component reward model r_i is a useful proxy only up
to its *proxy point* θ_i, the value of r_i at which the gold (evaluation)
score peaks; past it, more r_i means less gold. Instead of a fixed
weighted sum Σ_i w_i r_i, the policy is optimised against a combination whose
weights are Lagrange multipliers, squashed into (0, 1) by a sigmoid and
learned so that each component ends at its proxy point:

    policy:       max_π  Σ_i σ(λ_i)·E_π[r_i] − β·KL(π ‖ π₀)
    multipliers:  min_λ  Σ_i σ(λ_i)·(E_π[r_i] − θ_i)
                  λ_i ← λ_i − η_λ·σ'(λ_i)·(E_π[r_i] − θ_i),  σ' = σ(1 − σ).

A component below its proxy point gains weight, one above it loses weight,
so at a fixed point with 0 < σ(λ_i) < 1 every E_π[r_i] = θ_i. This is the
paper's sigmoid-multiplier update (its constrained PPO mixes advantages as
(1 − σ(λ))·A_task + σ(λ)·A_constraint and descends σ(λ)·(E[G_c] − θ) by SGD,
lr 0.05); here the KL term plays the task (the paper's μ-PPO: stay close to
the initial policy while every component reaches its threshold), so the mixed
reward is Σ_i σ(λ_i)·r_i inside the KL-shaped policy gradient of
:mod:`rewardlab.lab.overopt.policy_gradient`. E_π[r_i] is the exact
expectation over the pool under the current policy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.special import expit

from rewardlab.lab.overopt.kl_optimum import policy_stats
from rewardlab.lab.overopt.policy_gradient import PGConfig, PolicyGradient


@dataclass(frozen=True)
class ConstrainedConfig:
    """Multiplier settings; the policy update is ``pg``.

    Attributes:
        pg: policy-gradient settings (β, group, lr, clip, steps, seed).
        lagrange_lr: η_λ of the multiplier update.
        lambda_init: starting λ_i (σ(0) = ½).
    """

    pg: PGConfig
    lagrange_lr: float = 0.5
    lambda_init: float = 0.0

    def __post_init__(self) -> None:
        if not self.lagrange_lr > 0:
            raise ValueError(f"field 'lagrange_lr': expected > 0, got {self.lagrange_lr!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _expectations(log_pi: np.ndarray, components: np.ndarray) -> np.ndarray:
    """E_π[r_i] averaged over prompts, one per component, from (C, P, N) rewards."""
    pi = np.exp(log_pi)
    return np.array([np.mean(np.sum(pi * np.where(pi > 0, r, 0.0), axis=1)) for r in components])


def train_constrained(
    log_pi0: np.ndarray,
    components: Sequence[np.ndarray],
    proxy_points: Sequence[float],
    gold: np.ndarray,
    config: ConstrainedConfig,
    component_gold: Sequence[np.ndarray] = (),
    progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Run the Lagrangian policy gradient; return the final log-policy and the path.

    ``components`` are C reward matrices (P, N); ``gold`` is what the path logs as
    gold (the total). Each path point has ``{step, kl, proxy, gold, lambdas,
    weights, components}`` (``proxy`` = Σ_i σ(λ_i) E[r_i], ``components`` = E[r_i]),
    and ``component_gold`` (E of each matrix given) when any are given.
    ``progress(step, steps)`` at each logged step.
    """
    rewards = np.stack([np.asarray(c, dtype=np.float64) for c in components])
    theta = np.asarray(proxy_points, dtype=np.float64)
    if rewards.ndim != 3 or rewards.shape[1:] != np.shape(log_pi0):
        raise ValueError(f"field 'components': expected C × {np.shape(log_pi0)} rewards")
    if theta.shape != (rewards.shape[0],):
        raise ValueError(
            f"field 'proxy_points': {theta.size} points for {rewards.shape[0]} components"
        )
    golds = np.stack([np.asarray(g, dtype=np.float64) for g in component_gold]) if len(
        component_gold
    ) else None
    lambdas = np.full(rewards.shape[0], config.lambda_init, dtype=np.float64)
    policy = PolicyGradient(log_pi0, config.pg)

    def point(step: int) -> dict[str, Any]:
        log_pi = policy.log_policy()
        weights = expit(lambdas)
        mixed = np.tensordot(weights, rewards, axes=1)
        row = {
            "step": step,
            **policy_stats(log_pi, policy.log_pi0, mixed, gold),
            "lambdas": lambdas.tolist(),
            "weights": weights.tolist(),
            "components": _expectations(log_pi, rewards).tolist(),
        }
        if golds is not None:
            row["component_gold"] = _expectations(log_pi, golds).tolist()
        return row

    path = [point(0)]
    for step in range(1, config.pg.steps + 1):
        weights = expit(lambdas)
        policy.step(np.tensordot(weights, rewards, axes=1))
        values = _expectations(policy.log_policy(), rewards)
        lambdas = lambdas - config.lagrange_lr * weights * (1 - weights) * (values - theta)
        if step % config.pg.log_every == 0 or step == config.pg.steps:
            path.append(point(step))
            if progress is not None:
                progress(step, config.pg.steps)
    return policy.log_policy(), path
