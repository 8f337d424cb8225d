"""``rewardlab forecast``: how far can this proxy be optimized before gold falls?

Parses the options, loads the proxy (``--model``, ``--rewards`` or
``--scores-column``, as ``bon`` does) and the gold source (``--gold-column``,
or ``--gold-model`` called on the budget's prompts only), calls
:func:`rewardlab.lab.forecast.forecast`, writes the JSON (and the HTML report)
and prints the verdict.
"""

from __future__ import annotations

import math
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import typer

from rewardlab.cli.choices import registered
from rewardlab.cli.command import command
from rewardlab.cli.common import SEED_MAX, console, progress_bar, user_errors, write_json
from rewardlab.cli.model_options import (
    SPEC_HELP,
    ModelLoading,
    aggregate_option,
    load_model_option,
    model_option,
    with_model_loading,
)
from rewardlab.cli.pools import BON_MODEL_HELP, POOL_REWARDS_HELP, CopelandProxy
from rewardlab.cli.rewards_option import pool_scorer, reference_column_option, rewards_option

FORECAST_POOL_HELP = (
    "Candidate pool (JSONL/JSON/CSV/Parquet): rows {prompt, response, ...} with many "
    "candidates per prompt, the proxy's score column if --scores-column, and gold on the "
    "labelled prompts."
)


def _scalar(spec: str, loading: ModelLoading | None, aggregate: str | None,
            batch_size: int) -> tuple[Any, int]:
    """A model of ``spec`` with a scalar score: a preference model is read by Copeland win
    rate within each prompt's pool (whole pools per call, as in ``bon``)."""
    from rewardlab.evaluate.preference import is_preference_model

    model = load_model_option(spec, loading, aggregate)
    if is_preference_model(model):
        return CopelandProxy(model), sys.maxsize
    return model, batch_size


def _sources(model: str | None, scores_column: str | None, rewards: str | None,
             reference_column: str | None, aggregate: str | None) -> None:
    if sum(source is not None for source in (model, scores_column, rewards)) != 1:
        raise typer.BadParameter("give exactly one of --model, --scores-column and --rewards",
                                 param_hint="'--model'")
    if reference_column is not None and rewards is None:
        raise typer.BadParameter("only with --rewards", param_hint="'--reference-column'")
    if aggregate is not None and model is None:
        raise typer.BadParameter("only with --model (it reduces an ensemble's members)",
                                 param_hint="'--aggregate'")


def _positive(value: float | None) -> float | None:
    if value is not None and not (math.isfinite(value) and value > 0):
        raise typer.BadParameter(f"expected a number > 0, got {value:g}")
    return value


