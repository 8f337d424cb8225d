"""Datasets for DPO-family and conditional training, built from scored pools.

Every builder takes :class:`~rewardlab.optimize.pool.PromptPool` s (proxy
reward r_i per candidate) and returns a :class:`Built`: rows in TRL's formats,
how many prompts or samples were skipped, and statistics.

- :func:`best_vs_worst` — preference rows ``{prompt, chosen, rejected}`` with
  chosen = argmax r and rejected = argmin r (or a random strictly lower one),
  with the gap r_c − r_r (the on-policy pair recipe of iterative DPO).
- :func:`reward_augmented` — Zhang et al. 2024, "Reward-Augmented Data Enhances
  Direct Preference Alignment of LLMs": each pair (y_w, y_l) becomes two rows
  conditioned on a target score, (x | r_w; y_w ≻ y_l) and (x | r_l; y_l ≻ y_w),
  so the model learns what every quality level looks like.
- :func:`conditional_tags` — Korbak et al. 2023, "Pretraining Language Models
  with Human Preferences" (conditional training): SFT rows whose prompt starts
  with ``<|good|>`` if r ≥ t else ``<|bad|>``; generation is then conditioned
  on ``<|good|>``.
- :func:`preference_degrees` — Li et al. 2024, "Self-supervised Preference
  Optimization: Enhance Your Language Model with Preference Degree Awareness"
  (SPO): pairs of the best candidate with candidates at evenly spaced lower
  ranks, keeping the degree of preference as ``weight`` = r_c − r_r.
- :func:`policy_filtration` — Zhang et al. 2024, "Policy Filtration for RLHF to
  Mitigate Noise in Reward Models" (PF-PPO): keep only samples whose rewards
  are reliable (best-of-N, best + random, best + worst, or the tails outside a
  mid-range quantile band; optionally drop the most uncertain), and report
  R² = corr(r, gold)² on the kept samples against all samples.

Write any of them with :func:`rewardlab.data.io.write_jsonl` (atomic: tmp + ``os.replace``).

Each builder's options as ``rewardlab build`` offers them are declared beside it
(:class:`TagsOptions`, :class:`FiltrationOptions`, :class:`BestWorstOptions`,
:class:`BestRandomOptions`, :class:`RewardAugmentedOptions`, :class:`DegreesOptions`);
the builders' keyword defaults are read from there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rewardlab.optimize.pool import GoldReading, PromptPool
from rewardlab.optimize.rejection import QuantileOptions, Seeded, sft_row
from rewardlab.options import OptionError, option, redefault

FILTRATION_STRATEGIES = ("best", "best-random", "best-worst", "tails")
DEFAULT_TEMPLATE = "Generate a response of score {score}:\n\n{prompt}"


@dataclass(frozen=True)
class BestWorstOptions:
    """``best-worst``: the best candidate against the worst (no option)."""


@dataclass(frozen=True)
class BestRandomOptions(Seeded):
    """``best-random``: the best candidate against a random strictly lower one."""


@dataclass(frozen=True)
class RewardAugmentedOptions:
    """``reward-augmented``: each pair twice, conditioned on each side's score."""

    template: str = option(DEFAULT_TEMPLATE, "The conditioned prompt: holds {score} and "
                           "{prompt} and no other placeholder ({{ and }} write braces).")

    def __post_init__(self) -> None:
        try:
            check_template(self.template)
        except ValueError as err:
            raise OptionError(str(err).replace("field 'template'", "--template", 1)) from None


@dataclass(frozen=True)
class DegreesOptions:
    """``degrees`` (SPO): the best candidate against evenly spaced lower ranks."""

    pairs_per_prompt: int = option(
        3, "Pairs kept per prompt from its scored pool (not train's --pairs-per-instruction, "
        "which samples AlpacaEval pairs when reading data).", min=1)


@dataclass(frozen=True)
class TagsOptions:
    """``tags``: every candidate, its prompt tagged good or bad at a reward cut."""

    threshold: float | None = option(None, "The reward cut t (default: the --quantile of "
                                     "every reward in the pool).")
    quantile: float = redefault(QuantileOptions, "quantile", QuantileOptions.quantile)

    def unread(self) -> dict[str, str]:
        """Options these values leave unread: a given threshold makes the quantile moot."""
        return {"quantile": "--threshold is given"} if self.threshold is not None else {}


@dataclass(frozen=True)
class FiltrationOptions(Seeded, GoldReading):
    """``filtration`` (PF-PPO): the samples whose rewards are reliable; with a gold column,
    the R² of reward against gold on the kept samples and on all."""

    strategy: str = option("best-worst", "Samples kept per prompt: best | best-random | "
                           "best-worst | tails.", choices=lambda: FILTRATION_STRATEGIES,
                           kind="strategy")

    def unread(self) -> dict[str, str]:
        """Only ``best-random`` draws at random."""
        return {} if self.strategy == "best-random" else {
            "seed": f"--strategy {self.strategy} draws nothing at random"}


@dataclass(frozen=True)
class Built:
    """Rows of a built dataset, the count of what was left out, and statistics."""

    rows: list[dict[str, Any]]
    skipped: int = 0
    stats: dict[str, float] = field(default_factory=dict)


