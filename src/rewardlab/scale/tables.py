"""Rows of ``{prompt, response, ...}`` in and out of JSONL and Parquet, and scoring them.

Shared by the local and the Ray engine so that both read the same columns,
add the same ``reward`` column (float64, ``r_i = model.score([prompt_i],
[response_i])``, computed a batch at a time) and write byte-for-byte the same
file for the same rows. The format follows the file suffix: ``.jsonl`` or
``.parquet``. JSONL is read with :func:`rewardlab.data.io.read_rows`, so a bad
line gets the same error (file, line, field) as every other loader. Output is
written through :func:`rewardlab.atomic.atomic_file` (a temporary file beside
the target, then renamed), so a crash never leaves half a file;
JSONL output is strict JSON (non-finite numbers as ``null``). An existing
``reward`` column is replaced.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from rewardlab.atomic import atomic_file
from rewardlab.data.errors import DataError
from rewardlab.data.io import read_rows
from rewardlab.strict_json import dumps

FORMATS = {".jsonl": "jsonl", ".parquet": "parquet"}
REQUIRED = ("prompt", "response")


def file_format(path: str | os.PathLike[str]) -> str:
    """``"jsonl"`` or ``"parquet"`` from the suffix; ``DataError`` otherwise."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise DataError(
            f"unsupported file type {suffix or '(none)'!r}; use .jsonl or .parquet", path=str(path)
        )
    return FORMATS[suffix]


def read_table(path: str | os.PathLike[str]) -> pa.Table:
    """All rows of a JSONL or Parquet file, checked for string ``prompt``/``response``."""
    path = Path(path)
    if file_format(path) == "parquet":
        table = pq.read_table(path)
    else:
        rows = []
        for line_no, row in read_rows(path):
            for field in REQUIRED:
                if not isinstance(row.get(field), str):
                    raise DataError("must be a string", path=str(path), line=line_no, field=field)
            rows.append(row)
        table = pa.Table.from_pylist(rows)
    if table.num_rows == 0:
        raise DataError("no rows to score", path=str(path))
    check_columns(table, str(path))
    return table


def check_columns(table: pa.Table, path: str | None = None) -> None:
    """``prompt`` and ``response`` exist, are strings and hold no nulls."""
    for field in REQUIRED:
        if field not in table.column_names:
            raise DataError("missing column", path=path, field=field)
        column = table.column(field)
        if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            raise DataError(f"must be strings, found {column.type}", path=path, field=field)
        if column.null_count:
            raise DataError(f"{column.null_count} rows are null", path=path, field=field)


def score_table(model: Any, table: pa.Table) -> pa.Table:
    """``table`` with a float64 ``reward`` column from ``model.score``."""
    check_columns(table)
    prompts = table.column("prompt").to_pylist()
    responses = table.column("response").to_pylist()
    rewards = np.asarray(model.score(prompts, responses), dtype=np.float64)
    if rewards.shape != (table.num_rows,):
        raise ValueError(f"score() returned shape {rewards.shape} for {table.num_rows} rows")
    if "reward" in table.column_names:
        table = table.drop_columns(["reward"])
    return table.append_column("reward", pa.array(rewards, type=pa.float64()))


class AtomicTableWriter:
    """Write tables one after another to ``path``; the file appears only on success.

    The bytes go through :func:`rewardlab.atomic.atomic_file` (a temporary file
    beside ``path``, renamed in; the umask is respected and a killed writer's
    temporary file is removed by the next write), and JSONL rows are strict
    JSON (:mod:`rewardlab.strict_json`: NaN and ±Infinity become ``null``).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.format = file_format(self.path)
        self.rows = 0
        self._stack = contextlib.ExitStack()
        self._handle: Any = None
        self._parquet: pq.ParquetWriter | None = None

    def __enter__(self) -> AtomicTableWriter:
        self._handle = self._stack.enter_context(atomic_file(self.path))
        return self

    def write(self, table: pa.Table) -> None:
        if self.format == "parquet":
            if self._parquet is None:
                self._parquet = pq.ParquetWriter(self._handle, table.schema)
            self._parquet.write_table(table.cast(self._parquet.schema))
        else:
            for row in table.to_pylist():
                self._handle.write((dumps(row, ensure_ascii=False) + "\n").encode("utf-8"))
        self.rows += table.num_rows

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if self._parquet is not None:
            self._parquet.close()
        if exc_type is None and self.rows == 0:
            error = DataError("no rows were written", path=str(self.path))
            self._stack.__exit__(DataError, error, None)  # removes the temporary file
            raise error
        self._stack.__exit__(exc_type, exc, tb)
