"""RewardBench: ``{prompt, chosen, rejected, subset}`` (and an optional ``id``).

Lambert et al., "RewardBench: Evaluating Reward Models for Language Modeling",
2024 (https://github.com/allenai/reward-bench). Each row is one pair; its
``subset`` (``alpacaeval-easy``, ``refusals-dangerous``, …) becomes the
record's ``category`` so accuracy can be reported per subset.
"""

from __future__ import annotations

from rewardlab.data.formats._base import FORMATS, Rows, detected_by, optional_str, require_str
from rewardlab.data.record import Comparison


def _rewardbench_rows(row: dict) -> bool:
    """``{prompt, chosen, rejected, subset}`` with string values."""
    return {"chosen", "rejected", "subset"} <= row.keys() and all(
        isinstance(row.get(k), str) for k in ("prompt", "chosen", "rejected"))


@FORMATS.register("rewardbench")
@detected_by(40, _rewardbench_rows)
def load_rewardbench(rows: Rows, path: str) -> list[Comparison]:
    """One pair per row: chosen at index 0, ``ranking=(0, 1)``, category = subset."""
    records = []
    for line, row in rows:
        prompt = require_str(row, "prompt", path, line)
        chosen = require_str(row, "chosen", path, line)
        rejected = require_str(row, "rejected", path, line)
        subset = require_str(row, "subset", path, line)
        row_id = optional_str(row, ("id",), path, line)
        records.append(
            Comparison(
                prompt,
                (chosen, rejected),
                ranking=(0, 1),
                category=subset,
                source=f"{path}:{line}",
                meta={} if row_id is None else {"id": row_id},
            )
        )
    return records
