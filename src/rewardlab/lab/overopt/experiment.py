"""The gold-vs-proxy overoptimization experiment (best-of-n).

Gao, Schulman & Hilton, "Scaling Laws for Reward Model Overoptimization"
(ICML 2023): train proxy reward models on preferences labelled by a gold
reward, optimise against the proxy by best-of-n, and watch the gold reward of
the pick as the optimisation distance d = √KL_bon(n) grows — the proxy keeps
rising while gold peaks and falls. Coste et al., "Reward Model Ensembles Help
Mitigate Overoptimization" (ICLR 2024): with 25% label noise, optimising the
worst case (WCO) or an uncertainty-penalised mean (UWO) of an ensemble loses
less gold than a single proxy.

For every backbone × proxy size × noise, one K-member ensemble is trained
(:mod:`rewardlab.lab.overopt.proxies`), read as ``single`` (member 0) and
through each aggregation; each reading gets its best-of-n curve on the test
pool and a fit of R_bon(d) = d(α − βd) to its gold relative to n = 1
(:mod:`rewardlab.lab.scaling_fit`), on d = √KL_bon, the axis the report plots
(:data:`~rewardlab.lab.overopt.proxies.BON_AXIS`).

Beyond best-of-n (``optimizers``): ``kl`` adds the exact KL-regularized optimum
of each reading on the same pool, with exact best-of-n beside it at equal KL,
and ``pg`` the policy-gradient path with a KL penalty; both are fitted with
Gao et al.'s RL form R(d) = d(α − β log d) (:mod:`rewardlab.lab.overopt.rl_curves`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

import rewardlab
from rewardlab.data.fingerprint import fingerprint
from rewardlab.features.backbones import build_backbone
from rewardlab.lab.overopt.config import OveroptConfig
from rewardlab.lab.overopt.file_pool import file_data
from rewardlab.lab.overopt.kl_optimum import PaddedPools, base_log_policy
from rewardlab.lab.overopt.pools import (
    LabData,
    alpaca_eval_data,
    flip_labels,
    synthetic_data,
)
from rewardlab.lab.overopt.proxies import (
    BON_AXIS,
    SINGLE,
    Proxy,
    bon_curves,
    default_ns,
    read_rewards,
    score_pool,
    train_proxy,
)
from rewardlab.lab.overopt.rl_curves import kl_optimizer, pg_optimizer
from rewardlab.lab.scaling_fit import fit_bon

StageCallback = Callable[[str, int, int], None]
"""Called as ``progress(stage, done, total)``."""

def load_data(config: OveroptConfig, progress: StageCallback | None = None) -> LabData:
    """The source's split data, with enough training pairs for the largest proxy."""
    largest = max(config.proxy_sizes)
    if config.pool == "synthetic":
        stage = None if progress is None else (lambda d, t: progress("pool", d, t))
        data = synthetic_data(config.synthetic, largest, config.seed, stage)
    elif config.pool != "alpaca-eval":
        data = file_data(
            config.pool, config.test_fraction, config.val_fraction, config.seed,
            max_test_prompts=config.max_test_prompts,
        )
    else:
        data = alpaca_eval_data(
            str(config.data),
            config.test_fraction,
            config.val_fraction,
            config.seed,
            config.max_test_prompts,
        )
    if len(data.train) < largest:
        raise ValueError(
            f"field 'proxy_sizes': {largest} pairs asked for, but the training prompts "
            f"give {len(data.train)}"
        )
    return data


def _summary(curve: list[dict[str, Any]]) -> dict[str, Any]:
    """Peak of gold over n, gold at the largest n and the loss from the peak."""
    peak = max(curve, key=lambda p: p["gold"])
    last = curve[-1]
    return {
        "gold_n1": curve[0]["gold"],
        "gold_peak": peak["gold"],
        "n_at_peak": peak["n"],
        "gold_max_n": last["gold"],
        "drop_from_peak": peak["gold"] - last["gold"],
        "proxy_gain_max_n": last["proxy_delta"],
        "gold_gain_max_n": last["gold_delta"],
    }