@with_model_loading
def forecast(
    data: Path = typer.Option(..., "--data", help=FORECAST_POOL_HELP),
    out: Path = typer.Option(..., "--out", help="forecast JSON to write"),
    gold_column: str | None = typer.Option(
        None, "--gold-column",
        help="Column with gold scores: on every candidate of a labelled prompt, absent or "
        "null on the others.",
    ),
    gold_model: str | None = typer.Option(
        None, "--gold-model",
        help="Instead of --gold-column: a gold reward, called only on the candidates of the "
        "budget's prompts. " + SPEC_HELP,
    ),
    gold_budget: int = typer.Option(
        100, "--gold-budget", min=2, help="Labelled prompts the forecast uses (drawn by --seed)."
    ),
    optimizer: str = typer.Option(
        "bon", "--optimizer",
        help="bon: best-of-n, forecast n*; kl: the exact KL-regularized optimum over the pool, "
        "forecast KL* in nats.",
    ),
    method: str = typer.Option(
        "empirical", "--method", callback=registered("forecast method"),
        help="Method whose forecast gives the verdict: {forecast_methods} (the JSON holds "
        "every method's).",
    ),
    model: str | None = model_option(required=False, help=BON_MODEL_HELP),
    scores_column: str | None = typer.Option(
        None, "--scores-column", help="column with precomputed proxy scores"
    ),
    rewards: str | None = rewards_option(POOL_REWARDS_HELP),
    reference_column: str | None = reference_column_option(),
    aggregate: str | None = aggregate_option(),
    html: Path | None = typer.Option(
        None, "--html", help="HTML report: the forecast curve with its band, the realized "
        "curve when every prompt has gold."
    ),
    bootstrap: int = typer.Option(500, "--bootstrap", min=2, help="Bootstrap replicates "
                                  "over prompts."),
    level: float = typer.Option(0.8, "--level", min=0.01, max=0.99,
                                help="Coverage of the intervals."),
    falls_before: float | None = typer.Option(
        None, "--falls-before", callback=_positive,
        help="x of the question 'will gold fall before x?' (default: n = 64 for bon, none "
        "for kl).",
    ),
    seed: int = typer.Option(0, "--seed", min=0, max=SEED_MAX, help="Seed of the budget draw and the bootstrap."),
    batch_size: int = typer.Option(256, "--batch-size", min=1, help="pairs per model call"),
    loading: ModelLoading = None,
) -> None:
    """Forecast where gold peaks when this proxy is optimized (best-of-n n* or KL*), from a
    candidate pool and gold on a budget of prompts: the peak, its bootstrap interval over
    prompts, the gold gain there and a one-sentence verdict."""
    if optimizer not in ("bon", "kl"):
        raise typer.BadParameter(f"expected bon or kl, got {optimizer!r}",
                                 param_hint="'--optimizer'")
    if (gold_column is None) == (gold_model is None):
        raise typer.BadParameter("give exactly one of --gold-column and --gold-model",
                                 param_hint="'--gold-column'")
    _sources(model, scores_column, rewards, reference_column, aggregate)
    with user_errors():
        from rewardlab.lab.forecast import ForecastOptions
        from rewardlab.lab.forecast import forecast as run_forecast

        options = ForecastOptions(
            data=data, gold_column=gold_column, scores_column=scores_column,
            gold_budget=gold_budget, optimizer=optimizer, method=method, bootstrap=bootstrap,
            level=level, falls_before=falls_before, seed=seed, batch_size=batch_size,
        )
        proxy = proxy_rows = gold = None
        if model is not None:
            proxy, options_batch = _scalar(model, loading, aggregate, batch_size)
            options = replace(options, batch_size=options_batch)
        if rewards is not None:
            from rewardlab.robust.recipe import load_rewards

            proxy_rows = pool_scorer(load_rewards(rewards), data, reference_column)
        if gold_model is not None:
            gold, _ = _scalar(gold_model, loading, None, batch_size)
        with progress_bar("forecast") as update:
            result = run_forecast(
                options, proxy=proxy, proxy_rows=proxy_rows, gold_model=gold,
                progress=lambda stage, done, total: update(done, total),
            )
        payload = result.to_dict()
        write_json(out, payload)
        if html is not None:
            from rewardlab.lab.forecast.report import write_html

            write_html(payload, html)
    _print(payload)
    console.print(f"wrote {out}" + ("" if html is None else f" and {html}"))


def _print(payload: dict[str, Any]) -> None:
    key = "n" if payload["optimizer"] == "bon" else "KL"
    for name, summary in payload["methods"].items():
        if "error" in summary:
            typer.echo(f"{name:<10} cannot forecast: {summary['error']}")
            continue
        low, high = summary["interval"]
        mark = " (censored at the pool's reach)" if summary["censored"] else ""
        typer.echo(
            f"{name:<10} peak {key} {summary['peak']:.3g}{mark}, "
            f"{round(100 * payload['level'])}% interval {low:.3g}–{high:.3g}, "
            f"gold gain {summary['gain']:+.4g}"
        )
    realized = payload["realized"]
    if realized is not None:
        mark = " (censored)" if realized["censored"] else ""
        typer.echo(f"{'realized':<10} peak {key} {realized['peak']:.3g}{mark}, "
                   f"gold gain {realized['gain']:+.4g} (every prompt has gold)")
    for note in payload["notes"]:
        typer.echo(f"note: {note}")
    typer.echo(payload["verdict"])


def register(app: typer.Typer) -> None:
    """Add ``forecast`` to the application."""
    command(app, "forecast")(forecast)
