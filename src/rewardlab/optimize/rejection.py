"""Rejection sampling into SFT datasets, and curated self-consumption rounds.

Rejection sampling fine-tuning keeps, per prompt, the candidates a reward
model ranks best and fine-tunes on them: RAFT (Dong et al. 2023, "RAFT: Reward
rAnked FineTuning for Generative Foundation Model Alignment") keeps the top-1
of K samples; SuperHF (Mukobi et al. 2023, "SuperHF: Supervised Iterative
Learning from Human Feedback") the same inside an iterative loop; Llama 2's
rejection sampling keeps the best of K. Selection methods, per prompt:

- ``top1``: argmax_i r_i;
- ``topk``: the k highest rewards;
- ``quantile``: every candidate with r_i ≥ q-quantile of that prompt's rewards;
- ``sample``: one candidate drawn with the Bradley–Terry (softmax) choice
  probability P(i) = exp(r_i / T) / Σ_j exp(r_j / T), the curation model of
  Ferbach et al. 2024 ("Self-Consuming Generative Models with Curated Data
  Provably Optimize Human Preferences").

Ties are broken by the pool's order (stable sort). Rows are in TRL's SFT
formats: prompt-completion ``{"prompt", "completion"}`` or conversational
``{"messages": [{"role": "user", …}, {"role": "assistant", …}]}``, each with
the ``reward`` of the kept candidate.

Each selection method declares the options it reads (:class:`Top1Options`,
:class:`TopkOptions`, :class:`QuantileOptions`, :class:`SampleOptions`; the
``rewardlab build sft`` flags are made from them), each option defined once:
the row format in :class:`RowFormat`, the seed of a random draw in
:class:`Seeded`.

Curated self-consumption (Ferbach et al. 2024): at round r the model is
retrained on a mixture of curated samples of its own generations and the
original data, with a fraction λ of original data, which keeps retraining
stable. :func:`curated_round` builds round r's dataset: curated rows from the
pool plus m = round(λ / (1 − λ) · n_curated) original rows drawn without
replacement, shuffled; the randomness is seeded by (seed, r).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rewardlab.models.training.config import SEED_MAX
from rewardlab.optimize.pool import PromptPool
from rewardlab.options import check, option, redefault

METHODS = ("top1", "topk", "quantile", "sample")


@dataclass(frozen=True)
class RowFormat:
    """How an SFT row is written."""

    conversational: bool = option(False, "Write TRL's conversational rows {messages} instead "
                                  "of {prompt, completion}.")


@dataclass(frozen=True)
class Seeded:
    """A method that draws at random."""

    seed: int = option(0, "Seed of the method's random draws.", min=0, max=SEED_MAX)


@dataclass(frozen=True)
class Top1Options(RowFormat):
    """``top1`` (RAFT): the best candidate of each prompt."""


@dataclass(frozen=True)
class TopkOptions(RowFormat):
    """``topk``: the k best candidates of each prompt."""

    k: int = option(4, "Candidates kept per prompt.", min=1)


@dataclass(frozen=True)
class QuantileOptions(RowFormat):
    """``quantile``: every candidate at or above its prompt's reward quantile."""

    quantile: float = option(0.9, "Reward quantile a kept candidate reaches: per prompt "
                             "(quantile), over the whole pool when no --threshold (tags).",
                             min=0.0, max=1.0)


@dataclass(frozen=True)
class SampleOptions(RowFormat, Seeded):
    """``sample``: one candidate per prompt drawn with the softmax choice P(i) ∝ exp(r_i/T)."""

    temperature: float = option(1.0, "Softmax temperature T of the draw.", min=0.0,
                                open_min=True)


