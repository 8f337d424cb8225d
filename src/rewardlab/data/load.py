"""One entry point from a path to validated :class:`Comparison` records.

``load_comparisons(path, format)`` reads the rows (:mod:`rewardlab.data.io`),
turns them into records with the format's loader
(:data:`rewardlab.data.formats.FORMATS`) and validates them
(:func:`rewardlab.data.validate.validate`), returning the kept records and the
report of what was found. ``path`` may be

- a file (``.jsonl[.gz]``, ``.json[.gz]``, ``.csv[.gz]``, ``.parquet``);
- an AlpacaEval folder (``instructions.jsonl`` + ``outputs.jsonl.gz``);
- any other folder: its ``*.jsonl[.gz]`` files, each read with ``format``
  (e.g. the five task files of BIG-Bench-Mistake);
- ``hf:<name or folder>``: a Hugging Face dataset, ``split`` picking its split.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rewardlab.data.errors import DataError
from rewardlab.data.formats import FORMATS, alpaca_eval_files, load_step_folder
from rewardlab.data.io import Row, read_hf_dataset, read_rows
from rewardlab.data.record import Comparison
from rewardlab.data.validate import DataReport, validate

HF_PREFIX = "hf:"


@dataclass
class LoadResult:
    """The records kept after validation and the validation report."""

    records: list[Comparison]
    report: DataReport


def _rows(path: str | Path, format: str, split: str) -> tuple[Iterable[Row], str]:
    text = str(path)
    if text.startswith(HF_PREFIX):
        name = text[len(HF_PREFIX) :]
        if not name:
            raise DataError("expected hf:<dataset name or folder>", path=text)
        return read_hf_dataset(name, split=split), text
    files = alpaca_eval_files(text) if Path(text).is_dir() else None
    if files is not None:
        if format not in ("auto", "alpaca-eval"):
            raise DataError(
                f"an AlpacaEval folder cannot be read as format {format!r}",
                path=text,
                field="format",
            )
        return read_rows(files[1]), str(files[1])
    return read_rows(Path(text)), text


def load_comparisons(
    path: str | Path,
    format: str = "auto",
    *,
    drop: bool = True,
    split: str = "train",
    **options: Any,
) -> LoadResult:
    """Load, convert and validate. ``options`` go to the format's loader
    (e.g. ``min_gap``, ``pairs_per_prompt``, ``seed`` for ``alpaca-eval``,
    ``attributes`` for ``ratings``); ``drop`` to :func:`validate`; ``split``
    is the split of an ``hf:`` dataset."""
    loader = FORMATS.get(format)
    if is_file_folder(path):
        records = load_step_folder(path, format, **options)
    else:
        rows, name = _rows(path, format, split)
        records = loader(rows, name, **options)
    kept, report = validate(records, drop=drop)
    return LoadResult(kept, report)


def is_file_folder(path: str | Path) -> bool:
    """A folder of data files (e.g. BIG-Bench-Mistake's five tasks), not an AlpacaEval folder."""
    text = str(path)
    return (
        not text.startswith(HF_PREFIX) and Path(text).is_dir() and alpaca_eval_files(text) is None
    )
