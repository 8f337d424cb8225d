"""``rewardlab build sft|pairs``: training datasets from a scored candidate pool.

``build sft`` writes TRL SFT rows: rejection sampling (``top1`` = RAFT,
``topk``, ``quantile``, ``sample`` = Bradley–Terry choice), conditional-training
``tags`` (Korbak et al. 2023) or PF-PPO ``filtration`` (Zhang et al. 2024).
``build pairs`` writes TRL preference rows: ``best-worst``, ``best-random``,
``reward-augmented`` (Zhang et al. 2024) or SPO ``degrees`` (Li et al. 2024).
The methods are the registries :data:`~rewardlab.optimize.methods.SFT_METHODS`
and :data:`~rewardlab.optimize.methods.PAIR_METHODS`. The pool (``--data``) is
scored with ``--model``, ``--rewards`` (a verifier or recipe against each row's
reference column) or ``--scores-column`` (:func:`rewardlab.cli.pools.load_pools`).
The formulas live in :mod:`rewardlab.optimize.rejection` and
:mod:`rewardlab.optimize.pairs`; output is written atomically.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import typer

from rewardlab.cli.choices import registered
from rewardlab.cli.command import command
from rewardlab.cli.common import SEED_MAX, console, user_errors
from rewardlab.cli.model_options import (
    ModelLoading,
    aggregate_option,
    model_option,
    with_model_loading,
)
from rewardlab.cli.pools import BON_MODEL_HELP, POOL_HELP, POOL_REWARDS_HELP, load_pools
from rewardlab.cli.rewards_option import (
    reference_column_option,
    rewards_option,
    unsafe_no_sandbox_option,
)
from rewardlab.data.io import write_jsonl
from rewardlab.optimize.methods import (
    PAIR_METHODS,
    SFT_METHODS,
    Builder,
    BuildOptions,
    check_options,
)
from rewardlab.registry import Registry


@dataclass(frozen=True)
class PoolSource:
    """Where a pool's rewards come from: exactly one of ``model`` (reduced by
    ``aggregate`` when an ensemble), ``scores_column`` and ``rewards`` (references from
    ``reference_column``); ``gold_column`` is optional."""

    model: str | None = None
    scores_column: str | None = None
    rewards: str | None = None
    reference_column: str | None = None
    gold_column: str | None = None
    aggregate: str | None = None


build_app = typer.Typer(
    help="Build SFT or preference datasets from a scored candidate pool.",
    no_args_is_help=True,
)


def _run(
    registry: Registry[Builder],
    method: str,
    data: Path,
    out: Path,
    source: PoolSource,
    opts: BuildOptions,
    loading: ModelLoading,
) -> None:
    from rewardlab.cli.outputs import check_out_file

    with user_errors():
        check_out_file(out)
        check_options(method, opts)
        builder = registry.get(method)
        pools = load_pools(
            data, source.model, source.scores_column, source.gold_column,
            loading=loading, aggregate=source.aggregate, rewards=source.rewards,
            reference_column=source.reference_column,
        )
        built = builder(pools, opts)
        count = write_jsonl(out, built.rows)
    stats = "".join(f", {key} {value:.4g}" for key, value in built.stats.items())
    console.print(f"wrote {count} rows to {out} ({built.skipped} skipped{stats})")


@command(build_app, "sft", renamed={"--candidates": "--data"})
@with_model_loading
def build_sft(
    method: str = typer.Option(
        "top1", "--method", help="{sft_methods}", callback=registered("sft method", elsewhere={"pairs method": "rewardlab build pairs"})
    ),
    data: Path = typer.Option(..., "--data", help=POOL_HELP),
    out: Path = typer.Option(..., "--out", help="JSONL file to write"),
    model: str | None = model_option(required=False, help=BON_MODEL_HELP),
    scores_column: str | None = typer.Option(None, "--scores-column", help="precomputed scores"),
    rewards: str | None = rewards_option(POOL_REWARDS_HELP),
    reference_column: str | None = reference_column_option(),
    unsafe_no_sandbox: bool = unsafe_no_sandbox_option(),
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
    seed: int = typer.Option(0, "--seed", min=0, max=SEED_MAX),
    aggregate: str | None = aggregate_option(),
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
    source = PoolSource(model, scores_column, rewards, reference_column, gold_column, aggregate)
    _run(SFT_METHODS, method, data, out, source, opts, loading)


@command(build_app, "pairs", renamed={"--candidates": "--data"})
@with_model_loading
def build_pairs(
    method: str = typer.Option(
        "best-worst", "--method", help="{pair_methods}", callback=registered("pairs method", elsewhere={"sft method": "rewardlab build sft"})
    ),
    data: Path = typer.Option(..., "--data", help=POOL_HELP),
    out: Path = typer.Option(..., "--out", help="JSONL file to write"),
    model: str | None = model_option(required=False, help=BON_MODEL_HELP),
    scores_column: str | None = typer.Option(None, "--scores-column", help="precomputed scores"),
    rewards: str | None = rewards_option(POOL_REWARDS_HELP),
    reference_column: str | None = reference_column_option(),
    unsafe_no_sandbox: bool = unsafe_no_sandbox_option(),
    pairs_per_prompt: int = typer.Option(
        3, "--pairs-per-prompt", min=1,
        help="degrees: pairs kept per prompt from its scored pool (not train's "
        "--pairs-per-instruction, which samples AlpacaEval pairs when reading data)",
    ),
    template: str = typer.Option(
        BuildOptions.template, "--template", help="reward-augmented: uses {score} and {prompt}"
    ),
    seed: int = typer.Option(0, "--seed", min=0, max=SEED_MAX),
    aggregate: str | None = aggregate_option(),
    loading: ModelLoading = None,
) -> None:
    """Preference rows {prompt, chosen, rejected, …} for DPO-family trainers."""
    opts = BuildOptions(pairs_per_prompt=pairs_per_prompt, template=template, seed=seed)
    source = PoolSource(model, scores_column, rewards, reference_column, aggregate=aggregate)
    _run(PAIR_METHODS, method, data, out, source, opts, loading)


def register(app: typer.Typer) -> None:
    """Add the ``build`` command group to the application."""
    app.add_typer(build_app, name="build")
