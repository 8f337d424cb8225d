"""``rewardlab demo``: parse the flags, call :func:`rewardlab.verbs.demo.demo`, print.

The flags are made from :class:`~rewardlab.verbs.demo.DemoSpec` and
:class:`~rewardlab.lab.demo.DemoConfig` (:mod:`rewardlab.cli.flags`).
"""

from __future__ import annotations

from dataclasses import replace

import typer

from rewardlab.cli.command import command
from rewardlab.cli.common import console, progress_bars, user_errors
from rewardlab.cli.flags import with_options
from rewardlab.lab.demo import DemoConfig
from rewardlab.verbs.demo import DemoSpec


def register(app: typer.Typer) -> None:
    command(app, "demo")(demo)


@with_options(spec=DemoSpec, config=DemoConfig)
def demo(spec: DemoSpec = None, config: DemoConfig = None) -> None:
    """Generate a preference task with a known gold reward, train a BT model, report."""
    from rich.markdown import Markdown

    from rewardlab.verbs.demo import demo as run

    with user_errors(), progress_bars() as progress:
        result = run(replace(spec, config=config), progress)
    # rendered on a terminal; the Markdown itself into a file or a pipe (as summary.md)
    console.print(Markdown(result.summary) if console.is_terminal else result.summary)
    written = result.written
    console.print(f"wrote {written['report.json']}, {written['summary.md']} and "
                  f"{written['model']}")
