"""Helpers shared by CLI commands: progress bars, option parsing, error exits."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

console = Console(stderr=True)


@contextlib.contextmanager
def progress_bar(description: str) -> Iterator[Callable[[int, int], None]]:
    """A rich progress bar driven by a ``progress(done, total)`` callback."""
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    ) as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def parse_csv(value: str | None, cast: Callable[[str], Any] = str) -> list[Any]:
    """``"1,2,4"`` → ``[1, 2, 4]`` with ``cast``; empty/None → ``[]``."""
    if not value:
        return []
    return [cast(part.strip()) for part in value.split(",") if part.strip()]


def parse_json_option(value: str | None, name: str) -> dict[str, Any]:
    """A JSON object passed on the command line (e.g. ``--head-params '{"hidden": 64}'``)."""
    if not value:
        return {}
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as err:
        raise typer.BadParameter(f"{name} must be a JSON object: {err}") from None
    if not isinstance(parsed, dict):
        raise typer.BadParameter(f"{name} must be a JSON object")
    return parsed


def fail(message: str) -> typer.Exit:
    """Print an error line and return the exit to raise."""
    console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code=1)


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn bad-input exceptions into one red line and exit code 1 (no traceback)."""
    from rewardlab.data.errors import DataError
    from rewardlab.registry import UnknownNameError

    try:
        yield
    except (DataError, UnknownNameError, FileNotFoundError, ValueError) as err:
        raise fail(str(err)) from None


def write_json(path: Path, payload: Any) -> None:
    from rewardlab.atomic import write_json_atomic

    write_json_atomic(path, payload)
