"""Trajectories and labelled segment pairs on disk, as ``.npz`` or ``.parquet``.

Two kinds of file, told apart by a ``format`` entry:

* ``rewardlab-trajectories``: E trajectories (episodes or segments), each with
  its prompt (the environment id or task);
* ``rewardlab-segment-pairs``: P preference pairs of segments, each with its
  prompt and a ``label``, the probability that the first segment is preferred:
  1 (first), 0 (second) or 0.5 (a tie).

**npz** (``numpy.savez_compressed``, read with ``allow_pickle=False``): the
steps of every trajectory of a group are concatenated, ``lengths`` (E,) cuts
them apart. A group's keys are ``{g}lengths``, ``{g}observations``,
``{g}actions`` and, when every trajectory has them, ``{g}rewards``,
``{g}dones``, ``{g}next_observations``; ``g`` is empty for a trajectory file
and ``first_`` / ``second_`` for a pair file. ``prompts`` (E or P,) and
``labels`` (P,) complete it.

**parquet**: one row per trajectory (or pair) with a ``prompt`` column, list
columns of per-step values (an observation or action is stored flattened, its
shape in the schema metadata ``rewardlab``) and, for pairs, ``label``.

Infos are diagnostics and are not stored. A malformed file is one
:class:`~rewardlab.data.errors.DataError` naming the file, the item and the
field; files are written atomically.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rewardlab.atomic import atomic_file
from rewardlab.data.errors import DataError
from rewardlab.data.record import Comparison
from rewardlab.data.trajectory import ARRAY_FIELDS, Trajectory

TRAJECTORIES = "rewardlab-trajectories"
PAIRS = "rewardlab-segment-pairs"
SUFFIXES = (".npz", ".parquet")
PAIR_GROUPS = ("first_", "second_")
LABELS = {1.0: (0, 1), 0.0: (1, 0)}
"""A pair label (P(first ≻ second)) and the ranking it gives; 0.5 is a tie."""


def _suffix(path: Path) -> str:
    if path.suffix not in SUFFIXES:
        raise ValueError(f"{path}: expected a .npz or .parquet file, got {path.suffix or 'none'!r}")
    return path.suffix


# ------------------------------------------------------------------ writing


def _group_arrays(trajectories: Sequence[Trajectory], group: str) -> dict[str, np.ndarray]:
    """A group's concatenated arrays; optional fields only when every trajectory has them."""
    arrays = {f"{group}lengths": np.array([len(t) for t in trajectories], dtype=np.int64)}
    for name in ARRAY_FIELDS:
        values = [getattr(t, name) for t in trajectories]
        if any(v is None for v in values):
            continue
        arrays[f"{group}{name}"] = np.concatenate(values)
    return arrays


def _pair_label(record: Comparison, index: int) -> float:
    if len(record.responses) != 2:
        raise ValueError(f"record {index}: a segment pair has 2 responses, got {len(record.responses)}")
    if record.tie:
        return 0.5
    if tuple(record.ranking) not in LABELS.values():
        raise ValueError(f"record {index}: a segment pair needs ranking (0, 1) or (1, 0)")
    return 1.0 if tuple(record.ranking) == (0, 1) else 0.0


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    with atomic_file(path) as handle:
        handle.write(buffer.getvalue())


def _list_column(values: Sequence[np.ndarray]) -> Any:
    """One row per array: a list of its steps, each step flattened to a fixed-size list
    (or a scalar for (T,) arrays), keeping the numpy dtype."""
    import pyarrow as pa

    flat = np.concatenate([v.reshape(len(v), -1) for v in values])
    width = flat.shape[1]
    steps = (pa.array(flat[:, 0]) if values[0].ndim == 1
             else pa.FixedSizeListArray.from_arrays(pa.array(flat.reshape(-1)), width))
    offsets = np.concatenate([[0], np.cumsum([len(v) for v in values])]).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), steps)


