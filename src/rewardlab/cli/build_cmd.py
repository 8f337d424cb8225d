"""``rewardlab build sft|pairs``: training datasets from a scored candidate pool.

``build sft`` writes TRL SFT rows: rejection sampling (``top1`` = RAFT,
``topk``, ``quantile``, ``sample`` = Bradley–Terry choice), conditional-training
``tags`` (Korbak et al. 2023) or PF-PPO ``filtration`` (Zhang et al. 2024).
``build pairs`` writes TRL preference rows: ``best-worst``, ``best-random``,
``reward-augmented`` (Zhang et al. 2024) or SPO ``degrees`` (Li et al. 2024).
Candidates are scored with ``--model``, ``--rewards`` (a verifier or recipe
against each row's reference column) or ``--scores-column``
(:func:`rewardlab.cli.bon_cmd.load_pools`). The formulas live in
:mod:`rewardlab.optimize.rejection` and :mod:`rewardlab.optimize.pairs`; output
is written atomically.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import typer

from rewardlab.cli.bon_cmd import BON_MODEL_HELP, POOL_REWARDS_HELP, load_pools
from rewardlab.cli.common import console, user_errors
from rewardlab.cli.model_options import ModelLoading, model_option, with_model_loading
from rewardlab.cli.rewards_option import reference_column_option, rewards_option
from rewardlab.data.io import write_jsonl
from rewardlab.optimize.pairs import (
    Built,
    best_vs_worst,
    conditional_tags,
    policy_filtration,
    preference_degrees,
    reward_augmented,
)
from rewardlab.optimize.pool import PromptPool
from rewardlab.optimize.rejection import RejectionConfig, rejection_sample
from rewardlab.registry import Registry


@dataclass(frozen=True)
class PoolSource:
    """Where a pool's rewards come from: exactly one of ``model``, ``scores_column`` and
    ``rewards`` (references from ``reference_column``); ``gold_column`` is optional."""

    model: str | None = None
    scores_column: str | None = None
    rewards: str | None = None
    reference_column: str | None = None
    gold_column: str | None = None


@dataclass(frozen=True)
class BuildOptions:
    """The knobs the build methods share (each method reads the ones it needs)."""

    k: int = 4
    quantile: float = 0.9
    threshold: float | None = None
    temperature: float = 1.0
    strategy: str = "best-worst"
    pairs_per_prompt: int = 3
    template: str = "Generate a response of score {score}:\n\n{prompt}"
    conversational: bool = False
    seed: int = 0


Builder = Callable[[Sequence[PromptPool], BuildOptions], Built]
SFT_METHODS: Registry[Builder] = Registry("sft method")
PAIR_METHODS: Registry[Builder] = Registry("pairs method")


def _rejection(method: str) -> Builder:
    def build(pools: Sequence[PromptPool], opts: BuildOptions) -> Built:
        config = RejectionConfig(
            method=method,
            k=opts.k,
            quantile=opts.quantile,
            temperature=opts.temperature,
            conversational=opts.conversational,
            seed=opts.seed,
        )
        return Built(rejection_sample(pools, config))

    return build


for _method in ("top1", "topk", "quantile", "sample"):
    SFT_METHODS.add(_method, _rejection(_method))
SFT_METHODS.add(
    "tags",
    lambda pools, o: conditional_tags(pools, threshold=o.threshold, quantile=o.quantile),
)
SFT_METHODS.add(
    "filtration",
    lambda pools, o: policy_filtration(pools, strategy=o.strategy, seed=o.seed),
)
PAIR_METHODS.add("best-worst", lambda pools, o: best_vs_worst(pools, rejected="worst", seed=o.seed))
PAIR_METHODS.add(
    "best-random", lambda pools, o: best_vs_worst(pools, rejected="random", seed=o.seed)
)
PAIR_METHODS.add(
    "reward-augmented",
    lambda pools, o: reward_augmented(pools, template=o.template, seed=o.seed),
)
PAIR_METHODS.add(
    "degrees", lambda pools, o: preference_degrees(pools, pairs_per_prompt=o.pairs_per_prompt)
)

build_app = typer.Typer(
    help="Build SFT or preference datasets from a scored candidate pool.",
    no_args_is_help=True,
)


def _run(
    registry: Registry[Builder],
    method: str,
    candidates: Path,
    out: Path,
    source: PoolSource,
    opts: BuildOptions,
    loading: ModelLoading,
) -> None:
    with user_errors():
        if method not in registry:
            for command, known in (("sft", SFT_METHODS), ("pairs", PAIR_METHODS)):
                if method in known:
                    raise ValueError(f"--method {method!r} belongs to `rewardlab build {command}`")
        builder = registry.get(method)
        pools = load_pools(
            candidates, source.model, source.scores_column, source.gold_column,
            loading=loading, rewards=source.rewards, reference_column=source.reference_column,
        )
        built = builder(pools, opts)
        count = write_jsonl(out, built.rows)
    stats = "".join(f", {key} {value:.4g}" for key, value in built.stats.items())
    console.print(f"wrote {count} rows to {out} ({built.skipped} skipped{stats})")


@build_app.command("sft")
@with_model_loading
def build_sft(
    method: str = typer.Option(
        "top1", "--method", help="top1 | topk | quantile | sample | tags | filtration"
    ),
    candidates: Path = typer.Option(..., "--candidates", help="pool JSONL: {prompt, response, …}"),
    out: Path = typer.Option(..., "--out", help="JSONL file to write"),
    model: str | None = model_option(required=False, help=BON_MODEL_HELP),
    scores_column: str | None = typer.Option(None, "--scores-column", help="precomputed scores"),
    rewards: str | None = rewards_option(POOL_REWARDS_HELP),
    reference_column: str | None = reference_column_option(),
    gold_column: str | None = typer.Option(
        None, "--gold-column", help="gold scores (filtration R²)"
    ),
    k: int = typer.Option(4, "--k", min=1, help="topk: candidates kept per prompt"),
    quantile: float = typer.Option(
        0.9, "--quantile", min=0.0, max=1.0, help="quantile: per-prompt cut; tags: global cut when no --threshold"
    ),
    threshold: float | None = typer.Option(None, "--threshold", help="tags: reward cut"),
    temperature: float = typer.Option(1.0, "--temperature", help="sample: softmax temperature"),
    strategy: str = typer.Option(
        "best-worst", "--strategy", help="filtration: best | best-random | best-worst | tails"
    ),
    conversational: bool = typer.Option(False, "--conversational", help="write messages rows"),
    seed: int = typer.Option(0, "--seed"),
    loading: ModelLoading = None,
) -> None:
    """SFT rows: rejection sampling, conditional-training tags or policy filtration."""
    opts = BuildOptions(
        k=k,
        quantile=quantile,
        threshold=threshold,
        temperature=temperature,
        strategy=strategy,
        conversational=conversational,
        seed=seed,
    )
    source = PoolSource(model, scores_column, rewards, reference_column, gold_column)
    _run(SFT_METHODS, method, candidates, out, source, opts, loading)


@build_app.command("pairs")
@with_model_loading
def build_pairs(
    method: str = typer.Option(
        "best-worst", "--method", help="best-worst | best-random | reward-augmented | degrees"
    ),
    candidates: Path = typer.Option(..., "--candidates", help="pool JSONL: {prompt, response, …}"),
    out: Path = typer.Option(..., "--out", help="JSONL file to write"),
    model: str | None = model_option(required=False, help=BON_MODEL_HELP),
    scores_column: str | None = typer.Option(None, "--scores-column", help="precomputed scores"),
    rewards: str | None = rewards_option(POOL_REWARDS_HELP),
    reference_column: str | None = reference_column_option(),
    pairs_per_prompt: int = typer.Option(3, "--pairs-per-prompt", min=1, help="degrees: pairs per prompt"),
    template: str = typer.Option(
        BuildOptions.template, "--template", help="reward-augmented: uses {score} and {prompt}"
    ),
    seed: int = typer.Option(0, "--seed"),
    loading: ModelLoading = None,
) -> None:
    """Preference rows {prompt, chosen, rejected, …} for DPO-family trainers."""
    opts = BuildOptions(pairs_per_prompt=pairs_per_prompt, template=template, seed=seed)
    source = PoolSource(model, scores_column, rewards, reference_column)
    _run(PAIR_METHODS, method, candidates, out, source, opts, loading)


def register(app: typer.Typer) -> None:
    """Add the ``build`` command group to the application."""
    app.add_typer(build_app, name="build")