def _pair_row(pool: PromptPool, chosen: int, rejected: int, prompt: str | None = None) -> dict:
    return {
        "prompt": pool.prompt if prompt is None else prompt,
        "chosen": pool.responses[chosen],
        "rejected": pool.responses[rejected],
        "chosen_score": float(pool.scores[chosen]),
        "rejected_score": float(pool.scores[rejected]),
        "gap": float(pool.scores[chosen] - pool.scores[rejected]),
    }


def _best_and_lower(
    pool: PromptPool, rejected: str, rng: np.random.Generator
) -> tuple[int, int] | None:
    """(best, rejected) indices, or None when no candidate is strictly below the best."""
    scores = pool.scores
    best = int(np.argmax(scores))
    lower = np.flatnonzero(scores < scores[best])
    if lower.size == 0:
        return None
    if rejected == "worst":
        return best, int(np.argmin(scores))
    return best, int(rng.choice(lower))


def best_vs_worst(
    pools: Sequence[PromptPool], *, rejected: str = "worst", seed: int = Seeded.seed
) -> Built:
    """One pair per prompt: the best candidate against the worst (``rejected="worst"``)
    or a uniformly random strictly lower one (``"random"``). Prompts whose
    candidates all tie are skipped and counted."""
    if rejected not in ("worst", "random"):
        raise ValueError(f"field 'rejected': must be 'worst' or 'random', got {rejected!r}")
    rng = np.random.default_rng(seed)
    rows, skipped = [], 0
    for pool in pools:
        pair = _best_and_lower(pool, rejected, rng)
        if pair is None:
            skipped += 1
            continue
        rows.append(_pair_row(pool, *pair))
    return Built(rows, skipped)


TEMPLATE_FIELDS = ("score", "prompt")


def check_template(template: str) -> None:
    """A reward-augmented template holds ``{score}`` and ``{prompt}`` and no other
    placeholder: no attribute or index (``{prompt.__class__}``), no conversion or format
    spec (``{prompt:>999999999}``), no positional ``{}``; ``{{``/``}}`` write braces.
    Raises ``ValueError`` naming the field ``template``."""
    import string

    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as err:
        raise ValueError(f"field 'template': {err} (write a brace as {{{{ or }}}})") from None
    seen = set()
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        shown = "{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
        if name not in TEMPLATE_FIELDS or spec or conversion:
            raise ValueError(
                f"field 'template': {shown} is not a placeholder; it may hold {{score}} and "
                "{prompt} only (write a brace as {{ or }})"
            )
        seen.add(name)
    if seen != set(TEMPLATE_FIELDS):
        raise ValueError("field 'template': must contain both '{score}' and '{prompt}'")


def reward_augmented(
    pools: Sequence[PromptPool],
    *,
    template: str = RewardAugmentedOptions.template,
    digits: int = 2,
    rejected: str = "worst",
    seed: int = Seeded.seed,
) -> Built:
    """Two rows per best-vs-rejected pair, each conditioned on a target score:
    the prompt rendered with r_w and the pair as is, and the prompt rendered
    with r_l and the pair swapped. Scores are rounded to ``digits``."""
    check_template(template)
    base = best_vs_worst(pools, rejected=rejected, seed=seed)
    rows = []
    for row in base.rows:
        high, low = round(row["chosen_score"], digits), round(row["rejected_score"], digits)
        rows.append({**row, "prompt": template.format(score=high, prompt=row["prompt"])})
        rows.append(
            {
                **row,
                "prompt": template.format(score=low, prompt=row["prompt"]),
                "chosen": row["rejected"],
                "rejected": row["chosen"],
                "chosen_score": row["rejected_score"],
                "rejected_score": row["chosen_score"],
                "gap": -row["gap"],
            }
        )
    return Built(rows, base.skipped)


def conditional_tags(
    pools: Sequence[PromptPool],
    *,
    threshold: float | None = TagsOptions.threshold,
    quantile: float = TagsOptions.quantile,
    good: str = "<|good|>",
    bad: str = "<|bad|>",
) -> Built:
    """An SFT row per candidate, its prompt prefixed by ``good`` if r ≥ t else ``bad``.

    t is ``threshold`` when given, else the ``quantile`` of all rewards in the
    pools. ``stats`` holds the threshold and the fraction tagged good.
    """
    all_scores = np.concatenate([pool.scores for pool in pools])
    if threshold is None:
        if not 0.0 <= quantile <= 1.0:
            raise ValueError(f"field 'quantile': must be in [0, 1], got {quantile}")
        threshold = float(np.quantile(all_scores, quantile))
    rows = []
    for pool in pools:
        for response, score in zip(pool.responses, pool.scores, strict=True):
            tag = good if score >= threshold else bad
            rows.append(sft_row(tag + pool.prompt, response, reward=float(score), tag=tag))
    good_fraction = float(np.mean(all_scores >= threshold))
    return Built(rows, 0, {"threshold": float(threshold), "good_fraction": good_fraction})


