"""The format registry and the field checks every loader shares.

A loader is ``(rows, path, **options) -> list[Comparison]`` where ``rows``
yields ``(line, dict)`` (see :mod:`rewardlab.data.io`) and ``path`` names the
input in error messages and in each record's ``source = f"{path}:{line}"``.
Field checks raise :class:`DataError` naming the file, the line and the field.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from rewardlab.data.errors import DataError
from rewardlab.data.io import Row
from rewardlab.data.record import Comparison
from rewardlab.registry import Registry

Loader = Callable[..., list[Comparison]]
Rows = Iterable[Row]

FORMATS: Registry[Loader] = Registry("data format")
"""Every format by name. Each module of :mod:`rewardlab.data.formats` registers its
loaders (``@FORMATS.register("name")``); the package imports every module."""


@dataclass(frozen=True)
class Detection:
    """How ``auto`` recognises a format from a file's first row: ``matches(row)``, tried in
    increasing ``rank`` (a specific rule ranks before a general one that also matches)."""

    rank: int
    matches: Callable[[dict[str, Any]], bool]


def detected_by(rank: int, matches: Callable[[dict[str, Any]], bool]
                ) -> Callable[[Loader], Loader]:
    """Decorator beside ``@FORMATS.register``: ``auto`` picks this format for a first row
    that ``matches`` (see :class:`Detection`); a format without it is named explicitly."""

    def mark(loader: Loader) -> Loader:
        loader.detection = Detection(rank, matches)  # type: ignore[attr-defined]
        return loader

    return mark


def detection_of(name: str) -> Detection | None:
    """The :class:`Detection` of the format ``name`` (None: never chosen by ``auto``)."""
    return getattr(FORMATS.get(name), "detection", None)


def has_keys(*keys: str) -> Callable[[dict[str, Any]], bool]:
    """A rule matching rows that have every one of ``keys``."""
    wanted = frozenset(keys)
    return lambda row: wanted <= row.keys()


def require(row: dict[str, Any], name: str, path: str, line: int) -> Any:
    """``row[name]``; a missing key or a null value is an error."""
    value = row.get(name)
    if value is None:
        raise DataError("missing", path=path, line=line, field=name)
    return value


def require_str(row: dict[str, Any], name: str, path: str, line: int) -> str:
    value = require(row, name, path, line)
    if not isinstance(value, str):
        raise DataError(
            f"expected a string, got {type(value).__name__}", path=path, line=line, field=name
        )
    return value


def as_number(value: Any) -> float | None:
    """``value`` as a finite float when it is a number or a numeric string, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def optional_number(
    row: dict[str, Any], names: tuple[str, ...], path: str, line: int
) -> float | None:
    """The first present, non-null of ``names`` as a float; present but not numeric is an error."""
    for name in names:
        value = row.get(name)
        if value is None or value == "":
            continue
        number = as_number(value)
        if number is None:
            raise DataError(f"expected a number, got {value!r}", path=path, line=line, field=name)
        return number
    return None


def optional_str(row: dict[str, Any], names: tuple[str, ...], path: str, line: int) -> str | None:
    """The first present, non-null of ``names`` as a string (ints are accepted as ids)."""
    for name in names:
        value = row.get(name)
        if value is None or value == "":
            continue
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise DataError(
                f"expected a string, got {type(value).__name__}", path=path, line=line, field=name
            )
        return str(value)
    return None
