"""Helpers shared by CLI commands: progress bars, option parsing, error reporting."""

from __future__ import annotations

import contextlib
import contextvars
import difflib
import json
import math
import os
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text
from typer.core import TyperGroup

if TYPE_CHECKING:
    from rewardlab.registry import Registry

T = TypeVar("T")

console = Console(stderr=True)


class _Count(ProgressColumn):
    """``done/total``; ``done`` alone while the total is unknown (never ``0/None``)."""

    def render(self, task: Task) -> Text:
        done = _count(task.completed)
        return Text(done if task.total is None else f"{done}/{_count(task.total)}")


def _count(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.3g}"


def _bars() -> Progress:
    """One line per phase: a spinner, the phase, a bar (a pulse while the total is
    unknown), the count, the time spent and, once the total is known, the time left."""
    return Progress(
        SpinnerColumn(finished_text="[green]✓"),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        _Count(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )


def _no_progress(*_args: Any) -> None:
    return None


@contextlib.contextmanager
def progress_bars() -> Iterator[Callable[[str, int, int | None], None]]:
    """Rich progress bars driven by a ``progress(phase, done, total)`` callback: one bar per
    phase (``total`` None while unknown), the display started when the first phase reports
    (so a command refused before any work prints nothing but its error). Nothing is drawn
    under ``--quiet`` or when stderr is not a terminal (a log file, a pipe, a CI job)."""
    if quiet() or not console.is_terminal:
        yield _no_progress
        return
    bar = _bars()
    tasks: dict[str, Any] = {}

    def update(phase: str, done: int, total: int | None) -> None:
        if not tasks:
            bar.start()
        if phase not in tasks:
            tasks[phase] = bar.add_task(phase, total=total)
        bar.update(tasks[phase], completed=done, total=total, refresh=True)  # every step drawn

    try:
        yield update
    finally:
        if tasks:
            bar.stop()


def parse_csv(value: str | None, cast: Callable[[str], Any] = str) -> list[Any]:
    """``"1,2,4"`` → ``[1, 2, 4]`` with ``cast``; empty/None → ``[]``."""
    if not value:
        return []
    return [cast(part.strip()) for part in value.split(",") if part.strip()]


def given_options(ctx: typer.Context, names: Sequence[str]) -> list[str]:
    """The ``--flag`` spellings of the parameters in ``names`` that the user set
    (on the command line or through the environment), not left at their defaults."""
    given = []
    for name in names:
        source = ctx.get_parameter_source(name)
        if source is not None and source.name in ("COMMANDLINE", "ENVIRONMENT"):
            given.append("--" + name.replace("_", "-"))
    return given


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text} is beyond the range of a float")
    return value


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a number JSON allows")


def parse_json_option(value: str | None, name: str) -> dict[str, Any]:
    """A JSON object passed on the command line (e.g. ``--head-params '{"hidden": 64}'``);
    ``NaN``, ``Infinity`` and numbers beyond a float's range are refused."""
    if not value:
        return {}
    try:
        parsed = json.loads(value, parse_constant=_no_constant, parse_float=_finite)
    except (ValueError, RecursionError) as err:  # JSONDecodeError is a ValueError
        raise typer.BadParameter(f"must be a JSON object: {err}", param_hint=f"'{name}'") from None
    if not isinstance(parsed, dict):
        raise typer.BadParameter(
            f"must be a JSON object, got {type(parsed).__name__}", param_hint=f"'{name}'"
        )
    return parsed


SEED_MAX = 2**32 - 1
"""The largest ``--seed`` (numpy and torch take seeds in [0, 2³²) alike)."""


def check_backbone(spec: str, option: str) -> str:
    """``spec`` when every comma-separated backbone spec in it names a known kind; else a
    bad option naming ``option`` with the registry's did-you-mean."""
    from rewardlab.verbs.names import check_backbone as check

    try:
        return check(spec, option)
    except ValueError as err:
        raise typer.BadParameter(str(err).removeprefix(f"{option}: "),
                                 param_hint=f"'{option}'") from None


EXIT_BAD_INPUT = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 70
EXIT_BROKEN_PIPE = 141
"""128 + SIGPIPE: what a shell reports for a writer whose reader went away (``yes | head -1``)."""
DEBUG_HINT = "rerun with --debug (or REWARDLAB_DEBUG=1) for the traceback"


def error_line(message: str) -> None:
    """Print ``error: message`` as one plain line on stderr (no markup, no wrapping)."""
    typer.echo(f"error: {' '.join(message.split())}", err=True)


def fail(message: str) -> typer.Exit:
    """Print an error line and return the exit to raise."""
    error_line(message)
    return typer.Exit(code=EXIT_BAD_INPUT)


def user_error_message(err: BaseException) -> str | None:
    """The one-line message of a user error (bad input, option or path); None for a bug.

    Library code raises :class:`~rewardlab.data.errors.DataError` (it names the
    file, line and field), ``UnknownNameError`` (a did-you-mean), ``ValueError``
    naming the input or option, or an ``OSError`` carrying the file name. A missing
    optional package is the user's to install: an ``ImportError`` whose message names
    the ``pip install`` line.
    """
    from rewardlab.data.errors import DataError
    from rewardlab.registry import UnknownNameError

    if isinstance(err, DataError | UnknownNameError):
        return str(err)
    if isinstance(err, OSError) and err.filename is not None:
        target = f"{err.filename} -> {err.filename2}" if err.filename2 else str(err.filename)
        return f"{target}: {err.strerror or err}"
    if isinstance(err, FileNotFoundError | ValueError):
        return str(err)
    if isinstance(err, ImportError) and "pip install" in str(err):
        return str(err)
    return None


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn bad-input exceptions into one line and exit code 1 (a bad option,
    :class:`~rewardlab.options.OptionError`: exit 2); bugs go on to the app's handler."""
    from rewardlab.options import OptionError

    try:
        yield
    except OptionError as err:
        if debug_enabled():
            raise
        report_option_error(err)
    except Exception as err:
        message = user_error_message(err)
        if message is None or debug_enabled():
            raise
        raise fail(message) from None


