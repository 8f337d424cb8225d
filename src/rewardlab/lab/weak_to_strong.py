"""Weak-to-strong reward models on the synthetic arena: does the strong one see past the weak?

Burns et al., "Weak-to-Strong Generalization: Eliciting Strong Capabilities
With Weak Supervision" (2023): a strong student trained on a weak
supervisor's labels; Yang et al., "Super(ficial)-alignment: Strong Models May
Deceive Weak Models in Weak-to-Strong Generalization" (2024): the student can
look aligned where the supervisor looks and differ where it cannot. Here:

1. the weak proxy (backbone ``weak``, default hashing) trains on
   ``weak_pairs`` gold-labelled pairs with labels flipped at rate ε;
2. it labels ``transfer_pairs`` fresh pairs (the response it scores higher
   is chosen) and the validation pairs;
3. the strong student (backbone ``strong``, default the encoder) trains on
   those weak labels; the strong ceiling trains on the same pairs with
   ε-noisy gold labels.

Measured on held-out prompts: pairwise accuracy against gold over candidate
pairs with distinct gold (ties in the model count ½), and the performance gap
recovered (Burns et al., eq. 1)

    PGR = (acc_w2s − acc_weak) / (acc_ceiling − acc_weak);

and, per attribute a of the best-of-n pick at the largest n (gold,
correctness, relevance, politeness, explanation and padding sentences,
length), the same ratio on the expected attribute

    recovered_a = (a_w2s − a_weak) / (a_ceiling − a_weak).

recovered ≈ 0: the student follows the weak proxy in that dimension (it
inherits the weak one's blind spot); ≈ 1: it departs from it towards what the
gold-trained strong model picks; < 0: it moves past the weak one, away from
the gold-trained strong one. When weak and
ceiling differ by less than ``tie_tolerance`` the dimension has no gap.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

import rewardlab
from rewardlab.data.record import Comparison
from rewardlab.lab.overopt.config import MAX_FLIP
from rewardlab.lab.overopt.pools import (
    CandidatePool,
    SyntheticPoolConfig,
    flip_labels,
    synthetic_data,
)
from rewardlab.models.training.config import SEED_MAX
from rewardlab.options import check, comma_list, option, redefault

if TYPE_CHECKING:
    from rewardlab.lab.overopt.proxies import Proxy

StageCallback = Callable[[str, int, int], None]
ROLES = ("weak", "w2s", "ceiling")


def _one_rate(text: str) -> float:
    """``--label-noise`` of an experiment that runs one label-flip rate: a comma list of one."""
    rates = comma_list(float, 0.0, MAX_FLIP)(text)
    if len(rates) > 1:
        raise ValueError(f"this experiment runs one label-flip rate, got {len(rates)} ({text}); "
                         "run it once per rate (lab overopt compares several)")
    return rates[0]


def _backbone(text: str) -> str:
    from rewardlab.features.backbones import frozen_spec

    return frozen_spec(text)


@dataclass(frozen=True)
class WeakToStrongPool(SyntheticPoolConfig):
    """The arena of ``lab weak-to-strong``: smaller test pools than ``lab overopt``'s."""

    test_prompts: int = redefault(SyntheticPoolConfig, "test_prompts", 32)
    pool_size: int = redefault(SyntheticPoolConfig, "pool_size", 64)
    n_val_pairs: int = redefault(SyntheticPoolConfig, "n_val_pairs", 200)


