"""RewardBench 2: ``{id, prompt, chosen: [..], rejected: [..], subset, num_correct?}``.

Malik et al., 2025, "RewardBench 2: Advancing Reward Model Evaluation"
(https://huggingface.co/datasets/allenai/reward-bench-2). One prompt, a list
of correct responses (one, except in the Ties subset) and a list of
incorrect ones (three in the best-of-4 subsets). A record keeps the correct
responses first and then the incorrect ones, ``ranking=(0,)`` (only the top
is known), ``category`` = subset, and ``meta = {id, num_correct}``;
:mod:`rewardlab.evaluate.rewardbench2` scores it. ``num_correct``, when the
row has it, must equal the number of chosen responses; Ties ids are
``ref:N`` / ``tied:N``.
"""

from __future__ import annotations

from typing import Any

from rewardlab.data.errors import DataError
from rewardlab.data.formats._base import (
    FORMATS,
    Rows,
    detected_by,
    optional_number,
    optional_str,
    require,
    require_str,
)
from rewardlab.data.record import Comparison


def _str_list(row: dict[str, Any], name: str, path: str, line: int) -> list[str]:
    value = require(row, name, path, line)
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise DataError("expected a non-empty list of strings", path=path, line=line, field=name)
    return value


def _rewardbench2_rows(row: dict[str, Any]) -> bool:
    """``{prompt, chosen, rejected, subset}`` with a string prompt and lists of strings."""
    return {"chosen", "rejected", "subset"} <= row.keys() and isinstance(
        row.get("prompt"), str) and all(
        isinstance(v, list) and v and all(isinstance(x, str) for x in v)
        for v in (row["chosen"], row["rejected"]))


@FORMATS.register("rewardbench2")
@detected_by(41, _rewardbench2_rows)
def load_rewardbench2(rows: Rows, path: str) -> list[Comparison]:
    """One record per row: correct responses, then incorrect ones; subset as category."""
    records = []
    for line, row in rows:
        prompt = require_str(row, "prompt", path, line)
        chosen = _str_list(row, "chosen", path, line)
        rejected = _str_list(row, "rejected", path, line)
        subset = require_str(row, "subset", path, line)
        row_id = optional_str(row, ("id",), path, line)
        declared = optional_number(row, ("num_correct",), path, line)
        if declared is not None and declared != len(chosen):
            raise DataError(
                f"is {declared:g} but 'chosen' has {len(chosen)} responses",
                path=path, line=line, field="num_correct",
            )
        meta: dict[str, Any] = {"num_correct": len(chosen)}
        if row_id is not None:
            meta["id"] = row_id
        records.append(
            Comparison(
                prompt,
                (*chosen, *rejected),
                ranking=(0,),
                category=subset,
                source=f"{path}:{line}",
                meta=meta,
            )
        )
    return records
