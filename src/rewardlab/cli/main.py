"""The ``rewardlab`` Typer application.

Each command group lives in its own module with a ``register(app)`` function;
this file only lists them.
"""

from __future__ import annotations

import importlib
import os

import typer

app = typer.Typer(
    name="rewardlab",
    help="Train, audit, harden, use and serve reward models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

COMMAND_MODULES = (
    "rewardlab.cli.data_cmd",
    "rewardlab.cli.bon_cmd",
    "rewardlab.cli.build_cmd",
    "rewardlab.cli.serve_cmd",
    "rewardlab.cli.lab_cmd",
    "rewardlab.cli.train_cmd",
    "rewardlab.cli.eval_cmd",
    "rewardlab.cli.score_cmd",
    "rewardlab.cli.demo_cmd",
)

for _module in COMMAND_MODULES:
    importlib.import_module(_module).register(app)


@app.callback()
def _quiet_libraries() -> None:
    """The CLI draws its own progress bars: silence transformers' bars and warnings
    (set before any command imports transformers; a user's own setting wins)."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


if __name__ == "__main__":
    app()
