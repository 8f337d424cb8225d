"""``rewardlab build sft|pairs``: parse the flags, call :func:`rewardlab.verbs.build.build`, print.

``build sft`` writes TRL SFT rows, ``build pairs`` TRL preference rows, from a
scored candidate pool (:mod:`rewardlab.verbs.build`). The flags are made from
the spec (:class:`~rewardlab.verbs.build.SftSpec`,
:class:`~rewardlab.verbs.build.PairsSpec`), the loading options and every
option the family's methods declare, once
(:data:`~rewardlab.optimize.methods.SFT_OPTIONS`,
:data:`~rewardlab.optimize.methods.PAIR_OPTIONS`); the command passes on the
method options that were given, and the verb refuses one that the chosen method
does not read before the pool is read.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import typer

from rewardlab.cli.command import command
from rewardlab.cli.common import console, progress_bars, user_errors
from rewardlab.cli.sources import with_loading, with_reward_source
from rewardlab.optimize.methods import PAIR_OPTIONS, SFT_OPTIONS
from rewardlab.options import given_fields
from rewardlab.verbs.build import BuildSpec, PairsSpec, SftSpec

build_app = typer.Typer(
    help="Build SFT or preference datasets from a scored candidate pool.",
    no_args_is_help=True,
)


def _run(spec: BuildSpec, hub: Any, judge: Any, aggregation: Any, options: Any) -> None:
    from rewardlab.verbs.build import build

    given = {name: getattr(options, name) for name in given_fields(options)}
    with user_errors(), progress_bars() as progress:
        result = build(replace(with_loading(spec, hub, judge, aggregation), options=given),
                       progress)
    stats = "".join(f", {key} {value:.4g}" for key, value in result.stats.items())
    console.print(f"wrote {len(result.rows)} rows to {result.out} ({result.skipped} "
                  f"skipped{stats})")


@command(build_app, "sft", renamed={"--candidates": "--data"})
@with_reward_source(SftSpec, options=SFT_OPTIONS)
def build_sft(spec: SftSpec = None, hub=None, judge=None, aggregation=None,
              options: Any = None) -> None:
    """SFT rows: rejection sampling, conditional-training tags or policy filtration."""
    _run(spec, hub, judge, aggregation, options)


@command(build_app, "pairs", renamed={"--candidates": "--data"})
@with_reward_source(PairsSpec, options=PAIR_OPTIONS)
def build_pairs(spec: PairsSpec = None, hub=None, judge=None, aggregation=None,
                options: Any = None) -> None:
    """Preference rows {prompt, chosen, rejected, …} for DPO-family trainers."""
    _run(spec, hub, judge, aggregation, options)


def register(app: typer.Typer) -> None:
    """Add the ``build`` command group to the application."""
    app.add_typer(build_app, name="build")
