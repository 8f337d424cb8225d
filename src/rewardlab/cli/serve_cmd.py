"""``rewardlab serve``: parse the flags, call :func:`rewardlab.verbs.serve.serve`, print.

The flags are made from :class:`~rewardlab.verbs.serve.ServeSpec` (the reward
and the server's settings) and the loading options (:mod:`rewardlab.cli.sources`).
Before listening it prints one line per route it will not serve (those that
cannot carry the references a verifier needs) and a warning for a recipe that
normalizes by batch or group.
"""

from __future__ import annotations

import typer

from rewardlab.cli.command import command
from rewardlab.cli.common import user_errors
from rewardlab.cli.sources import with_loading, with_reward_source
from rewardlab.models.lm.hub import HubModelOptions
from rewardlab.models.lm.judge_options import JudgeOptions
from rewardlab.robust.aggregate import AggregateOptions
from rewardlab.verbs.serve import Served, ServeSpec


@with_reward_source(ServeSpec)
def serve(spec: ServeSpec = None, hub: HubModelOptions = None, judge: JudgeOptions = None,
          aggregation: AggregateOptions = None) -> None:
    """Serve a reward model, verifier or recipe: POST /score, /compare, /get_reward,
    /v1/score/evaluation, /classify."""
    from rewardlab.verbs.serve import serve as run

    def ready(served: Served) -> None:
        for note in served.notes:
            typer.echo(f"note: {note}", err=True)
        if served.warning is not None:
            typer.echo(f"warning: {served.warning}", err=True)
        typer.echo(served.banner())

    with user_errors():
        run(with_loading(spec, hub, judge, aggregation), on_ready=ready)


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the ``rewardlab`` application."""
    command(app, "serve")(serve)
