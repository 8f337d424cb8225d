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

Every problem is a :class:`~rewardlab.data.errors.DataError` naming the file
and the line: bytes that are not UTF-8 (with their byte offset), a truncated or
non-gzip ``.gz``, malformed JSON or nesting too deep, an unreadable Parquet
file, and a record over the bounds of :mod:`rewardlab.data.limits` (line bytes,
characters per string, items per list, nesting; a long line is refused while
it is read, never held whole).

``write_jsonl`` writes strict JSON atomically: a temporary file in the target's
folder, then ``os.replace``, so a reader never sees a half-written file. A
column holding an image response (bytes, a ``Path``, a PIL image, an array of
two or three dimensions) is written as its path or ``{"sha256": digest}``
(:func:`rewardlab.data.modality.jsonable_response`), never as raw bytes.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import gzip
import json
import stat
import zlib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from rewardlab.atomic import atomic_file
from rewardlab.data.errors import DataError
from rewardlab.data.limits import check_record, current_limits, over_limit
from rewardlab.data.modality import jsonable_response, modality_of
from rewardlab.strict_json import dumps

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


@contextlib.contextmanager
def _open_binary(path: Path, compressed: bool, where: list[int]) -> Iterator[IO[bytes]]:
    """``path`` opened for reading bytes; read errors become a :class:`DataError`.

    ``where[0]`` is the line being read, named in the error: a truncated or
    non-gzip ``.gz``, a corrupt stream, or an OS error while reading.
    """
    try:
        with gzip.open(path, "rb") if compressed else open(path, "rb") as handle:
            yield handle
    except DataError:
        raise
    except (EOFError, gzip.BadGzipFile, zlib.error) as err:
        raise DataError(
            f"not a complete gzip file ({err})", path=str(path), line=where[0] or None
        ) from None
    except OSError as err:
        raise DataError(
            f"cannot read: {err.strerror or err}", path=str(path), line=where[0] or None
        ) from None


def _decode(data: bytes, path: Path, line: int, offset: int) -> str:
    """UTF-8 text of one line; an error names the line and the byte offset in the file."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise DataError(
            f"not valid UTF-8 at byte offset {offset + err.start} ({err.reason})",
            path=str(path),
            line=line,
        ) from None


def _lines(handle: IO[bytes], path: Path, where: list[int]) -> Iterator[tuple[int, str]]:
    """``(line number, text)`` of every line, decoded, each within ``max_line_bytes``."""
    limit = current_limits().max_line_bytes
    offset = 0
    number = 0
    while True:
        where[0] = number + 1  # the line being read, named by a read error
        data = handle.readline(limit + 1)
        if not data:
            return
        number += 1
        if len(data) > limit and not data.endswith(b"\n"):
            raise DataError(
                f"line {over_limit('max_line_bytes', len(data), 'bytes or more')}",
                path=str(path),
                line=number,
            )
        yield number, _decode(data, path, number, offset)
        offset += len(data)


def _parse(text: str, path: Path, line: int | None) -> Any:
    """``json.loads`` with its errors named by file and line."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise DataError(
            f"malformed JSON: {err.msg} (column {err.colno})",
            path=str(path),
            line=err.lineno if line is None else line,
        ) from None
    except RecursionError:
        raise DataError("malformed JSON: nesting too deep", path=str(path), line=line) from None


def _check_object(value: Any, path: Path, number: int) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise DataError(
            f"expected a JSON object, got {type(value).__name__}", path=str(path), line=number
        )
    check_record(value, str(path), number)
    return value


def _jsonl(path: Path, compressed: bool) -> Iterator[Row]:
    where = [0]
    with _open_binary(path, compressed, where) as handle:
        for number, text in _lines(handle, path, where):
            if text.strip():
                yield number, _check_object(_parse(text, path, number), path, number)


def _json(path: Path, compressed: bool) -> Iterator[Row]:
    where = [0]
    with _open_binary(path, compressed, where) as handle:
        data = handle.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise DataError(
            f"not valid UTF-8 at byte offset {err.start} ({err.reason})",
            path=str(path),
            line=data.count(b"\n", 0, err.start) + 1,
        ) from None
    value = _parse(text, path, None)
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
    where = [0]
    with _open_binary(path, compressed, where) as handle:
        reader = csv.DictReader(text for _number, text in _lines(handle, path, where))
        try:
            for number, row in enumerate(reader, start=2):
                if None in row:
                    raise DataError(
                        f"row has {len(reader.fieldnames or ()) + len(row[None])} cells "
                        f"but the header has {len(reader.fieldnames or ())}",
                        path=str(path),
                        line=number,
                    )
                check_record(row, str(path), number)
                yield number, dict(row)
        except csv.Error as err:
            raise DataError(f"malformed CSV: {err}", path=str(path), line=where[0]) from None


