"""Proxy reward models of the lab and their best-of-n curves against gold.

A proxy is a K-member ensemble (``TrainConfig(n_members=K)``: members differ by
initialisation and data order) trained on the first m training pairs with
labels flipped at rate ε. Its candidate rewards are read as

- ``single``: member 0 alone (Gao et al. 2023's one proxy);
- an aggregation of the K members from :mod:`rewardlab.robust.aggregate`
  (``mean``; ``wco`` = min; ``uwo`` = mean − λ·Var; Coste et al. 2024), applied
  after :func:`rewardlab.robust.ensemble.center_per_prompt`, which removes
  each member's per-prompt offset (invisible to a Bradley–Terry loss) so that
  min and variance compare members on the same footing.

For each reading, :func:`rewardlab.optimize.bon.best_of_n_curve` gives the
unbiased expected proxy and gold reward of best-of-n over the test pool, and
the same estimator with an attribute column in place of gold gives the
expected attribute of the pick (length, correctness, padding, …).

:data:`BON_AXIS` names the x axis of every best-of-n curve, for its fit and
its plot alike: d = √KL_bon with KL_bon = log n − (n−1)/n (Gao et al. 2023's
axis). The unbiased estimator's gold is that of best-of-n from the policy the
pool was sampled from, and that KL is KL_bon when the policy has no atoms (an
upper bound otherwise; Beirami et al. 2024); the pool's own ``kl_exact`` is the
KL of picking among the N stored candidates, which is not the optimized policy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rewardlab.data.record import Comparison
from rewardlab.features.base import Backbone
from rewardlab.lab.overopt.pools import CandidatePool
from rewardlab.models.reward_model import TrainedRewardModel
from rewardlab.models.training.config import TrainConfig
from rewardlab.models.training.fit import TrainReport, train_reward_model
from rewardlab.optimize.bon import best_of_n_curve
from rewardlab.optimize.pool import group_by_prompt
from rewardlab.robust.aggregate import aggregate, check_params
from rewardlab.robust.ensemble import center_per_prompt

SINGLE = "single"
BON_AXIS = "sqrt_kl"
ProgressCallback = Callable[[int, int], None]


@dataclass
class Proxy:
    """A trained proxy ensemble and what it was trained on."""

    backbone: str
    size: int
    noise: float
    model: TrainedRewardModel
    report: TrainReport

    def train_summary(self) -> dict[str, Any]:
        """Pairs, best epoch and validation accuracy (against noisy labels) per member."""
        history = {row["epoch"]: row for row in self.report.history}
        val_acc = [
            history.get(epoch, {}).get("val_accuracy", [None] * (k + 1))[k]
            for k, epoch in enumerate(self.report.best_epoch)
        ]
        return {
            "train_pairs": self.report.n_train_pairs,
            "val_pairs": self.report.n_val_pairs,
            "best_epoch": self.report.best_epoch,
            "val_accuracy": val_acc,
            "fit_seconds": self.report.fit_seconds,
        }


def train_proxy(
    train: Sequence[Comparison],
    val: Sequence[Comparison],
    backbone: Backbone,
    spec: str,
    size: int,
    noise: float,
    config: TrainConfig,
    encode_progress: ProgressCallback | None = None,
) -> Proxy:
    """Fit one proxy ensemble on ``train`` (already cut to ``size`` and noised);
    ``encode_progress(done, total)`` follows the encoding of its texts."""
    model, report = train_reward_model(list(train), backbone, config, list(val),
                                       encode_progress=encode_progress)
    return Proxy(spec, size, noise, model, report)


def score_pool(
    proxies: Sequence[Proxy],
    backbone: Backbone,
    pool: CandidatePool,
    chunk: int = 4096,
    progress: ProgressCallback | None = None,
) -> list[np.ndarray]:
    """Member rewards (K, N) of every proxy on the pool; features are computed once
    per chunk and shared by all proxies (they must use ``backbone``). ``progress(done,
    N)``: 0 first, then after each chunk."""
    out = [np.empty((p.model.n_members, len(pool)), dtype=np.float64) for p in proxies]
    if progress is not None:
        progress(0, len(pool))
    for start in range(0, len(pool), chunk):
        stop = min(start + chunk, len(pool))
        features = backbone.encode(pool.prompts[start:stop], pool.responses[start:stop])
        for proxy, scores in zip(proxies, out, strict=True):
            scores[:, start:stop] = proxy.model.rewards_from_features(features)
        if progress is not None:
            progress(stop, len(pool))
    return out


def read_rewards(
    member_scores: np.ndarray, prompts: Sequence[str], name: str,
    params: Mapping[str, Any] | None = None,
) -> np.ndarray:
    """One reward per candidate: member 0 for ``single``, else the centred aggregation
    with its ``params`` (its declared defaults for those not given)."""
    if name == SINGLE:
        return np.asarray(member_scores[0], dtype=np.float64)
    centred = center_per_prompt(member_scores, prompts)
    return aggregate(centred, name, **check_params(name, params or {}))


def bon_curves(
    pool: CandidatePool, rewards: np.ndarray, ns: Sequence[int]
) -> list[dict[str, Any]]:
    """Best-of-n curve of ``rewards`` on the pool: proxy, gold, their change from
    n = 1, and the expected value of each attribute of the pick."""
    pools = group_by_prompt(pool.prompts, pool.responses, rewards, gold=pool.gold)
    curve = best_of_n_curve(pools, ns)
    for name, column in pool.attributes.items():
        by_attr = group_by_prompt(pool.prompts, pool.responses, rewards, gold=column)
        for point, attr in zip(curve, best_of_n_curve(by_attr, ns), strict=True):
            point.setdefault("attributes", {})[name] = attr["gold"]
    base = curve[0]
    for point in curve:
        point["gold_delta"] = point["gold"] - base["gold"]
        point["proxy_delta"] = point["proxy"] - base["proxy"]
    return curve


def default_ns(max_n: int) -> list[int]:
    """1, 2, 4, … (powers of two) up to ``max_n``, with ``max_n`` itself last."""
    if max_n < 1:
        raise ValueError(f"field 'ns': the smallest pool has {max_n} candidates")
    ns = [1 << k for k in range(max_n.bit_length()) if 1 << k <= max_n]
    return ns if ns[-1] == max_n else [*ns, max_n]
