"""Rows of ``{prompt, response, ...}`` in and out of JSONL and Parquet, and scoring them.

Shared by the local and the Ray engine so that both read the same columns,
add the same ``reward`` column (float64, ``r_i = model.score([prompt_i],
[response_i])``, computed a batch at a time) and write byte-for-byte the same
file for the same rows. The format follows the file suffix: ``.jsonl`` or
``.parquet``. Output is written to a temporary file beside the target and
moved into place with ``os.replace``, so a crash never leaves half a file. An
existing ``reward`` column is replaced.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from rewardlab.data.errors import DataError

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
        with path.open(encoding="utf-8") as f:
            for line_no, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as err:
                    raise DataError(
                        f"invalid JSON: {err.msg}", path=str(path), line=line_no
                    ) from None
                if not isinstance(row, dict):
                    raise DataError("each line must be a JSON object", path=str(path), line=line_no)
                for field in REQUIRED:
                    if not isinstance(row.get(field), str):
                        raise DataError(
                            "must be a string", path=str(path), line=line_no, field=field
                        )
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
    """Write tables one after another to ``path``; the file appears only on success."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.format = file_format(self.path)
        self.rows = 0
        self._tmp: Path | None = None
        self._parquet: pq.ParquetWriter | None = None
        self._text: Any = None

    def __enter__(self) -> AtomicTableWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        os.close(fd)
        self._tmp = Path(tmp)
        if self.format == "jsonl":
            self._text = self._tmp.open("w", encoding="utf-8")
        return self

    def write(self, table: pa.Table) -> None:
        if self.format == "parquet":
            if self._parquet is None:
                assert self._tmp is not None
                self._parquet = pq.ParquetWriter(self._tmp, table.schema)
            self._parquet.write_table(table.cast(self._parquet.schema))
        else:
            for row in table.to_pylist():
                self._text.write(json.dumps(row, ensure_ascii=False) + "\n")
        self.rows += table.num_rows

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        assert self._tmp is not None
        if self._parquet is not None:
            self._parquet.close()
        if self._text is not None:
            self._text.close()
        if exc_type is None and self.rows == 0:
            self._tmp.unlink(missing_ok=True)
            raise DataError("no rows were written", path=str(self.path))
        if exc_type is None:
            os.replace(self._tmp, self.path)
        else:
            self._tmp.unlink(missing_ok=True)
