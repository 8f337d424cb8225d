"""The local batch-scoring engine: one process, one model, a file in and a file out.

Reads ``{prompt, response, ...}`` rows (JSONL or Parquet), scores them
``batch_size`` rows at a time with ``model.score`` and writes every input
column plus ``reward`` (:mod:`rewardlab.scale.tables`), atomically. The Ray
engine (:mod:`rewardlab.scale.ray_engine`) writes the same file for the same
input.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from rewardlab.scale.tables import AtomicTableWriter, file_format, read_table, score_table

Progress = Callable[[int, int], None]
"""Called with (rows done, rows total) after each batch."""


def score_file_local(
    model: object,
    input_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    batch_size: int = 256,
    progress: Progress | None = None,
) -> int:
    """Score every row of ``input_path`` into ``output_path``; return the row count."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    file_format(output_path)  # fail on a bad suffix before reading anything
    table = read_table(input_path)
    total = table.num_rows
    with AtomicTableWriter(output_path) as writer:
        for start in range(0, total, batch_size):
            writer.write(score_table(model, table.slice(start, batch_size)))
            if progress is not None:
                progress(writer.rows, total)
    return total