def _parquet(path: Path) -> Iterator[Row]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    number = 0
    try:
        for batch in pq.ParquetFile(path).iter_batches():
            for row in batch.to_pylist():
                number += 1
                check_record(row, str(path), number)
                yield number, row
    except (pa.ArrowException, OSError) as err:
        raise DataError(
            f"not a readable Parquet file ({err})", path=str(path), line=number + 1 if number else None
        ) from None


def read_json_object(path: Path) -> dict[str, Any]:
    """The JSON object in ``path``; a :class:`DataError` naming the file and line otherwise."""
    try:
        value = json.loads(path.read_bytes().decode("utf-8"))
    except json.JSONDecodeError as err:
        raise DataError(f"malformed JSON: {err.msg}", path=str(path), line=err.lineno) from None
    except (UnicodeDecodeError, RecursionError) as err:
        raise DataError(f"not a JSON file ({type(err).__name__})", path=str(path)) from None
    if not isinstance(value, dict):
        raise DataError(f"expected a JSON object, got {type(value).__name__}", path=str(path))
    return value


def not_a_file(path: Path) -> str:
    """Why ``path``, which is not a regular file, cannot be read as one (a pipe or a device
    is never opened: reading one could block or never end)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return "no such file" + (" (a symbolic link to nothing)" if path.is_symlink() else "")
    except OSError as err:
        if err.errno == errno.ELOOP:
            return "is a symbolic link loop"
        return f"cannot be read ({err.strerror})"
    if stat.S_ISDIR(mode):
        return "is a folder, not a file"
    return "is a device, pipe or socket, not a regular file"


def read_rows(path: str | Path) -> Iterator[Row]:
    """Yield ``(number, row)`` for every record of a JSONL, JSON, CSV or Parquet file.

    Raises :class:`DataError` naming the file (and line) for a missing file, an
    unknown extension, a malformed JSON line or a record that is not an object.
    """
    path = Path(path)
    suffix, compressed = _kind(path)
    if not path.is_file():
        raise DataError(not_a_file(path), path=str(path))
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
        try:
            dataset = datasets.load_dataset(name_or_path, split=split, **load_kwargs)
        except (OSError, ValueError, KeyError, FileNotFoundError) as err:
            # offline or unknown (ConnectionError is an OSError), a bad split, a folder it
            # cannot read: datasets raises these, each with a message of its own
            reason = (str(err).strip().splitlines() or [type(err).__name__])[0][:300]
            raise DataError(f"cannot load the dataset ({type(err).__name__}: {reason})",
                            path=name_or_path) from None
    return _checked(enumerate(dataset, start=1), name_or_path)


def _checked(rows: Iterable[tuple[int, Mapping[str, Any]]], name: str) -> Iterator[Row]:
    for number, row in rows:
        check_record(row, name, number)
        yield number, dict(row)


def _jsonable(value: Any) -> Any:
    """A column value as JSON can hold it: a response of a modality other than text as its
    path or digest; anything else as it is."""
    if value is None or isinstance(value, str | int | float | bool | list | tuple | dict):
        return value
    try:
        modality_of(value)
    except TypeError:  # not a response: a number, a 1-D array, …
        return value
    return jsonable_response(value)


def write_jsonl(path: str | Path, rows: Iterable[Mapping[str, Any]]) -> int:
    """Write ``rows`` as strict JSONL (gzip when ``path`` ends in ``.gz``) atomically.

    Each row is one line of :func:`rewardlab.strict_json.dumps` (non-finite
    numbers become ``null``). The rows go to a temporary file in the same
    folder, which then replaces ``path`` (:func:`rewardlab.atomic.atomic_file`);
    on any error ``path`` is left as it was. Returns the number of rows written.
    """
    count = 0
    with atomic_file(path) as raw:
        stream: IO[bytes] = (
            gzip.GzipFile(Path(path).name, "wb", fileobj=raw, mtime=0) if str(path).endswith(".gz") else raw
        )
        for row in rows:
            plain = {key: _jsonable(value) for key, value in dict(row).items()}
            stream.write(dumps(plain, ensure_ascii=False).encode("utf-8") + b"\n")
            count += 1
        if stream is not raw:
            stream.close()
    return count