def _parquet_columns(trajectories: Sequence[Trajectory], group: str) -> tuple[dict, dict]:
    """A group's list columns (flattened per step) and the shapes to restore."""
    columns: dict[str, Any] = {}
    shapes: dict[str, list[int]] = {}
    for name in ARRAY_FIELDS:
        values = [getattr(t, name) for t in trajectories]
        if any(v is None for v in values):
            continue
        shapes[f"{group}{name}"] = list(values[0].shape[1:])
        columns[f"{group}{name}"] = _list_column(values)
    return columns, shapes


def _write_parquet(path: Path, columns: dict[str, Any], meta: dict[str, Any]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(columns).replace_schema_metadata({"rewardlab": json.dumps(meta)})
    buffer = pa.BufferOutputStream()
    pq.write_table(table, buffer)
    with atomic_file(path) as handle:
        handle.write(buffer.getvalue().to_pybytes())


def _prompts(prompts: str | Sequence[str], n: int) -> list[str]:
    listed = [prompts] * n if isinstance(prompts, str) else list(prompts)
    if len(listed) != n or not all(isinstance(p, str) for p in listed):
        raise ValueError(f"prompts: expected one string or {n} strings")
    return listed


def save_trajectories(
    path: str | Path, trajectories: Sequence[Trajectory], prompts: str | Sequence[str]
) -> Path:
    """Write ``trajectories`` (with one prompt, or one per trajectory) to ``.npz``/``.parquet``."""
    path = Path(path)
    listed = _prompts(prompts, len(trajectories))
    if _suffix(path) == ".npz":
        _write_npz(path, {"format": np.array(TRAJECTORIES), "prompts": np.array(listed),
                          **_group_arrays(trajectories, "")})
    else:
        columns, shapes = _parquet_columns(trajectories, "")
        _write_parquet(path, {"prompt": listed, **columns}, {"format": TRAJECTORIES,
                                                              "shapes": shapes})
    return path


def save_segment_pairs(path: str | Path, records: Sequence[Comparison]) -> Path:
    """Write labelled pairs of trajectory segments (Comparisons with two trajectories)."""
    path = Path(path)
    labels = [_pair_label(r, i) for i, r in enumerate(records)]
    sides = [[r.responses[s] for r in records] for s in (0, 1)]
    prompts = [r.prompt for r in records]
    if _suffix(path) == ".npz":
        arrays = {"format": np.array(PAIRS), "prompts": np.array(prompts),
                  "labels": np.array(labels, dtype=np.float64)}
        for group, side in zip(PAIR_GROUPS, sides, strict=True):
            arrays.update(_group_arrays(side, group))
        _write_npz(path, arrays)
        return path
    columns: dict[str, Any] = {"prompt": prompts, "label": labels}
    shapes: dict[str, list[int]] = {}
    for group, side in zip(PAIR_GROUPS, sides, strict=True):
        side_columns, side_shapes = _parquet_columns(side, group)
        columns.update(side_columns)
        shapes.update(side_shapes)
    _write_parquet(path, columns, {"format": PAIRS, "shapes": shapes})
    return path


# ------------------------------------------------------------------ reading


class _Source:
    """A file's columns by name, read the same way whatever the container: ``arrays``
    of an npz, or the Arrow ``table`` of a parquet file (``nested``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such file")
        if _suffix(path) == ".npz":
            self._read_npz()
        else:
            self._read_parquet()

    def _read_npz(self) -> None:
        with open(self.path, "rb") as handle:
            if handle.read(4) != b"PK\x03\x04":
                raise DataError("not a readable .npz file (not a zip archive)",
                                path=str(self.path))
        try:
            with np.load(self.path, allow_pickle=False) as data:
                self.arrays: dict[str, np.ndarray] = {}
                for name in data.files:
                    try:
                        self.arrays[name] = data[name]
                    except ValueError:  # an object array: it would need unpickling
                        raise DataError("holds Python objects; it is not read (no pickle)",
                                        path=str(self.path), field=name) from None
        except (OSError, EOFError, ValueError) as err:  # ValueError: not a zip, "a pickle"
            if isinstance(err, DataError):
                raise
            raise DataError(f"not a readable .npz file ({' '.join(str(err).split())[:120]})",
                            path=str(self.path)) from None
        value = self.arrays.get("format")
        self.format = None if value is None or value.ndim != 0 else value.item()
        self.names = set(self.arrays)
        self.nested = False
        self.shapes: dict[str, list[int]] = {}

    def _read_parquet(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(self.path)
        except (OSError, pa.ArrowException) as err:
            raise DataError(f"not a readable parquet file ({err})", path=str(self.path)) from None
        raw = (table.schema.metadata or {}).get(b"rewardlab")
        try:
            meta = json.loads(raw) if raw is not None else {}
        except json.JSONDecodeError:
            meta = None
        if not isinstance(meta, dict) or not isinstance(meta.get("shapes", {}), dict):
            raise DataError("malformed 'rewardlab' schema metadata", path=str(self.path))
        self.format = meta.get("format")
        self.shapes = meta.get("shapes", {})
        self.table = table
        self.names = set(table.column_names)
        self.nested = True

    def need(self, name: str) -> None:
        if name not in self.names:
            raise DataError("missing", path=str(self.path), field=name)

    def check_format(self, expected: str) -> None:
        if self.format != expected:
            raise DataError(f"expected {expected!r}, got {self.format!r}", path=str(self.path),
                            field="format")

    def values(self, name: str) -> Any:
        """A column: an array (npz) or the Python values of a parquet column."""
        self.need(name)
        return self.table.column(name).to_pylist() if self.nested else self.arrays[name]

    def strings(self, name: str, n: int | None = None) -> list[str]:
        values = list(self.values(name))
        if not all(isinstance(v, str) for v in values) or (n is not None and len(values) != n):
            want = "strings" if n is None else f"{n} strings"
            raise DataError(f"expected {want}", path=str(self.path), field=name)
        return [str(v) for v in values]

    def trajectories(self, group: str, item: str) -> list[Trajectory]:
        """The group's trajectories; a bad one is named by ``item``, its index and group."""
        rows = self._nested_rows(group) if self.nested else self._flat_rows(group)
        out = []
        for i, row in enumerate(rows):
            try:
                out.append(Trajectory(**row))
            except ValueError as err:
                side = f", {group.rstrip('_')} segment" if group else ""
                raise DataError(f"{item} {i}{side}: {err}", path=str(self.path)) from None
        return out

    def _flat_rows(self, group: str) -> list[dict[str, np.ndarray]]:
        lengths = np.asarray(self.values(f"{group}lengths"))
        if lengths.ndim != 1 or lengths.dtype.kind not in "iu" or (lengths < 1).any():
            raise DataError("expected positive integers", path=str(self.path),
                            field=f"{group}lengths")
        ends = np.cumsum(lengths)
        present = {}
        for name in ARRAY_FIELDS:
            key = f"{group}{name}"
            if key not in self.names and name in ("observations", "actions"):
                self.need(key)
            if key in self.names:
                array = self.arrays[key]
                if array.ndim == 0 or array.shape[0] != ends[-1]:
                    raise DataError(f"expected {int(ends[-1])} steps (the sum of lengths), got "
                                    f"{array.shape[0] if array.ndim else 0}",
                                    path=str(self.path), field=key)
                present[name] = np.split(array, ends[:-1])
        return [{name: parts[i] for name, parts in present.items()} for i in range(len(lengths))]

    def _nested_rows(self, group: str) -> list[dict[str, np.ndarray]]:
        present = {}
        for name in ARRAY_FIELDS:
            key = f"{group}{name}"
            if key not in self.names and name in ("observations", "actions"):
                self.need(key)
            if key in self.names:
                present[name] = key
        rows = []
        for i in range(self.table.num_rows):
            row = {}
            for name, key in present.items():
                array = arrow_array(self.table.column(key)[i].values, f"{self.path} (item {i})",
                                    key)
                shape = self.shapes.get(key)
                if shape is not None:
                    try:
                        array = array.reshape(len(array), *shape)
                    except ValueError as err:
                        raise DataError(f"item {i}: {err}", path=str(self.path),
                                        field=key) from None
                row[name] = array
            rows.append(row)
        return rows


def arrow_array(values: Any, where: str, field: str) -> np.ndarray:
    """A (nested) Arrow list as one numpy array of its value type; ragged lists fail."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if values is None:
        raise DataError("missing (null)", path=where, field=field)
    shape = [len(values)]
    while (pa.types.is_list(values.type) or pa.types.is_large_list(values.type)
           or pa.types.is_fixed_size_list(values.type)):
        lengths = pc.list_value_length(values).to_numpy(zero_copy_only=False)
        if values.null_count or len(set(lengths.tolist())) > 1:
            raise DataError("ragged or null nested lists", path=where, field=field)
        shape.append(int(lengths[0]) if len(lengths) else 0)
        values = values.flatten()
    if values.null_count:
        raise DataError("null values", path=where, field=field)
    return values.to_numpy(zero_copy_only=False).reshape(shape)


def _check_count(source: _Source, prompts: list[str], items: Sequence[Any], what: str) -> None:
    if len(items) != len(prompts):
        raise DataError(f"{len(prompts)} prompts but {len(items)} {what}", path=str(source.path),
                        field="prompts")


def load_trajectories(path: str | Path) -> tuple[list[str], list[Trajectory]]:
    """``(prompts, trajectories)`` of a file written by :func:`save_trajectories`."""
    source = _Source(Path(path))
    source.check_format(TRAJECTORIES)
    prompts = source.strings("prompt" if source.nested else "prompts")
    trajectories = source.trajectories("", "trajectory")
    _check_count(source, prompts, trajectories, "trajectories")
    return prompts, trajectories


def load_segment_pairs(path: str | Path) -> list[Comparison]:
    """Labelled segment pairs of a file written by :func:`save_segment_pairs`, as
    Comparisons of two trajectories: ranking (0, 1) for label 1, (1, 0) for 0, a tie
    for 0.5 (``source`` is ``file:pair number``)."""
    source = _Source(Path(path))
    source.check_format(PAIRS)
    prompts = source.strings("prompt" if source.nested else "prompts")
    labels = np.asarray(source.values("label" if source.nested else "labels"), dtype=object)
    first, second = (source.trajectories(group, "pair") for group in PAIR_GROUPS)
    for items, what in ((first, "first segments"), (second, "second segments"),
                        (labels, "labels")):
        _check_count(source, prompts, items, what)
    records = []
    for i, (prompt, label, a, b) in enumerate(zip(prompts, labels, first, second, strict=True)):
        value = label if isinstance(label, int | float | np.number) else None
        if value is None or isinstance(label, bool) or float(value) not in (0.0, 0.5, 1.0):
            raise DataError(f"pair {i}: expected 1 (first preferred), 0 (second) or 0.5 (tie), "
                            f"got {label!r}", path=str(source.path), field="labels")
        ranking = LABELS.get(float(value), (0, 1))
        records.append(Comparison(prompt, (a, b), ranking, tie=float(value) == 0.5,
                                  source=f"{path}:{i + 1}"))
    return records


def label_of(record: Comparison) -> float:
    """P(first ≻ second) that a labelled pair states: 1, 0 or 0.5 (a tie)."""
    return _pair_label(record, 0)


__all__ = [
    "PAIRS",
    "TRAJECTORIES",
    "label_of",
    "load_segment_pairs",
    "load_trajectories",
    "save_segment_pairs",
    "save_trajectories",
]
