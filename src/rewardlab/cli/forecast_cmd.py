"""``rewardlab forecast``: parse the flags, call :func:`rewardlab.verbs.forecast.forecast`,
print the forecast and the verdict.

The flags are made from :class:`~rewardlab.verbs.forecast.ForecastSpec` (the
pool and its proxy source, the gold source, the forecast's settings from
:class:`~rewardlab.lab.forecast.run.ForecastOptions`) and the loading options.
"""

from __future__ import annotations

from typing import Any

import typer

from rewardlab.cli.command import command
from rewardlab.cli.common import console, progress_bars, user_errors
from rewardlab.cli.sources import with_loading, with_reward_source
from rewardlab.verbs.forecast import ForecastSpec


@with_reward_source(ForecastSpec)
def forecast(spec: ForecastSpec = None, hub=None, judge=None, aggregation=None) -> None:
    """Forecast where gold peaks when this proxy is optimized (best-of-n n* or KL*), from a
    candidate pool and gold on a budget of prompts: the peak, its bootstrap interval over
    prompts, the gold gain there and a one-sentence verdict."""
    from rewardlab.verbs.forecast import forecast as run

    with user_errors(), progress_bars() as progress:
        result = run(with_loading(spec, hub, judge, aggregation), progress)
    _print(result.payload)
    console.print("wrote " + " and ".join(str(path) for path in result.written))


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
