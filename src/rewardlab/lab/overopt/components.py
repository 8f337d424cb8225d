"""Constrained RLHF on the synthetic arena: two gold components, two component proxies.

The arena's gold (:mod:`rewardlab.data.synthetic.responses`) splits exactly into

    G_task  = 2·correct + 1·relevant + 0.15·correct·min(explanation, 4) − 1·harmful,
    G_style = 0.3·polite − 0.4·padding,              G = G_task + G_style.

Each component gets its own proxy: the lab's training pairs relabelled by
Bradley–Terry on that component's gold (attributes parsed back from the text),
labels flipped at the noise rate, one hashing proxy trained per component.
On the test pool:

1. the proxy point θ_i of each component: the KL optimum of r_i alone is swept
   over β; θ_i = E[r_i] at the β where the evaluation gold E[G] peaks — the
   definition of Moskovitz et al., 2024, whose proxy points are where the
   evaluation score peaks as each component RM is optimised. (On this arena
   each component's own gold keeps rising under its own proxy, up to the
   argmax; what overoptimization costs shows in the total. Each run records
   that peak too, as ``own_gold_peak``.)
2. the constrained run (:mod:`rewardlab.lab.overopt.constrained`) holds each
   E[r_i] at θ_i through σ(λ_i)-weighted rewards under a KL penalty. Weights
   σ(λ_i) > 0 can only lower a component's pull: a component that the others
   drag past its point (correlated proxies) cannot be pushed back;
3. the fixed-weight sum r̃_task + r̃_style (each reward divided by its scale s_i)
   is swept as a KL optimum and trained by the same policy gradient; its total
   gold is read at the constrained run's final KL.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
from scipy.special import expit

from rewardlab.data.record import Comparison
from rewardlab.data.synthetic import gold_reward, parse_prompt, parse_response
from rewardlab.features.backbones import build_backbone
from rewardlab.lab.overopt.constrained import ConstrainedConfig, train_constrained
from rewardlab.lab.overopt.kl_optimum import (
    PaddedPools,
    at_kl,
    base_log_policy,
    beta_grid,
    kl_optimum_curve,
)
from rewardlab.lab.overopt.policy_gradient import PGConfig, train_policy
from rewardlab.lab.overopt.pools import SyntheticPoolConfig, flip_labels, synthetic_data
from rewardlab.lab.overopt.rl_curves import reward_scale
from rewardlab.lab.weak_to_strong import WeakToStrongConfig
from rewardlab.models.training.config import LoopOptions
from rewardlab.options import check, option, redefault

COMPONENTS = ("task", "style")


def style_gold(attributes: dict[str, Any]) -> float:
    """G_style = 0.3·polite − 0.4·padding."""
    return 0.3 * float(attributes["polite"]) - 0.4 * float(attributes["padding"])


def component_golds(prompt: str, response: str) -> tuple[float, float]:
    """(G_task, G_style) of an arena response, from its parsed attributes."""
    item = parse_prompt(prompt)
    attributes = parse_response(item, response)
    style = style_gold(attributes)
    return gold_reward(item, attributes) - style, style


def relabel(pairs: Sequence[Comparison], component: int, seed: int) -> list[Comparison]:
    """Each pair re-ranked by Bradley–Terry (β = 1) on one component's gold."""
    rng = np.random.default_rng([seed, component])
    out = []
    for pair in pairs:
        a, b = (component_golds(pair.prompt, r)[component] for r in pair.responses[:2])
        first = rng.random() < expit(a - b)
        out.append(replace(pair, ranking=(0, 1) if first else (1, 0)))
    return out


@dataclass(frozen=True)
class ComponentsPG(PGConfig):
    """The policy gradient of ``lab constrained`` (the constrained run and the fixed sum;
    β and the rewards in units of each component's scale)."""

    steps: int = redefault(PGConfig, "steps", 1500)
    log_every: int = redefault(PGConfig, "log_every", 25)


@dataclass(frozen=True)
class ComponentsPool(SyntheticPoolConfig):
    """The arena of ``lab constrained``: 256 candidates per test prompt."""

    pool_size: int = redefault(SyntheticPoolConfig, "pool_size", 256)


@dataclass
class ComponentsConfig:
    """What :func:`run_components` runs: each component proxy's training pairs and
    label-flip rate, the policy gradient, the multipliers' step size, the KL-optimum
    sweeps, the arena, the seed of every draw, and the proxies' training."""

    proxy_size: int = option(2000, "Training pairs per component proxy.", min=1)
    noise: float = redefault(WeakToStrongConfig, "noise", 0.25)
    pg: PGConfig = option(default_factory=ComponentsPG, help="The policy gradient.", cli=False)
    lagrange_lr: float = option(0.05, "Step size η_λ of the Lagrange multipliers.", min=0.0,
                                open_min=True)
    n_betas: int = option(40, "β values of the KL-optimum sweeps (log-spaced in [0.01, 30]).",
                          min=2, cli=False)
    synthetic: SyntheticPoolConfig = option(default_factory=ComponentsPool, cli=False,
                                            help="The arena's sizes.")
    seed: int = redefault(WeakToStrongConfig, "seed", 0)
    epochs: int = redefault(LoopOptions, "epochs", LoopOptions.epochs, cli=False)
    lr: float = redefault(LoopOptions, "lr", LoopOptions.lr, cli=False)
    weight_decay: float = redefault(LoopOptions, "weight_decay", LoopOptions.weight_decay,
                                    cli=False)
    patience: int = redefault(LoopOptions, "patience", 2, cli=False)

    def __post_init__(self) -> None:
        check(self, names=lambda field: f"field {field.name!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _sweep(
    log_pi0: np.ndarray,
    reward: np.ndarray,
    gold: np.ndarray,
    golds: Sequence[np.ndarray],
    betas: Sequence[float],
) -> list[dict[str, Any]]:
    """The KL-optimum sweep with each component's gold added to every point."""
    curve = kl_optimum_curve(log_pi0, reward, gold, betas)
    for name, g in zip(COMPONENTS, golds, strict=True):
        for point, extra in zip(curve, kl_optimum_curve(log_pi0, reward, g, betas), strict=True):
            point[f"gold_{name}"] = extra["gold"]
    return curve