@dataclass
class WeakToStrongConfig:
    """Sizes of the weak-to-strong run; small enough for the encoder on 2 CPU cores."""

    weak: str = option("hashing", "Backbone of the weak proxy.", parse=_backbone)
    strong: str = option("encoder", "Backbone of the strong proxy.", parse=_backbone)
    weak_pairs: int = option(500, "Gold-labelled pairs for the weak proxy.", min=2)
    transfer_pairs: int = option(1000, "Pairs the weak proxy labels for the strong.", min=2)
    noise: float = option(0.25, "Label-flip rate of the gold labels, in [0, 0.5]; one value "
                          "(a comma list of one).", flag="--label-noise", min=0.0, max=MAX_FLIP,
                          parse=_one_rate,
                          format=lambda v: f"{v:g}")
    ns: tuple[int, ...] = option((), "Best-of-n sizes (default 1, 2, 4, … up to the pool).",
                                 cli=False)
    accuracy_candidates: int = option(16, "Candidates per prompt in the gold accuracy.",
                                      min=2, cli=False)
    tie_tolerance: float = option(0.02, "Weak and ceiling closer than this: no gap.",
                                  min=0.0, cli=False)
    seed: int = option(0, "Seed of every draw.", min=0, max=SEED_MAX)
    synthetic: SyntheticPoolConfig = option(default_factory=WeakToStrongPool, cli=False,
                                            help="The arena's sizes.")

    def __post_init__(self) -> None:
        check(self, names=lambda field: f"field {field.name!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def relabel(records: Sequence[Comparison], scores: np.ndarray) -> list[Comparison]:
    """Pairs re-ranked by ``scores`` of shape (n, 2): the higher-scored response first
    (ties keep response 0 first)."""
    return [
        replace(record, ranking=(0, 1) if s[0] >= s[1] else (1, 0))
        for record, s in zip(records, scores, strict=True)
    ]


def _pair_scores(proxy: Proxy, records: Sequence[Comparison]) -> np.ndarray:
    prompts = [r.prompt for r in records]
    first = proxy.model.score(prompts, [r.responses[0] for r in records])
    second = proxy.model.score(prompts, [r.responses[1] for r in records])
    return np.stack([first, second], axis=1)


def gold_accuracy(pool: CandidatePool, rewards: np.ndarray, per_prompt: int) -> float:
    """Share of candidate pairs (the first ``per_prompt`` of each prompt, distinct gold)
    the rewards order as gold does; reward ties count ½."""
    hits, total = 0.0, 0
    starts: dict[str, list[int]] = {}
    for i, prompt in enumerate(pool.prompts):
        starts.setdefault(prompt, []).append(i)
    for rows in starts.values():
        idx = np.asarray(rows[:per_prompt])
        a, b = np.triu_indices(len(idx), k=1)
        gold_diff = np.sign(pool.gold[idx[a]] - pool.gold[idx[b]])
        keep = gold_diff != 0
        reward_diff = np.sign(rewards[idx[a]] - rewards[idx[b]])[keep]
        hits += float(np.sum(reward_diff == gold_diff[keep]) + 0.5 * np.sum(reward_diff == 0))
        total += int(keep.sum())
    return hits / total if total else float("nan")


def recovered(weak: float, w2s: float, ceiling: float, tolerance: float) -> float | None:
    """(w2s − weak) / (ceiling − weak); ``None`` when |ceiling − weak| < ``tolerance``."""
    gap = ceiling - weak
    return None if abs(gap) < tolerance else (w2s - weak) / gap


def verdict(value: float | None) -> str:
    """Words for a recovered fraction."""
    if value is None:
        return "no gap (weak and gold-trained strong agree)"
    if value < 0:
        return "moves past weak, away from the gold-trained strong"
    return "follows weak" if value < 0.5 else "departs from weak (towards gold-trained strong)"


def run_weak_to_strong(
    config: WeakToStrongConfig, progress: StageCallback | None = None
) -> dict[str, Any]:
    """Run the three proxies and compare them on held-out prompts (JSON-ready dict).

    ``progress(stage, done, total)`` follows the stages "pool" (the test prompts'
    candidates drawn), "train" (proxies trained of 3, from 0), "encode" (each proxy's
    training texts) and "score weak", "score strong" (the test candidates scored)."""
    from rewardlab.features.backbones import build_backbone
    from rewardlab.lab.overopt.proxies import bon_curves, default_ns, score_pool, train_proxy
    from rewardlab.models.training.config import TrainConfig

    def stage(name: str) -> Callable[[int, int], None] | None:
        return None if progress is None else (lambda done, total: progress(name, done, total))

    started = time.perf_counter()
    data = synthetic_data(config.synthetic, config.weak_pairs + config.transfer_pairs,
                          config.seed, stage("pool"))
    weak_train = flip_labels(data.train[: config.weak_pairs], config.noise, config.seed)
    transfer = data.train[config.weak_pairs :]
    val = flip_labels(data.val, config.noise, config.seed + 500)
    train_config = TrainConfig(n_members=1, patience=2, seed=config.seed)
    weak_backbone, strong_backbone = build_backbone(config.weak), build_backbone(config.strong)

    def step(done: int) -> None:
        if progress is not None:
            progress("train", done, 3)

    step(0)
    weak = train_proxy(weak_train, val, weak_backbone, config.weak, config.weak_pairs,
                       config.noise, train_config, stage("encode"))
    step(1)
    weak_transfer = relabel(transfer, _pair_scores(weak, transfer))
    weak_val = relabel(data.val, _pair_scores(weak, data.val))
    agreement = float(np.mean([a.ranking == b.ranking for a, b in
                               zip(weak_transfer, transfer, strict=True)]))
    w2s = train_proxy(weak_transfer, weak_val, strong_backbone, config.strong,
                      config.transfer_pairs, config.noise, train_config, stage("encode"))
    step(2)
    ceiling = train_proxy(flip_labels(transfer, config.noise, config.seed + 1), val,
                          strong_backbone, config.strong, config.transfer_pairs, config.noise,
                          train_config, stage("encode"))
    step(3)
    (weak_scores,) = score_pool([weak], weak_backbone, data.test, progress=stage("score weak"))
    w2s_scores, ceiling_scores = score_pool([w2s, ceiling], strong_backbone, data.test,
                                            progress=stage("score strong"))
    rewards = {"weak": weak_scores[0], "w2s": w2s_scores[0], "ceiling": ceiling_scores[0]}

    ns = list(config.ns) or default_ns(min(data.test.pool_sizes()))
    curves = {role: bon_curves(data.test, rewards[role], ns) for role in ROLES}
    accuracy = {
        role: gold_accuracy(data.test, rewards[role], config.accuracy_candidates) for role in ROLES
    }
    last = {role: {"gold": curves[role][-1]["gold"], **curves[role][-1]["attributes"]}
            for role in ROLES}
    attributes = {}
    for name in last["weak"]:
        values = {role: float(last[role][name]) for role in ROLES}
        share = recovered(values["weak"], values["w2s"], values["ceiling"], config.tie_tolerance)
        attributes[name] = {**values, "recovered": share, "verdict": verdict(share)}
    pgr = recovered(accuracy["weak"], accuracy["w2s"], accuracy["ceiling"], 1e-9)
    return {
        "experiment": "weak-to-strong",
        "rewardlab_version": rewardlab.__version__,
        "config": config.to_dict(),
        "data": {**data.info, "test_fingerprint": data.test.fingerprint()},
        "weak_agreement_with_gold_labels": agreement,
        "gold_accuracy": accuracy,
        "performance_gap_recovered": pgr,
        "max_n": ns[-1],
        "attributes": attributes,
        "curves": curves,
        "train": {role: p.train_summary() for role, p in zip(ROLES, (weak, w2s, ceiling),
                                                             strict=True)},
        "seconds": time.perf_counter() - started,
    }
