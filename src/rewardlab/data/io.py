"""Reading and writing raw rows: JSONL, JSON, CSV, Parquet and Hugging Face datasets.

Every reader yields ``(number, row)`` pairs, ``number`` 1-based, so a loader can
name the place of a bad record in its error:

- JSONL (``.jsonl``, ``.jsonl.gz``): the physical line number; blank lines are
  skipped but counted.
- JSON (``.json``, ``.json.gz``): a list of objects, or an object holding that
  list under ``"data"`` or ``"rows"``; the number is the item's 1-based index.
- CSV (``.csv``, ``.csv.gz``): the header row is row 1, so the first data row is
  2; values stay strings, as the file holds them.
- Parquet (``.parquet``): the 1-based row index, read batch by batch with
  pyarrow so nested columns (chat messages) come back as plain lists/dicts.

``write_jsonl`` writes atomically: a temporary file in the target's folder,
then ``os.replace``, so a reader never sees a half-written file.
"""

from __future__ import annotations

import csv
import gzip
import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from rewardlab.data.errors import DataError

Row = tuple[int, dict[str, Any]]

SUFFIXES = (".jsonl", ".json", ".csv", ".parquet")


def _kind(path: Path) -> tuple[str, bool]:
    """(suffix without ``.gz``, compressed?) of ``path``."""
    name = path.name.lower()
    compressed = name.endswith(".gz")
    if compressed:
        name = name[: -len(".gz")]
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return suffix, compressed
    raise DataError(
        f"unsupported file type; expected one of {', '.join(SUFFIXES)} (optionally .gz)",
        path=str(path),
    )


def _open_text(path: Path, compressed: bool) -> IO[str]:
    if compressed:
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def _check_object(value: Any, path: Path, number: int) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise DataError(
            f"expected a JSON object, got {type(value).__name__}", path=str(path), line=number
        )
    return value


def _jsonl(path: Path, compressed: bool) -> Iterator[Row]:
    with _open_text(path, compressed) as handle:
        for number, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            try:
                value = json.loads(text)
            except json.JSONDecodeError as err:
                raise DataError(
                    f"malformed JSON: {err.msg} (column {err.colno})", path=str(path), line=number
                ) from None
            yield number, _check_object(value, path, number)


def _json(path: Path, compressed: bool) -> Iterator[Row]:
    with _open_text(path, compressed) as handle:
        try:
            value = json.load(handle)
        except json.JSONDecodeError as err:
            raise DataError(
                f"malformed JSON: {err.msg} (column {err.colno})", path=str(path), line=err.lineno
            ) from None
    if isinstance(value, dict):
        for key in ("data", "rows"):
            if isinstance(value.get(key), list):
                value = value[key]
                break
        else:
            raise DataError(
                'expected a list of objects or an object with a list under "data" or "rows"',
                path=str(path),
            )
    if not isinstance(value, list):
        raise DataError(f"expected a list of objects, got {type(value).__name__}", path=str(path))
    for number, item in enumerate(value, start=1):
        yield number, _check_object(item, path, number)


def _csv(path: Path, compressed: bool) -> Iterator[Row]:
    with _open_text(path, compressed) as handle:
        reader = csv.DictReader(handle)
        for number, row in enumerate(reader, start=2):
            if None in row:
                raise DataError(
                    f"row has {len(reader.fieldnames or ()) + len(row[None])} cells "
                    f"but the header has {len(reader.fieldnames or ())}",
                    path=str(path),
                    line=number,
                )
            yield number, dict(row)


def _parquet(path: Path) -> Iterator[Row]:
    import pyarrow.parquet as pq

    number = 0
    for batch in pq.ParquetFile(path).iter_batches():
        for row in batch.to_pylist():
            number += 1
            yield number, row


def read_rows(path: str | Path) -> Iterator[Row]:
    """Yield ``(number, row)`` for every record of a JSONL, JSON, CSV or Parquet file.

    Raises :class:`DataError` naming the file (and line) for a missing file, an
    unknown extension, a malformed JSON line or a record that is not an object.
    """
    path = Path(path)
    suffix, compressed = _kind(path)
    if not path.is_file():
        raise DataError("no such file", path=str(path))
    if suffix == ".jsonl":
        return _jsonl(path, compressed)
    if suffix == ".json":
        return _json(path, compressed)
    if suffix == ".csv":
        return _csv(path, compressed)
    if compressed:
        raise DataError("Parquet files are compressed internally; drop the .gz", path=str(path))
    return _parquet(path)


def _is_saved_dataset(path: Path) -> bool:
    """A folder written by ``Dataset.save_to_disk`` / ``DatasetDict.save_to_disk``."""
    return (path / "state.json").is_file() or (path / "dataset_dict.json").is_file()


def read_hf_dataset(name_or_path: str, split: str = "train", **load_kwargs: Any) -> Iterator[Row]:
    """Yield ``(row number, row)`` from a Hugging Face dataset.

    ``name_or_path`` is a hub name, a local folder of data files (anything
    ``datasets.load_dataset`` accepts) or a folder written by ``save_to_disk``
    (read with ``datasets.load_from_disk``). ``load_kwargs`` go to
    ``load_dataset`` (``data_dir``, ``cache_dir``, …). Needs the ``[hub]`` extra.
    """
    try:
        import datasets
    except ImportError as err:
        raise ImportError(
            "reading Hugging Face datasets needs the 'datasets' package: "
            "pip install 'rewardlab[hub]'"
        ) from err
    local = Path(name_or_path)
    if local.is_dir() and _is_saved_dataset(local):
        loaded = datasets.load_from_disk(str(local))
        if isinstance(loaded, datasets.DatasetDict):
            if split not in loaded:
                raise DataError(
                    f"split {split!r} not found; available: {', '.join(loaded)}",
                    path=name_or_path,
                    field="split",
                )
            loaded = loaded[split]
        dataset = loaded
    else:
        dataset = datasets.load_dataset(name_or_path, split=split, **load_kwargs)
    return ((number, dict(row)) for number, row in enumerate(dataset, start=1))


def write_jsonl(path: str | Path, rows: Iterable[Mapping[str, Any]]) -> int:
    """Write ``rows`` as JSONL (gzip when ``path`` ends in ``.gz``) atomically.

    The rows go to a temporary file in the same folder, which then replaces
    ``path`` in one ``os.replace``; on any error the temporary file is removed
    and ``path`` is left as it was. A new file gets mode 0644, a replaced one
    keeps its mode. Returns the number of rows written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    count = 0
    try:
        with os.fdopen(fd, "wb") as raw:
            stream: IO[bytes] = (
                gzip.GzipFile(fileobj=raw, mode="wb") if path.name.endswith(".gz") else raw
            )
            for row in rows:
                stream.write(json.dumps(dict(row), ensure_ascii=False).encode("utf-8") + b"\n")
                count += 1
            if stream is not raw:
                stream.close()
        os.chmod(tmp_name, path.stat().st_mode & 0o777 if path.exists() else 0o644)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return count
