"""The optimization path: a policy over each prompt's pool trained by policy gradient.

The policy has one logit per (prompt, candidate), π_θ(y | x) = softmax_y θ_x,
initialised at log π₀. Each step samples a group of G candidates per prompt
from π_θ and scores them with the KL-shaped reward of RLHF (Ziegler et al.
2019; Gao et al. 2023's PPO runs)

    R(y) = r(y) − β·(log π_θ(y) − log π₀(y)),

with the group-mean baseline of GRPO (Shao et al. 2024): A_k = R_k − (1/G) Σ_j R_j.

- REINFORCE: θ_x ← θ_x + η·(1/G) Σ_k A_k ∇ log π_θ(y_k), with
  ∇_θx log π_θ(y) = e_y − π_θ(· | x). Because E_π[∇ log π] = 0, the expected
  update is η·((G − 1)/G)·∇(E_π[r] − β·KL(π ‖ π₀)): the baseline's own 1/G
  share of R_k cancels that much of each sample's term, while the other
  samples' rewards are independent of y_k and drop out. The fixed point is
  the tilted optimum π_β of :mod:`rewardlab.lab.overopt.kl_optimum`.
- PPO-style clipping (Schulman et al. 2017): the group is sampled from
  π_old, then ``ppo_epochs`` ascent steps on (1/G) Σ_k min(ρ_k A_k,
  clip(ρ_k, 1 − ε, 1 + ε) A_k), ρ_k = π_θ(y_k)/π_old(y_k); its gradient is
  ρ_k A_k ∇ log π_θ(y_k) where the clip is inactive and 0 where it binds.

Rewards per candidate are computed once; every step is array arithmetic over
all prompts at once. After every ``log_every`` steps the exact KL(π_θ ‖ π₀),
E_π[proxy] and E_π[gold] are logged (sums over the pool, no sampling noise).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.special import log_softmax

from rewardlab.lab.overopt.kl_optimum import policy_stats
from rewardlab.options import check, option


@dataclass(frozen=True)
class PGConfig:
    """Policy-gradient settings (rewards in the units the caller passes): the KL
    coefficient β of the shaped reward, the updates, the candidates G sampled per prompt
    per step, the step size η on the logits, the PPO clip ε (``None``: plain REINFORCE),
    the ascent steps per sampled group when clipping, how often the exact stats are
    logged (and at 0 and the end), and the seed of the sampling. A command offers them as
    ``--pg-*`` flags with its own defaults (:func:`~rewardlab.options.redefault`)."""

    beta: float = option(0.1, "pg: KL coefficient β, in units of the reward scale.",
                         flag="--pg-beta", min=0.0, open_min=True)
    steps: int = option(400, "pg: updates.", flag="--pg-steps", min=1)
    group: int = option(16, "pg: candidates sampled per prompt per update.", flag="--pg-group",
                        min=2)
    lr: float = option(1.0, "pg: step size on the logits.", flag="--pg-lr", min=0.0,
                       open_min=True)
    clip: float | None = option(None, "pg: PPO clip ε in (0, 1) (default: plain REINFORCE).",
                                flag="--pg-clip", min=0.0, open_min=True, max=1.0,
                                open_max=True)
    ppo_epochs: int = option(4, "pg: ascent steps per sampled group when clipping.", min=1,
                             cli=False)
    log_every: int = option(10, "pg: log the exact stats every this many steps.", min=1,
                            cli=False)
    seed: int = option(0, "pg: seed of the sampling.", min=0, cli=False)

    def __post_init__(self) -> None:
        check(self, names=lambda field: f"field {field.name!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def sample_group(prob: np.ndarray, group: int, rng: np.random.Generator) -> np.ndarray:
    """(P, G) candidate indices drawn from each row of ``prob`` by inverse CDF."""
    cdf = np.cumsum(prob, axis=1)
    cdf /= cdf[:, -1:]
    u = rng.random((prob.shape[0], group))
    picks = np.empty((prob.shape[0], group), dtype=np.int64)
    for k in range(group):
        picks[:, k] = (cdf < u[:, k : k + 1]).sum(axis=1)
    return np.minimum(picks, prob.shape[1] - 1)


def _score_grad(
    prob: np.ndarray, picks: np.ndarray, weight: np.ndarray
) -> np.ndarray:
    """(1/G) Σ_k w_k (e_{y_k} − π) per prompt, shape (P, N)."""
    rows, group = picks.shape
    grad = np.zeros_like(prob)
    np.add.at(grad, (np.repeat(np.arange(rows), group), picks.ravel()), weight.ravel())
    return (grad - weight.sum(axis=1, keepdims=True) * prob) / group


class PolicyGradient:
    """Per-prompt logits over the pool and the REINFORCE / clipped update of the module
    docstring. ``log_pi0`` is (P, N) with −∞ on padding."""

    def __init__(self, log_pi0: np.ndarray, config: PGConfig) -> None:
        self.log_pi0 = np.asarray(log_pi0, dtype=np.float64)
        self.config = config
        self.live = np.isfinite(self.log_pi0)
        self.logits = np.where(self.live, self.log_pi0, -np.inf)
        self.rng = np.random.default_rng(config.seed)

    def log_policy(self) -> np.ndarray:
        return log_softmax(self.logits, axis=1)

    def step(self, reward: np.ndarray) -> None:
        """One update on ``reward`` (P, N): sample a group, shape, baseline, ascend."""
        cfg = self.config
        log_old = self.log_policy()
        picks = sample_group(np.exp(log_old), cfg.group, self.rng)
        def take(matrix: np.ndarray) -> np.ndarray:
            return np.take_along_axis(matrix, picks, axis=1)

        shaped = take(reward) - cfg.beta * (take(log_old) - take(self.log_pi0))
        advantage = shaped - shaped.mean(axis=1, keepdims=True)
        if cfg.clip is None:
            self._ascend(_score_grad(np.exp(log_old), picks, advantage))
            return
        old_pick = take(log_old)
        for _ in range(cfg.ppo_epochs):
            log_now = self.log_policy()
            ratio = np.exp(take(log_now) - old_pick)
            binds = ((advantage > 0) & (ratio > 1 + cfg.clip)) | (
                (advantage < 0) & (ratio < 1 - cfg.clip)
            )
            weight = np.where(binds, 0.0, ratio * advantage)
            self._ascend(_score_grad(np.exp(log_now), picks, weight))

    def _ascend(self, grad: np.ndarray) -> None:
        self.logits = np.where(self.live, self.logits + self.config.lr * grad, -np.inf)


def train_policy(
    log_pi0: np.ndarray,
    reward: np.ndarray,
    gold: np.ndarray,
    config: PGConfig,
    proxy: np.ndarray | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Train on a fixed ``reward`` (P, N); return the final log-policy and the path.

    The path has ``{step, kl, proxy, gold}`` at step 0, every ``log_every`` steps and
    the last step; ``proxy`` (default: ``reward``) is what is logged as proxy.
    ``progress(step, steps)`` at each logged step.
    """
    policy = PolicyGradient(log_pi0, config)
    logged = reward if proxy is None else proxy
    path = [{"step": 0, **policy_stats(policy.log_policy(), policy.log_pi0, logged, gold)}]
    for step in range(1, config.steps + 1):
        policy.step(reward)
        if step % config.log_every == 0 or step == config.steps:
            path.append(
                {"step": step, **policy_stats(policy.log_policy(), policy.log_pi0, logged, gold)}
            )
            if progress is not None:
                progress(step, config.steps)
    return policy.log_policy(), path