def report_option_error(err: Exception) -> NoReturn:
    """A library verb's :class:`~rewardlab.options.OptionError` as Click words a bad option
    (``Invalid value for '--k': …``), exit 2."""
    flag, sep, reason = str(err).partition(": ")
    if sep and flag.startswith("--") and " " not in flag:
        error_line(f"Invalid value for '{flag}': {reason}")
    else:
        error_line(str(err))
    raise typer.Exit(EXIT_USAGE) from None


_DEBUG: ContextVar[bool] = ContextVar("rewardlab_debug", default=False)


def set_debug(debug: bool) -> None:
    """Record the global ``--debug`` option (the app callback does this)."""
    _DEBUG.set(debug)


_QUIET: ContextVar[bool] = ContextVar("rewardlab_quiet", default=False)


def set_quiet(value: bool) -> None:
    """Record the global ``--quiet`` option (the app callback does this)."""
    _QUIET.set(value)


def quiet() -> bool:
    """True under ``rewardlab --quiet`` or ``REWARDLAB_QUIET=1``: no progress bars."""
    return _QUIET.get() or os.environ.get("REWARDLAB_QUIET", "").lower() in ("1", "true", "yes")


def debug_enabled() -> bool:
    """True under ``rewardlab --debug`` or ``REWARDLAB_DEBUG=1``."""
    return _DEBUG.get() or os.environ.get("REWARDLAB_DEBUG", "").lower() in ("1", "true", "yes")


def quiet_broken_pipe() -> NoReturn:
    """The reader of stdout went away (``rewardlab … | head -1``): stop quietly, as Python's
    documentation advises for SIGPIPE (``signal`` module notes): point stdout at devnull so
    the interpreter's last flush cannot fail again, and exit 141 with no message."""
    import sys

    devnull = os.open(os.devnull, os.O_WRONLY)
    with contextlib.suppress(OSError, ValueError):  # stdout may be closed or replaced
        os.dup2(devnull, sys.stdout.fileno())
    raise typer.Exit(EXIT_BROKEN_PIPE)


class ErrorReportingGroup(TyperGroup):
    """The app's command group: every error of a command becomes one line.

    Bad options (click usage errors): ``error: …`` and exit 2. Bad input
    (:func:`user_error_message`): ``error: …`` and exit 1. Output into a closed pipe:
    nothing and exit 141 (:func:`quiet_broken_pipe`). Anything else is a bug: one line
    and exit 70, with the traceback under ``--debug``.
    """

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except (typer.Exit, typer.Abort):
            raise
        except BrokenPipeError:  # --help into a closed pipe
            quiet_broken_pipe()
        except typer.TyperException as err:  # a bad global option
            self._report_usage(err)

    @staticmethod
    def _report_usage(err: typer.TyperException) -> NoReturn:
        context = getattr(err, "ctx", None)
        hint = f" (see '{context.command_path} --help')" if context is not None else ""
        error_line(getattr(err, "format_message", err.__str__)() + hint)
        raise typer.Exit(getattr(err, "exit_code", EXIT_USAGE)) from None

    def invoke(self, ctx: typer.Context) -> Any:
        # a context of its own: the global options set for one run end with it
        try:
            return contextvars.copy_context().run(super().invoke, ctx)
        except (typer.Exit, typer.Abort):
            raise
        except typer.TyperException as err:  # click's usage errors: a bad or missing option
            self._report_usage(err)
        except BrokenPipeError:
            quiet_broken_pipe()
        except Exception as err:
            if ctx.params.get("debug") or debug_enabled():
                raise
            from rewardlab.options import OptionError

            if isinstance(err, OptionError):  # a library verb refused an option
                report_option_error(err)
            message = user_error_message(err)
            if message is not None:
                error_line(message)
                raise typer.Exit(EXIT_BAD_INPUT) from None
            error_line(f"internal error: {type(err).__name__}: {err} ({DEBUG_HINT})")
            raise typer.Exit(EXIT_INTERNAL) from None


def write_json(path: Path, payload: Any) -> None:
    """Write ``payload`` as strict JSON to ``path`` atomically."""
    from rewardlab.atomic import write_json_atomic

    write_json_atomic(path, payload)


def lookup(registry: Registry[T], name: str, option: str) -> T:
    """``registry.get(name)`` for a command-line option: a typo is a bad option (exit 2)
    whose one line names ``option`` and the closest known names."""
    from rewardlab.registry import UnknownNameError

    try:
        return registry.get(name)
    except UnknownNameError as err:
        raise typer.BadParameter(str(err), param_hint=f"'{option}'") from None


def choice(name: str, allowed: Sequence[str], option: str) -> str:
    """``name`` if it is one of ``allowed``; else a bad option naming ``option``, with a
    did-you-mean from :func:`difflib.get_close_matches`."""
    if name in allowed:
        return name
    close = difflib.get_close_matches(name, allowed, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
    raise typer.BadParameter(
        f"unknown value {name!r}{hint} (allowed: {', '.join(allowed)})", param_hint=f"'{option}'"
    )
