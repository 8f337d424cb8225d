"""Pointwise ratings, HelpSteer2 style: ``{prompt, response, <attribute>: number, …}``.

Wang et al., "HelpSteer2: Open-source dataset for training top-performing
reward models", 2024: each response is rated per attribute (helpfulness,
correctness, coherence, complexity, verbosity on 0–4). A row becomes a
one-response :class:`Comparison` with ``ratings=({attribute: value, …},)``
and no ranking.

The attributes are the ``attributes=`` given, or else every column of the
first row other than ``prompt``, ``response`` and ``id`` whose value is a
number (or a numeric string, as CSV files hold them). Every row must then
carry a number for each attribute: a missing or non-numeric value raises
:class:`DataError` naming the line and the attribute.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain
from typing import Any

from rewardlab.data.errors import DataError
from rewardlab.data.formats._base import (
    FORMATS,
    Rows,
    as_number,
    detected_by,
    has_keys,
    optional_str,
    require_str,
)
from rewardlab.data.record import Comparison

NOT_ATTRIBUTES = frozenset({"prompt", "response", "id"})


def _attributes_of(row: dict[str, Any]) -> tuple[str, ...]:
    return tuple(k for k, v in row.items() if k not in NOT_ATTRIBUTES and as_number(v) is not None)


@FORMATS.register("ratings")
@detected_by(60, has_keys("prompt", "response"))
def load_ratings(
    rows: Rows, path: str, *, attributes: Sequence[str] | None = None
) -> list[Comparison]:
    """One single-response record per row, rated on each attribute."""
    iterator = iter(rows)
    first = next(iterator, None)
    if first is None:
        return []
    names = tuple(attributes) if attributes is not None else _attributes_of(first[1])
    if not names:
        raise DataError(
            "no numeric attribute columns; pass attributes=[...]",
            path=path,
            line=first[0],
            field="attributes",
        )
    records = []
    for line, row in chain([first], iterator):
        prompt = require_str(row, "prompt", path, line)
        response = require_str(row, "response", path, line)
        ratings = {}
        for name in names:
            value = row.get(name)
            if value is None:
                raise DataError("missing", path=path, line=line, field=name)
            number = as_number(value)
            if number is None:
                raise DataError(
                    f"expected a number, got {value!r}", path=path, line=line, field=name
                )
            ratings[name] = number
        row_id = optional_str(row, ("id",), path, line)
        records.append(
            Comparison(
                prompt,
                (response,),
                ratings=(ratings,),
                source=f"{path}:{line}",
                meta={} if row_id is None else {"id": row_id},
            )
        )
    return records
