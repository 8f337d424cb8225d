"""``rewardlab bon``: parse the flags, call :func:`rewardlab.verbs.bon.best_of_n`, print.

The flags are made from :class:`~rewardlab.verbs.bon.BonSpec` and the loading
options (:func:`rewardlab.cli.sources.with_reward_source`); the pool, its
source and the curve are the verb's business (:mod:`rewardlab.verbs.bon`).
"""

from __future__ import annotations

import typer

from rewardlab.cli.command import command
from rewardlab.cli.common import console, progress_bars, user_errors
from rewardlab.cli.sources import with_loading, with_reward_source
from rewardlab.verbs.bon import BonSpec


@with_reward_source(BonSpec)
def bon(spec: BonSpec = None, hub=None, judge=None, aggregation=None) -> None:
    """Expected proxy and gold reward of best-of-n, for each n, from a candidate pool.

    With a preference model the proxy is each candidate's Copeland win rate in its
    prompt's pool (best-of-n picks by Copeland)."""
    from rewardlab.verbs.bon import best_of_n

    with user_errors(), progress_bars() as progress:
        result = best_of_n(with_loading(spec, hub, judge, aggregation), progress)
    for point in result.payload["curve"]:
        gold = "" if point["gold"] is None else f"  gold {point['gold']:.4f}"
        proxy = "n/a" if point["proxy"] is None else f"{point['proxy']:.4f}"
        exact = "n/a" if point["kl_exact"] is None else f"{point['kl_exact']:.3f}"
        typer.echo(
            f"n={point['n']:<5} kl bound {point['kl']:.3f}, pool {exact}  proxy {proxy}{gold}"
            f"  ({point['prompts']} prompts, {point['skipped']} skipped)"
        )
    console.print(f"wrote {result.out}")


def register(app: typer.Typer) -> None:
    """Add ``bon`` to the application."""
    command(app, "bon", renamed={"--candidates": "--data"})(bon)
