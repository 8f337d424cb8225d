"""Each sample's reference (ground truth): one rule for data files, datasets and trainers.

A verifier or recipe checks a response against its sample's reference. The
reference comes from the column the user names (``--reference-column``, TRL's
``reference_column``), else from the first of :data:`REFERENCE_COLUMNS` that
the data has: ``solution``, ``answer``, ``ground_truth`` (verl's name), then
``labels`` (OpenRLHF's). A reference that is ``None``, absent or a blank string
is no reference (:func:`rewardlab.protocols.missing_reference`, the same rule
the server applies to ``ground_truth`` and ``labels`` in a request). The CLI
(``score``, ``bon``, ``build``, ``forecast``), the TRL adapter
(:mod:`rewardlab.integrations.trl`) and the verl adapter read references
through here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rewardlab.data.errors import DataError
from rewardlab.protocols import missing_reference

REFERENCE_COLUMNS = ("solution", "answer", "ground_truth", "labels")
"""The columns read as references, in order, when none is named."""


def reference_column(columns: Sequence[str], requested: str | None = None) -> str | None:
    """The column that holds references: ``requested`` when given (``ValueError`` naming it
    and the columns when it is absent), else the first of :data:`REFERENCE_COLUMNS`
    present, else None."""
    if requested is not None:
        if requested not in columns:
            raise ValueError(
                f"reference column {requested!r} is not in the data (columns: "
                f"{', '.join(map(str, columns))})"
            )
        return requested
    return next((name for name in REFERENCE_COLUMNS if name in columns), None)


def row_references(
    rows: Sequence[Mapping[str, Any]],
    lines: Sequence[int],
    path: Path,
    requested: str | None,
    required: bool,
) -> tuple[list[Any] | None, str]:
    """Each row's reference (``None`` where it has none) and the column they come from; a
    :class:`DataError` naming the file (and the line) when ``required`` and a row has none
    or no column holds references."""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    try:
        column = reference_column(columns, requested)
    except ValueError:
        raise DataError(f"no such column (--reference-column); columns: {', '.join(columns)}",
                        path=str(path), field=requested) from None
    if column is None:
        if required:
            raise DataError(
                "this reward checks each response against a reference, but no row has any of "
                f"the columns {', '.join(REFERENCE_COLUMNS)}; name one with "
                "--reference-column",
                path=str(path),
            )
        return None, "reference"
    references = [row.get(column) for row in rows]
    if required:
        for line, reference in zip(lines, references, strict=True):
            if missing_reference(reference):
                raise DataError("missing reference (ground truth)", path=str(path), line=line,
                                field=column)
    return references, column