def run_components(config: ComponentsConfig,
                   progress: Callable[[str, int, int], None] | None = None) -> dict[str, Any]:
    """Proxy points, the constrained run and the fixed-weight sum (JSON-ready).

    The path's ``components`` are E[r_i / s_i] (the units the multipliers see);
    ``proxy_points[...]["theta"]`` and ``constrained.final.components`` are in the
    proxies' own units. ``progress(phase, done, total)`` follows the phases "train
    proxies", "score pool", "proxy points", "constrained" and "fixed sum" in turn."""

    def phase(name: str) -> Callable[[int, int], None] | None:
        return None if progress is None else (lambda done, total: progress(name, done, total))

    from rewardlab.lab.overopt.proxies import score_pool, train_proxy  # pulls in torch
    from rewardlab.models.training.config import TrainConfig

    started = time.perf_counter()
    data = synthetic_data(config.synthetic, config.proxy_size, config.seed)
    backbone = build_backbone("hashing")
    train_config = TrainConfig(n_members=1, epochs=config.epochs, lr=config.lr,
                               weight_decay=config.weight_decay, patience=config.patience,
                               seed=config.seed)
    proxies = []
    for i in range(len(COMPONENTS)):
        train = flip_labels(relabel(data.train[: config.proxy_size], i, config.seed),
                            config.noise, config.seed * 1000 + i)
        val = flip_labels(relabel(data.val, i, config.seed + 1), config.noise, config.seed + 500)
        proxies.append(train_proxy(train, val, backbone, "hashing", config.proxy_size,
                                   config.noise, train_config))
        if progress is not None:
            progress("train proxies", i + 1, len(COMPONENTS))
    scores = [m[0] for m in score_pool(proxies, backbone, data.test,
                                       progress=phase("score pool"))]
    pools = PaddedPools.from_prompts(data.test.prompts)
    log_pi0 = base_log_policy(pools.mask)
    attrs = data.test.attributes
    style = 0.3 * attrs["polite"] - 0.4 * attrs["padding"]
    golds = [pools.matrix(data.test.gold - style), pools.matrix(style)]
    gold = pools.matrix(data.test.gold)
    rewards = [pools.matrix(s) for s in scores]
    scales = [reward_scale(log_pi0, r) for r in rewards]
    scaled = [r / s for r, s in zip(rewards, scales, strict=True)]
    betas = [np.inf, *beta_grid(0.01, 30.0, config.n_betas)]

    points = {}
    for i, name in enumerate(COMPONENTS):
        sweep = _sweep(log_pi0, scaled[i], gold, golds, betas)
        peak = max(range(len(sweep)), key=lambda k: sweep[k]["gold"])
        own = max(range(len(sweep)), key=lambda k: sweep[k][f"gold_{name}"])
        points[name] = {
            "theta": sweep[peak]["proxy"] * scales[i],
            "theta_scaled": sweep[peak]["proxy"],
            "gold_peak": sweep[peak]["gold"],
            "kl_at_peak": sweep[peak]["kl"],
            "gold_start": sweep[0]["gold"],
            "own_gold_peak": {"gold": sweep[own][f"gold_{name}"], "kl": sweep[own]["kl"]},
        }
        if progress is not None:
            progress("proxy points", i + 1, len(COMPONENTS))

    constrained_config = ConstrainedConfig(config.pg, lagrange_lr=config.lagrange_lr)
    _, path = train_constrained(log_pi0, scaled, [points[n]["theta_scaled"] for n in COMPONENTS],
                                gold, constrained_config, component_gold=golds,
                                progress=phase("constrained"))
    fixed = scaled[0] + scaled[1]
    fixed_curve = _sweep(log_pi0, fixed, gold, golds, betas)
    _, fixed_path = train_policy(log_pi0, fixed, gold, config.pg, progress=phase("fixed sum"))
    last = path[-1]
    return {
        "experiment": "overopt-constrained",
        "config": config.to_dict(),
        "components": list(COMPONENTS),
        "reward_scales": scales,
        "proxy_points": points,
        "constrained": {
            "path": path,
            "final": {
                "kl": last["kl"],
                "gold": last["gold"],
                "weights": last["weights"],
                "components": {
                    name: value * scale
                    for name, value, scale in zip(COMPONENTS, last["components"], scales,
                                                  strict=True)
                },
                "component_gold": dict(zip(COMPONENTS, last["component_gold"], strict=True)),
            },
        },
        "fixed_sum": {
            "kl_optimum": fixed_curve,
            "pg_path": fixed_path,
            "gold_at_constrained_kl": {
                "kl_optimum": at_kl(fixed_curve, last["kl"]),
                "pg": at_kl(fixed_path, last["kl"]),
            },
            "gold_peak": max(p["gold"] for p in fixed_curve),
        },
        "timing": {"total_seconds": time.perf_counter() - started},
    }
