"""Gold-vs-proxy curves of the optimizers beyond best-of-n, for one proxy reading.

- ``kl``: the exact KL-regularized optimum π_β ∝ π₀·exp(r/β) swept over β
  (:mod:`rewardlab.lab.overopt.kl_optimum`), with exact best-of-n on the same
  pool beside it (``bon_pool``), so the two compare at equal KL;
- ``pg``: the policy-gradient path from π₀ with a KL penalty
  (:mod:`rewardlab.lab.overopt.policy_gradient`), logged every few steps.

β and the policy-gradient step size act on the reading's rewards divided by
their scale s = √(mean over prompts of Var_{π₀}(r)), so one setting means the
same for every reading (a single proxy, WCO and UWO have different spreads);
the logged proxy is the raw reward. Each curve gets Gao et al.'s fit on
d = √KL to gold minus gold under π₀: R(d) = d(α − β log d) (form ``rl``) for
the KL optimum and the PG path, d(α − βd) (form ``bon``) for best-of-n.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from rewardlab.lab.overopt.kl_optimum import (
    at_kl,
    beta_grid,
    bon_pool_curve,
    kl_optimum_curve,
)
from rewardlab.lab.overopt.policy_gradient import PGConfig, train_policy
from rewardlab.lab.scaling_fit import BonFit, fit_bon, fit_rl
from rewardlab.options import option, redefault

OPTIMIZERS = ("bon", "kl", "pg")


@dataclass(frozen=True)
class LabPGConfig(PGConfig):
    """The policy-gradient settings of ``lab overopt`` (β and η in units of the reward
    scale s, so one setting means the same for every reading)."""

    beta: float = redefault(PGConfig, "beta", 0.05)
    steps: int = redefault(PGConfig, "steps", 500)
    lr: float = redefault(PGConfig, "lr", 5.0)


@dataclass(frozen=True)
class RLConfig:
    """Settings of the ``kl`` and ``pg`` optimizers (β in units of the reward scale s).

    Attributes:
        beta_high / beta_low / n_betas: the β sweep of the KL optimum (log-spaced).
        pg: the policy-gradient run (its ``beta`` and ``lr`` also in units of s).
        kl_points: KLs (nats) at which the report compares gold across optimizers.
    """

    beta_high: float = option(30.0, "kl: the largest β of the sweep.", min=0.0, open_min=True,
                              cli=False)
    beta_low: float = option(0.01, "kl: the smallest β of the sweep.", min=0.0, open_min=True,
                             cli=False)
    n_betas: int = option(40, "kl: β values swept (log-spaced).", min=2, cli=False)
    pg: PGConfig = option(default_factory=LabPGConfig, help="pg: the policy-gradient run.",
                          cli=False)
    kl_points: tuple[float, ...] = option((0.5, 1.0, 2.0, 3.0), "KLs (nats) where the report "
                                          "compares gold across optimizers.", cli=False)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def reward_scale(log_pi0: np.ndarray, reward: np.ndarray) -> float:
    """s = √(mean over prompts of Var_{π₀}(r)); 1 when every pool is constant."""
    pi0 = np.exp(log_pi0)
    r = np.where(pi0 > 0, reward, 0.0)
    mean = np.sum(pi0 * r, axis=1, keepdims=True)
    var = float(np.mean(np.sum(pi0 * (r - mean) ** 2, axis=1)))
    return float(np.sqrt(var)) if var > 1e-24 else 1.0


def _fit(curve: Sequence[dict[str, Any]], form: str) -> dict[str, Any]:
    """The form's fit on d = √KL to gold − gold(first point), or ``None`` fields when
    the curve has fewer than two distinct d > 0."""
    d = np.sqrt(np.maximum([p["kl"] for p in curve], 0.0))
    y = np.array([p["gold"] for p in curve]) - curve[0]["gold"]
    try:
        fit: BonFit = (fit_rl if form == "rl" else fit_bon)(d, y)
    except ValueError:
        return {"form": form, "alpha": None, "beta": None, "r2": None, "d_peak": None,
                "r_peak": None, "n_points": len(curve)}
    return fit.to_dict()


def _with_deltas(curve: list[dict[str, Any]]) -> list[dict[str, Any]]:
    base = curve[0]
    for point in curve:
        point["gold_delta"] = point["gold"] - base["gold"]
        point["proxy_delta"] = point["proxy"] - base["proxy"]
    return curve


def summarize(curve: Sequence[dict[str, Any]], kl_points: Sequence[float]) -> dict[str, Any]:
    """Gold under π₀, its peak along the curve and the KL there, the last point, and
    gold at each of ``kl_points`` (``None`` beyond the curve)."""
    peak = max(curve, key=lambda p: p["gold"])
    last = max(curve, key=lambda p: p["kl"])
    return {
        "gold_start": curve[0]["gold"],
        "gold_peak": peak["gold"],
        "kl_at_peak": peak["kl"],
        "kl_max": last["kl"],
        "gold_at_kl_max": last["gold"],
        "drop_from_peak": peak["gold"] - last["gold"],
        "gold_at_kl": {str(k): at_kl(curve, k) for k in kl_points},
    }


def kl_optimizer(
    log_pi0: np.ndarray, reward: np.ndarray, gold: np.ndarray, ns: Sequence[int], config: RLConfig
) -> dict[str, Any]:
    """The KL-optimum sweep and exact best-of-n on the same pool, each with its fit."""
    scale = reward_scale(log_pi0, reward)
    betas = [np.inf, *beta_grid(config.beta_low, config.beta_high, config.n_betas)]
    curve = kl_optimum_curve(log_pi0, reward / scale, gold, betas)
    for point in curve:
        point["beta"] = point["beta"] * scale  # back to the reward's own units
        point["proxy"] *= scale
    curve = _with_deltas(curve)
    width = int(np.isfinite(log_pi0).sum(axis=1).min())
    bon = _with_deltas(bon_pool_curve(log_pi0, reward, gold, [n for n in ns if n <= width]))
    return {
        "curve": curve,
        "fit": _fit(curve, "rl"),
        "summary": summarize(curve, config.kl_points),
        "reward_scale": scale,
        "bon_pool": {
            "curve": bon,
            "fit": _fit(bon, "bon"),
            "summary": summarize(bon, config.kl_points),
        },
    }


def pg_optimizer(
    log_pi0: np.ndarray, reward: np.ndarray, gold: np.ndarray, config: RLConfig
) -> dict[str, Any]:
    """The policy-gradient path on the scaled reward, logged with the raw proxy."""
    scale = reward_scale(log_pi0, reward)
    _, path = train_policy(log_pi0, reward / scale, gold, config.pg, proxy=reward)
    path = _with_deltas(path)
    return {
        "curve": path,
        "fit": _fit(path, "rl"),
        "summary": summarize(path, config.kl_points),
        "reward_scale": scale,
        "pg": config.pg.to_dict(),
    }
