"""``rewardlab bon``: the best-of-n curve of a reward model on a candidate pool.

Reads pool lines ``{prompt, response, [gold], [score columns]}`` (many
candidates per prompt), scores them with ``--model`` or takes
``--scores-column``, and writes, for each n, the unbiased expected proxy and
gold reward of best-of-n and KL_bon(n) = log n − (n−1)/n
(:mod:`rewardlab.optimize.bon`).
"""

from __future__ import annotations

from pathlib import Path

import typer

from rewardlab.cli.common import console, parse_csv, progress_bar, user_errors, write_json
from rewardlab.optimize.bon import best_of_n_curve
from rewardlab.optimize.pool import PromptPool, read_pool


def parse_ns(text: str) -> list[int]:
    """``"1,2,4"`` → ``[1, 2, 4]``; ``ValueError`` naming ``--n`` on anything else."""
    try:
        ns = parse_csv(text, int)
    except ValueError:
        raise ValueError(f"--n: expected comma-separated integers, got {text!r}") from None
    if not ns or any(n < 1 for n in ns):
        raise ValueError(f"--n: every n must be a positive integer, got {text!r}")
    return ns


def load_pools(
    candidates: Path,
    model: Path | None,
    scores_column: str | None,
    gold_column: str | None,
    batch_size: int = 256,
) -> list[PromptPool]:
    """Read a pool and score it with ``--model`` (lazy import, progress bar) or a column."""
    if (model is None) == (scores_column is None):
        raise ValueError("give exactly one of --model and --scores-column")
    if model is None:
        return read_pool(candidates, score_column=scores_column, gold_column=gold_column)
    from rewardlab.robust.loading import load_reward_model

    reward_model = load_reward_model(model)
    with progress_bar("scoring candidates") as progress:
        return read_pool(
            candidates,
            model=reward_model,
            gold_column=gold_column,
            batch_size=batch_size,
            progress=progress,
        )


def bon(
    candidates: Path = typer.Option(..., "--candidates", help="pool JSONL: {prompt, response, …}"),
    out: Path = typer.Option(..., "--out", help="results JSON to write"),
    n: str = typer.Option("1,2,4,8,16", "--n", help="comma-separated values of n"),
    model: Path | None = typer.Option(None, "--model", help="saved reward model directory"),
    scores_column: str | None = typer.Option(
        None, "--scores-column", help="column with precomputed proxy scores"
    ),
    gold_column: str | None = typer.Option(None, "--gold-column", help="column with gold scores"),
    batch_size: int = typer.Option(256, "--batch-size", help="pairs per model call"),
) -> None:
    """Expected proxy and gold reward of best-of-n, for each n, from a candidate pool."""
    with user_errors():
        ns = parse_ns(n)
        pools = load_pools(candidates, model, scores_column, gold_column, batch_size)
        curve = best_of_n_curve(pools, ns)
        write_json(
            out,
            {
                "candidates": str(candidates),
                "proxy": str(model) if model is not None else f"column:{scores_column}",
                "gold": gold_column,
                "prompts": len(pools),
                "samples": sum(len(pool) for pool in pools),
                "curve": curve,
            },
        )
    for point in curve:
        gold = "" if point["gold"] is None else f"  gold {point['gold']:.4f}"
        proxy = "n/a" if point["proxy"] is None else f"{point['proxy']:.4f}"
        typer.echo(
            f"n={point['n']:<5} kl {point['kl']:.3f}  proxy {proxy}{gold}"
            f"  ({point['prompts']} prompts, {point['skipped']} skipped)"
        )
    console.print(f"wrote {out}")


def register(app: typer.Typer) -> None:
    """Add ``bon`` to the application."""
    app.command("bon")(bon)