def _settings(
    proxy: Proxy, members: np.ndarray, data: LabData, config: OveroptConfig, ns: list[int]
) -> list[dict[str, Any]]:
    """One result per reading of ``proxy`` (single, then each aggregation) and optimizer."""
    out = []
    pools = PaddedPools.from_prompts(data.test.prompts)
    logprob = None if data.test.logprob is None else pools.matrix(data.test.logprob)
    log_pi0 = base_log_policy(pools.mask, logprob)
    gold = pools.matrix(data.test.gold)
    for name in (SINGLE, *config.aggregates):
        rewards = read_rewards(members, data.test.prompts, name,
                               config.aggregate_params.get(name))
        head = {
            "backbone": proxy.backbone,
            "proxy_size": proxy.size,
            "noise": proxy.noise,
            "aggregate": name,
            "members": 1 if name == SINGLE else config.ensemble,
            "train": proxy.train_summary(),
        }
        for optimizer in config.optimizers:
            if optimizer == "bon":
                curve = bon_curves(data.test, rewards, ns)
                fit = fit_bon([p[BON_AXIS] for p in curve], [p["gold_delta"] for p in curve])
                result = {"curve": curve, "fit": fit.to_dict(), "summary": _summary(curve)}
            elif optimizer == "kl":
                result = kl_optimizer(log_pi0, pools.matrix(rewards), gold, ns, config.rl)
            else:
                result = pg_optimizer(log_pi0, pools.matrix(rewards), gold, config.rl)
            out.append({**head, "optimizer": optimizer, **result})
    return out


def run_overopt(
    config: OveroptConfig, progress: StageCallback | None = None
) -> dict[str, Any]:
    """Run the experiment; return every number (JSON-ready).

    ``progress(stage, done, total)`` follows the stages "pool", "train",
    "score <backbone>" and "optimize <backbone>" (every optimizer, proxy by proxy).
    """
    started = time.perf_counter()
    data = load_data(config, progress)
    loaded = time.perf_counter()
    ns = list(config.ns) or default_ns(min(data.test.pool_sizes()))
    train_config = config.train_config()
    jobs = [(b, s, e) for b in config.backbones for s in config.proxy_sizes for e in config.noises]
    settings: list[dict[str, Any]] = []
    proxies_done = 0
    timing = {
        "data_seconds": loaded - started,
        "train_seconds": 0.0,
        "score_seconds": 0.0,
        "optimize_seconds": 0.0,
    }
    for spec in config.backbones:
        backbone = build_backbone(spec)
        proxies = []
        for size in config.proxy_sizes:
            for k, noise in enumerate(config.noises):
                seed = config.seed * 1000 + k
                train = flip_labels(data.train[:size], noise, seed)
                val = flip_labels(data.val, noise, seed + 500)
                tick = time.perf_counter()
                proxies.append(train_proxy(train, val, backbone, spec, size, noise, train_config))
                timing["train_seconds"] += time.perf_counter() - tick
                proxies_done += 1
                if progress is not None:
                    progress("train", proxies_done, len(jobs))
        tick = time.perf_counter()
        stage = None if progress is None else (lambda d, t, s=spec: progress(f"score {s}", d, t))
        member_scores = score_pool(proxies, backbone, data.test, progress=stage)
        timing["score_seconds"] += time.perf_counter() - tick
        tick = time.perf_counter()
        for done, (proxy, members) in enumerate(zip(proxies, member_scores, strict=True), 1):
            settings.extend(_settings(proxy, members, data, config, ns))
            if progress is not None:
                progress(f"optimize {spec}", done, len(proxies))
        timing["optimize_seconds"] += time.perf_counter() - tick
    timing["total_seconds"] = time.perf_counter() - started
    return {
        "experiment": "overopt",
        "rewardlab_version": rewardlab.__version__,
        "config": config.to_dict(),
        "data": {
            **data.info,
            "train_fingerprint": fingerprint(data.train[: max(config.proxy_sizes)]),
            "test_fingerprint": data.test.fingerprint(),
            "pool_sizes": {"min": min(data.test.pool_sizes()), "max": max(data.test.pool_sizes())},
        },
        "ns": ns,
        "settings": settings,
        "timing": timing,
    }

