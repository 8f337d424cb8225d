"""From comparison records to the (prompt, chosen, rejected) pairs a loss trains on.

A ranking of k responses yields every ordered pair it implies (i ranked above
j), as in InstructGPT (Ouyang et al., 2022), which trains on all C(k, 2)
comparisons of a ranking. Ties and unranked records yield no pair; the count
of each is returned so nothing is dropped silently.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from rewardlab.data.record import Comparison


@dataclass
class PairTable:
    """Flat pairs; ``margin`` is NaN where the record had no strength."""

    prompts: list[str] = field(default_factory=list)
    chosen: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    margin: list[float] = field(default_factory=list)
    skipped_ties: int = 0
    skipped_unranked: int = 0

    def __len__(self) -> int:
        return len(self.prompts)

    def margins(self) -> np.ndarray | None:
        values = np.asarray(self.margin, dtype=np.float32)
        return None if np.all(np.isnan(values)) else np.nan_to_num(values, nan=0.0)


def pair_table(records: Sequence[Comparison]) -> PairTable:
    """Every ordered pair implied by each record's ranking."""
    table = PairTable()
    for record in records:
        if record.tie:
            table.skipped_ties += 1
            continue
        if len(record.ranking) < 2:
            table.skipped_unranked += 1
            continue
        strength = np.nan if record.strength is None else float(record.strength)
        for a, better in enumerate(record.ranking):
            for worse in record.ranking[a + 1 :]:
                table.prompts.append(record.prompt)
                table.chosen.append(record.responses[better])
                table.rejected.append(record.responses[worse])
                table.margin.append(strength)
    return table
