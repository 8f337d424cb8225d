"""``rewardlab bon``: the best-of-n curve of a reward model on a candidate pool.

Reads a candidate pool (``--data``; lines ``{prompt, response, [gold], [score
columns]}``), scores it from one source (:mod:`rewardlab.cli.pools`: ``--model``,
``--rewards`` or ``--scores-column``), and writes, for each n, the unbiased expected proxy and
gold reward of best-of-n, the upper bound ``kl`` = log n − (n−1)/n on its KL
(Beirami et al., 2024), and the exact KL over each prompt's pool, averaged
over prompts: ``kl_exact`` without replacement (the policy the proxy and gold
values belong to) and ``kl_exact_with_replacement``
(:mod:`rewardlab.optimize.bon`).

A preference model (``prob``, no ``score``: a GPM, a judge) ranks each prompt's
pool by Copeland win rate (n(n−1)/2 comparisons per prompt), and best-of-n picks
the highest of those.
"""

from __future__ import annotations

from pathlib import Path

import typer

from rewardlab.cli.command import command
from rewardlab.cli.common import console, parse_csv, user_errors, write_json
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
from rewardlab.optimize.bon import best_of_n_curve


def parse_ns(text: str) -> list[int]:
    """``"1,2,4"`` → ``[1, 2, 4]``; ``ValueError`` naming ``--n`` on anything else."""
    try:
        ns = parse_csv(text, int)
    except ValueError:
        raise ValueError(f"--n: expected comma-separated integers, got {text!r}") from None
    if not ns or any(n < 1 for n in ns):
        raise ValueError(f"--n: every n must be a positive integer, got {text!r}")
    return ns


def proxy_name(model: str | None, scores_column: str | None, rewards: str | None) -> str:
    """How the results name the proxy: the model spec, ``rewards:SPEC`` or ``column:NAME``."""
    if model is not None:
        return model
    return f"rewards:{rewards}" if rewards is not None else f"column:{scores_column}"


@with_model_loading
def bon(
    data: Path = typer.Option(..., "--data", help=POOL_HELP),
    out: Path = typer.Option(..., "--out", help="results JSON to write"),
    n: str = typer.Option("1,2,4,8,16", "--n", help="best-of-n sizes, comma-separated"),
    model: str | None = model_option(required=False, help=BON_MODEL_HELP),
    scores_column: str | None = typer.Option(
        None, "--scores-column", help="column with precomputed proxy scores"
    ),
    rewards: str | None = rewards_option(POOL_REWARDS_HELP),
    reference_column: str | None = reference_column_option(),
    unsafe_no_sandbox: bool = unsafe_no_sandbox_option(),
    gold_column: str | None = typer.Option(None, "--gold-column", help="column with gold scores"),
    batch_size: int = typer.Option(256, "--batch-size", min=1, help="pairs per model call"),
    aggregate: str | None = aggregate_option(),
    loading: ModelLoading = None,
) -> None:
    """Expected proxy and gold reward of best-of-n, for each n, from a candidate pool.

    With a preference model the proxy is each candidate's Copeland win rate in its
    prompt's pool (best-of-n picks by Copeland)."""
    from rewardlab.cli.outputs import check_out_file

    with user_errors():
        check_out_file(out)
        ns = parse_ns(n)
        pools = load_pools(data, model, scores_column, gold_column, batch_size, loading,
                           aggregate, rewards, reference_column)
        curve = best_of_n_curve(pools, ns)
        write_json(
            out,
            {
                "candidates": str(data),
                "proxy": proxy_name(model, scores_column, rewards),
                "gold": gold_column,
                "prompts": len(pools),
                "samples": sum(len(pool) for pool in pools),
                "curve": curve,
            },
        )
    for point in curve:
        gold = "" if point["gold"] is None else f"  gold {point['gold']:.4f}"
        proxy = "n/a" if point["proxy"] is None else f"{point['proxy']:.4f}"
        exact = "n/a" if point["kl_exact"] is None else f"{point['kl_exact']:.3f}"
        typer.echo(
            f"n={point['n']:<5} kl bound {point['kl']:.3f}, pool {exact}  proxy {proxy}{gold}"
            f"  ({point['prompts']} prompts, {point['skipped']} skipped)"
        )
    console.print(f"wrote {out}")


def register(app: typer.Typer) -> None:
    """Add ``bon`` to the application."""
    command(app, "bon", renamed={"--candidates": "--data"})(bon)