@dataclass(frozen=True)
class RejectionConfig:
    """How to pick candidates per prompt: ``method`` (``top1`` = RAFT, ``topk``,
    ``quantile`` or ``sample`` = BT choice) and the options of every method (each
    field as its method declares it)."""

    method: str = "top1"
    k: int = redefault(TopkOptions, "k", TopkOptions.k)
    quantile: float = redefault(QuantileOptions, "quantile", QuantileOptions.quantile)
    temperature: float = redefault(SampleOptions, "temperature", SampleOptions.temperature)
    conversational: bool = redefault(RowFormat, "conversational", RowFormat.conversational)
    seed: int = redefault(Seeded, "seed", Seeded.seed)

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"field 'method': {self.method!r} is not one of {', '.join(METHODS)}")
        check(self, names=lambda field: f"field {field.name!r}")


def select(scores: np.ndarray, config: RejectionConfig, rng: np.random.Generator) -> np.ndarray:
    """Indices of the kept candidates of one prompt, best first."""
    scores = np.asarray(scores, dtype=np.float64)
    ranked = np.argsort(-scores, kind="stable")
    if config.method == "top1":
        return ranked[:1]
    if config.method == "topk":
        return ranked[: config.k]
    if config.method == "quantile":
        cut = np.quantile(scores, config.quantile)
        return ranked[scores[ranked] >= cut]
    logits = (scores - scores.max()) / config.temperature
    probs = np.exp(logits) / np.exp(logits).sum()
    return np.array([rng.choice(len(scores), p=probs)])


def sft_row(
    prompt: str, completion: str, *, conversational: bool = False, **extra: Any
) -> dict[str, Any]:
    """One SFT row in TRL's prompt-completion or conversational format, plus ``extra`` columns."""
    if conversational:
        row: dict[str, Any] = {
            "messages": [
                {"role": "user", "content": prompt},
                {"role": "assistant", "content": completion},
            ]
        }
    else:
        row = {"prompt": prompt, "completion": completion}
    row.update(extra)
    return row


def _curate(
    pools: Sequence[PromptPool], config: RejectionConfig, rng: np.random.Generator
) -> list[dict[str, Any]]:
    rows = []
    for pool in pools:
        for i in select(pool.scores, config, rng):
            rows.append(
                sft_row(
                    pool.prompt,
                    pool.responses[i],
                    conversational=config.conversational,
                    reward=float(pool.scores[i]),
                )
            )
    return rows


def rejection_sample(
    pools: Sequence[PromptPool], config: RejectionConfig | None = None
) -> list[dict[str, Any]]:
    """SFT rows of the kept candidates of every pool (prompts in pool order)."""
    config = config or RejectionConfig()
    return _curate(pools, config, np.random.default_rng(config.seed))


def curated_round(
    pools: Sequence[PromptPool],
    original: Sequence[Mapping[str, Any]],
    round_index: int,
    *,
    fraction_original: float = 0.5,
    config: RejectionConfig | None = None,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Round ``round_index``'s retraining set: curated pool rows mixed with original rows.

    ``original`` holds rows in the same SFT format. The result has a fraction
    ``fraction_original`` (λ) of original rows: m = round(λ/(1−λ) · n_curated);
    every row gets ``origin`` = ``"curated"`` or ``"original"``. Deterministic
    given (``seed``, ``round_index``); the config's own seed is not used.
    """
    config = config or RejectionConfig()
    if not 0.0 <= fraction_original < 1.0:
        raise ValueError(f"field 'fraction_original': must be in [0, 1), got {fraction_original}")
    if round_index < 0:
        raise ValueError(f"field 'round_index': must be >= 0, got {round_index}")
    rng = np.random.default_rng([seed, round_index])
    curated = [{**row, "origin": "curated"} for row in _curate(pools, config, rng)]
    wanted = round(fraction_original / (1.0 - fraction_original) * len(curated))
    if wanted > len(original):
        raise ValueError(
            f"field 'original': {wanted} original rows are needed for fraction_original="
            f"{fraction_original} with {len(curated)} curated rows, but only {len(original)} given"
        )
    picked = rng.choice(len(original), size=wanted, replace=False) if wanted else []
    mixed = curated + [{**original[i], "origin": "original"} for i in picked]
    return [mixed[i] for i in rng.permutation(len(mixed))]
