"""``auto``: pick the format from the first row's keys.

Each format that can be recognised declares its rule beside its loader
(``@detected_by(rank, matches)``, :class:`~rewardlab.data.formats._base.Detection`);
``auto`` tries the rules in increasing rank and the first match wins, so a
specific rule ranks before a general one that would also match (``rewardbench``,
``rewardbench2`` and ``hh-rlhf`` before ``trl``, which takes any
``{chosen, rejected}`` row). The ranks in use: ``alpaca-eval`` 10 (an outputs
file; an AlpacaEval *folder* is recognised by
:func:`rewardlab.data.load.load_comparisons`), ``pickapic`` 20, ``images`` 30,
``rewardbench`` 40, ``rewardbench2`` 41, ``hh-rlhf`` 42, ``trl`` 50, ``ratings``
60, ``big-bench-mistake`` 70, ``prmbench`` 80, ``gsm8k`` 90; each module's
docstring states its rule. A new format declares its own rule in its module.

Anything no rule matches raises :class:`DataError` listing the known formats.
"""

from __future__ import annotations

from itertools import chain
from pathlib import Path
from typing import Any

from rewardlab.data.errors import DataError
from rewardlab.data.formats._base import FORMATS, Rows, detection_of
from rewardlab.data.io import read_rows
from rewardlab.data.record import Comparison


def detection_order() -> list[str]:
    """The formats ``auto`` can recognise, in the order their rules are tried."""
    ranked = [(detection.rank, name) for name in FORMATS
              if (detection := detection_of(name)) is not None]
    return [name for _, name in sorted(ranked)]


def detect_format(row: dict[str, Any], path: str = "<input>", line: int | None = None) -> str:
    """The name of the first format (by rank) whose rule matches ``row``."""
    for name in detection_order():
        if detection_of(name).matches(row):  # type: ignore[union-attr]
            return name
    known = ", ".join(name for name in FORMATS.names() if name != "auto")
    raise DataError(
        f"cannot detect the format from the columns {sorted(row)}; known formats: {known} "
        "(pass format=... to choose one)",
        path=path,
        line=line,
    )


@FORMATS.register("auto")
def load_auto(rows: Rows, path: str, **options: Any) -> list[Comparison]:
    """Detect the format from the first row, then load with that format's loader."""
    iterator = iter(rows)
    first = next(iterator, None)
    if first is None:
        return []
    name = detect_format(first[1], path, first[0])
    return FORMATS.get(name)(chain([first], iterator), path, **options)


def detect_file_format(path: str | Path) -> str | None:
    """The format of a data file's first row; None for a folder, an ``hf:`` name or
    an empty file (which ``auto`` reads as no records)."""
    if str(path).startswith("hf:") or Path(path).is_dir():
        return None
    rows = read_rows(path)
    try:
        first = next(rows, None)
    finally:
        rows.close()
    return None if first is None else detect_format(first[1], str(path), first[0])
