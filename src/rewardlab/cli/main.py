"""The ``rewardlab`` Typer application.

Each command group lives in its own module with a ``register(app)`` function;
this file lists them and holds the global options: ``--debug`` (tracebacks for
bugs), ``--quiet`` (no progress bars) and the bounds on input records (:mod:`rewardlab.data.limits`). Errors of
every command are reported by :class:`~rewardlab.cli.common.ErrorReportingGroup`.
"""

from __future__ import annotations

import importlib
import os
import sys

import typer

from rewardlab.cli.common import ErrorReportingGroup, set_debug, set_quiet
from rewardlab.data.limits import Limits, set_limits
from rewardlab.threads import parse_threads, use_threads

app = typer.Typer(
    cls=ErrorReportingGroup,
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
    "rewardlab.cli.forecast_cmd",
)

for _module in COMMAND_MODULES:
    importlib.import_module(_module).register(app)


def _threads(text: str) -> int | None:
    try:
        return parse_threads(text)
    except ValueError as err:
        raise typer.BadParameter(str(err)) from None


@app.callback()
def _global_options(
    debug: bool = typer.Option(
        False, "--debug", envvar="REWARDLAB_DEBUG",
        help="Show the traceback of an unexpected error (a bug) instead of one line.",
    ),
    quiet: bool = typer.Option(
        False, "--quiet", "-q", envvar="REWARDLAB_QUIET",
        help="No progress bars (they are also left out when stderr is not a terminal).",
    ),
    threads: str = typer.Option(
        "auto", "--threads", envvar="REWARDLAB_THREADS", callback=_threads,
        help="CPU threads torch computes with: a number, or auto (the CPUs this process may "
        "use less those the load average says are busy, at least 1; OMP_NUM_THREADS wins "
        "when set).",
    ),
    max_chars: int = typer.Option(
        Limits.max_chars, min=1, envvar="REWARDLAB_MAX_CHARS",
        help="Most characters in one text of an input record (as the server's --max-chars).",
    ),
    max_line_bytes: int = typer.Option(
        Limits.max_line_bytes, min=1, envvar="REWARDLAB_MAX_LINE_BYTES",
        help="Most bytes in one line of a JSONL/CSV input.",
    ),
    max_items: int = typer.Option(
        Limits.max_items, min=1, envvar="REWARDLAB_MAX_ITEMS",
        help="Most items in one list of an input record (messages, steps, responses).",
    ),
    max_depth: int = typer.Option(
        Limits.max_depth, min=1, envvar="REWARDLAB_MAX_DEPTH",
        help="Deepest nesting of lists and objects in an input record.",
    ),
) -> None:
    """Set the input limits and the output's manners."""
    set_debug(debug)
    set_quiet(quiet)
    use_threads(threads)
    set_limits(Limits(max_chars, max_line_bytes, max_items, max_depth))
    _silence_transformers()


def _silence_transformers() -> None:
    """The CLI draws its own progress bars: transformers' ("Loading weights", downloads) and
    its warnings ("Token indices sequence length is longer than …", which rewardlab's own
    truncation makes moot) are silenced, unless the user set ``TRANSFORMERS_VERBOSITY`` or
    ``HF_HUB_DISABLE_PROGRESS_BARS``. transformers reads both when it is imported; when it
    already is (the app called inside a Python process), its switches are turned too."""
    verbosity = os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    bars_off = os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    if "transformers" not in sys.modules:
        return
    from transformers.utils import logging as transformers_logging

    if verbosity == "error":
        transformers_logging.set_verbosity_error()
    if bars_off == "1":
        transformers_logging.disable_progress_bar()


if __name__ == "__main__":
    app()