def preference_degrees(
    pools: Sequence[PromptPool], *, pairs_per_prompt: int = DegreesOptions.pairs_per_prompt
) -> Built:
    """Pairs of the best candidate with candidates at evenly spaced lower ranks
    (down to the worst), each with ``weight`` = r_chosen − r_rejected. Pairs
    with a zero gap are skipped and counted."""
    if pairs_per_prompt < 1:
        raise ValueError(f"field 'pairs_per_prompt': must be at least 1, got {pairs_per_prompt}")
    rows, skipped = [], 0
    for pool in pools:
        ranked = np.argsort(-pool.scores, kind="stable")
        if len(ranked) < 2:
            skipped += 1
            continue
        positions = np.unique(np.linspace(1, len(ranked) - 1, pairs_per_prompt).round().astype(int))
        for pos in positions:
            row = _pair_row(pool, int(ranked[0]), int(ranked[pos]))
            if row["gap"] <= 0:
                skipped += 1
                continue
            row["weight"] = row["gap"]
            rows.append(row)
    return Built(rows, skipped)


def r_squared(rewards: np.ndarray, gold: np.ndarray) -> float:
    """Coefficient of determination of the least-squares line gold ~ reward,
    i.e. Pearson corr(reward, gold)²; NaN when either side is constant."""
    rewards, gold = np.asarray(rewards, dtype=np.float64), np.asarray(gold, dtype=np.float64)
    r_c, g_c = rewards - rewards.mean(), gold - gold.mean()
    denom = float((r_c @ r_c) * (g_c @ g_c))
    return float((r_c @ g_c) ** 2 / denom) if denom > 0 else float("nan")


def _filtration_keep(
    scores: np.ndarray, strategy: str, band: tuple[float, float], rng: np.random.Generator
) -> np.ndarray:
    best, worst = int(np.argmax(scores)), int(np.argmin(scores))
    if strategy == "best":
        return np.array([best])
    if strategy == "best-worst":
        return np.unique([best, worst])
    if strategy == "best-random":
        others = np.delete(np.arange(len(scores)), best)
        return np.array([best] if others.size == 0 else [best, int(rng.choice(others))])
    low, high = np.quantile(scores, band)
    return np.flatnonzero((scores <= low) | (scores >= high))


def policy_filtration(
    pools: Sequence[PromptPool],
    *,
    strategy: str = FiltrationOptions.strategy,
    band: tuple[float, float] = (0.25, 0.75),
    max_spread_quantile: float | None = None,
    seed: int = FiltrationOptions.seed,
) -> Built:
    """Keep the samples whose rewards are reliable (PF-PPO) as prompt-completion rows.

    Per prompt, ``strategy`` keeps ``best`` (best-of-N), ``best-random``,
    ``best-worst``, or ``tails``: rewards at or below the ``band[0]`` quantile or
    at or above the ``band[1]`` quantile (the mid-range is dropped). With
    ``max_spread_quantile`` q, samples whose spread exceeds the q-quantile of
    all spreads are dropped too (the pools must carry a spread). Rows carry
    ``reward`` (and ``gold``, ``spread`` when known); ``skipped`` counts dropped
    samples; ``stats`` has ``kept``, ``total`` and, with gold, ``r2_kept`` and
    ``r2_all``.
    """
    if strategy not in FILTRATION_STRATEGIES:
        raise ValueError(
            f"field 'strategy': {strategy!r} is not one of {', '.join(FILTRATION_STRATEGIES)}"
        )
    if not 0.0 <= band[0] <= band[1] <= 1.0:
        raise ValueError(f"field 'band': need 0 <= low <= high <= 1, got {band}")
    spread_cut = None
    if max_spread_quantile is not None:
        if any(pool.spread is None for pool in pools):
            raise ValueError("field 'spread': max_spread_quantile needs a spread for every pool")
        spreads = np.concatenate([pool.spread for pool in pools])
        spread_cut = float(np.quantile(spreads, max_spread_quantile))
    with_gold = all(pool.gold is not None for pool in pools)
    rng = np.random.default_rng(seed)
    rows, kept_r, kept_g, all_r, all_g = [], [], [], [], []
    for pool in pools:
        keep = _filtration_keep(pool.scores, strategy, band, rng)
        if spread_cut is not None:
            keep = keep[pool.spread[keep] <= spread_cut]
        for i in keep:
            extra: dict[str, Any] = {"reward": float(pool.scores[i])}
            if pool.gold is not None:
                extra["gold"] = float(pool.gold[i])
            if pool.spread is not None:
                extra["spread"] = float(pool.spread[i])
            rows.append(sft_row(pool.prompt, pool.responses[i], **extra))
        all_r.append(pool.scores)
        kept_r.append(pool.scores[keep])
        if with_gold:
            all_g.append(pool.gold)
            kept_g.append(pool.gold[keep])
    total = sum(len(pool) for pool in pools)
    stats = {"kept": float(len(rows)), "total": float(total)}
    if with_gold:
        stats["r2_kept"] = r_squared(np.concatenate(kept_r), np.concatenate(kept_g))
        stats["r2_all"] = r_squared(np.concatenate(all_r), np.concatenate(all_g))
    return Built(rows, total - len(rows), stats)
