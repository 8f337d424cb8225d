"""Bounds on one input record, the same as the reward server's by default.

The numbers are repeated here rather than imported (``data/`` sits below
``serve/``); ``tests/test_layers.py`` checks that they equal
:class:`rewardlab.serve.settings.ServeSettings`'s.

A reader refuses, with a :class:`~rewardlab.data.errors.DataError` naming the
file, the line and the field, before the record reaches a model:

- ``max_line_bytes``: bytes in one JSONL/CSV line (checked while reading, so a
  huge line is never held whole), default the server's ``max_body_bytes``;
- ``max_chars``: characters in one string value, default the server's
  ``max_chars``;
- ``max_items``: items in one list value (messages, steps, responses), default
  the server's ``max_items``;
- ``max_depth``: nesting of objects and lists, default the server's
  ``max_json_depth``.

The CLI sets them from its global options or the environment
(``REWARDLAB_MAX_CHARS``, ``REWARDLAB_MAX_LINE_BYTES``, ``REWARDLAB_MAX_ITEMS``,
``REWARDLAB_MAX_DEPTH``); library callers pass a :class:`Limits` to
:func:`use_limits`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from rewardlab.data.errors import DataError


@dataclass(frozen=True)
class Limits:
    """Bounds on one input record (see the module doc)."""

    max_chars: int = 100_000
    max_line_bytes: int = 32 * 1024 * 1024
    max_items: int = 4096
    max_depth: int = 400

    def __post_init__(self) -> None:
        for name in ("max_chars", "max_line_bytes", "max_items", "max_depth"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")


_CURRENT: ContextVar[Limits | None] = ContextVar("rewardlab_limits", default=None)

OPTION_HINT = {
    "max_chars": "--max-chars / REWARDLAB_MAX_CHARS",
    "max_line_bytes": "--max-line-bytes / REWARDLAB_MAX_LINE_BYTES",
    "max_items": "--max-items / REWARDLAB_MAX_ITEMS",
    "max_depth": "--max-depth / REWARDLAB_MAX_DEPTH",
}


def current_limits() -> Limits:
    """The limits in force (the defaults unless set)."""
    return _CURRENT.get() or Limits()


def set_limits(limits: Limits) -> None:
    """Make ``limits`` the limits in force for this context (the CLI does this once)."""
    _CURRENT.set(limits)


@contextlib.contextmanager
def use_limits(limits: Limits | None) -> Iterator[None]:
    """Apply ``limits`` inside the block."""
    token = _CURRENT.set(limits)
    try:
        yield
    finally:
        _CURRENT.reset(token)


def over_limit(name: str, found: int, unit: str) -> str:
    """The message for a record over the limit ``name``: ``has 12 characters; the limit is 10 …``."""
    limit = getattr(current_limits(), name)
    return f"has {found} {unit}; the limit is {limit} (set {OPTION_HINT[name]})"


def check_record(row: Any, path: str, line: int | None) -> None:
    """Raise :class:`DataError` when ``row`` has a string, list or nesting over the limits."""
    limits = current_limits()
    stack: list[tuple[Any, str, int]] = [(row, "", 0)]
    while stack:
        value, field, depth = stack.pop()
        if isinstance(value, str):
            if len(value) > limits.max_chars:
                raise DataError(
                    over_limit("max_chars", len(value), "characters"), path=path, line=line,
                    field=field or None,
                )
            continue
        if not isinstance(value, dict | list):
            continue
        if depth >= limits.max_depth:
            raise DataError(
                over_limit("max_depth", depth + 1, "levels of nesting"), path=path, line=line,
                field=field or None,
            )
        if isinstance(value, dict):
            stack.extend((item, f"{field}.{key}" if field else str(key), depth + 1)
                         for key, item in value.items())
        else:
            if len(value) > limits.max_items:
                raise DataError(
                    over_limit("max_items", len(value), "items"), path=path, line=line,
                    field=field or None,
                )
            stack.extend((item, f"{field}[{i}]", depth + 1) for i, item in enumerate(value))
