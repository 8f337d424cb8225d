"""Pick-a-Pic: text-to-image preferences, two generated images per prompt.

Format of Pick-a-Pic (Kirstain et al., "Pick-a-Pic: An Open Dataset of User
Preferences for Text-to-Image Generation", NeurIPS 2023;
``yuvalkirstain/pickapic_v1``/``_v2`` on the Hugging Face hub), one row per
comparison, usually Parquet:

- ``caption``: the prompt;
- ``jpg_0``, ``jpg_1``: the two images as encoded bytes (JPEG in the
  original, PNG or WebP also read), or the Hugging Face ``Image`` struct
  ``{"bytes": …, "path": …}``;
- ``label_0``, ``label_1``: 1 and 0 (image 0 preferred), 0 and 1 (image 1),
  or ½ and ½, a tie, as PickScore's own evaluation reads them
  (``trainer/scripts/eval_preference_predictor.py``: ``label_0 == 0.5`` is a
  tie, ``label_0 == 1`` picks image 0);
- optional ``has_label`` (false: an unlabelled row, kept without a ranking and
  counted by the trainer as unranked), ``user_id`` → annotator, and
  ``image_0_uid``/``image_1_uid``/``model_0``/``model_1``/``ranking_id`` kept in
  ``meta``.

Each image is decoded once while loading, so a corrupt or truncated one is an
error naming the file, the row and the field (``train.parquet:7: field
'jpg_1': JPEG data is not a decodable image (…)``); the record keeps the
encoded bytes, and later decodes reuse the digest remembered for them
(:mod:`rewardlab.data.images`).

:func:`write_pickapic` writes records of two image responses in this format,
atomically, with PNG bytes (lossless) for images given in any other form.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from rewardlab.data.errors import DataError
from rewardlab.data.formats._base import (
    FORMATS,
    Rows,
    detected_by,
    has_keys,
    optional_str,
    require_str,
)
from rewardlab.data.images import encode_png, image_digest, image_format
from rewardlab.data.record import Comparison

DETECT_KEYS = frozenset({"caption", "jpg_0", "jpg_1", "label_0", "label_1"})
META_KEYS = ("image_0_uid", "image_1_uid", "model_0", "model_1", "ranking_id")


def _image(row: dict[str, Any], name: str, path: str, line: int) -> bytes:
    value = row.get(name)
    if isinstance(value, dict):  # the Hugging Face Image feature's struct
        value = value.get("bytes")
    if value is None:
        raise DataError("missing (expected the image's encoded bytes)", path=path, line=line,
                        field=name)
    if not isinstance(value, bytes | bytearray):
        raise DataError(f"expected encoded image bytes, got {type(value).__name__}", path=path,
                        line=line, field=name)
    data = bytes(value)
    if image_format(data[:12]) is None:
        raise DataError("not PNG, JPEG or WebP data", path=path, line=line, field=name)
    try:
        image_digest(data)  # decodes it, and remembers its digest for validation and caches
    except ValueError as err:
        raise DataError(str(err), path=path, line=line, field=name) from None
    return data


def _label(row: dict[str, Any], name: str, path: str, line: int) -> float:
    value = row.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DataError(f"expected 0, 0.5 or 1, got {value!r}", path=path, line=line, field=name)
    return float(value)


def _ranking(row: dict[str, Any], path: str, line: int) -> tuple[tuple[int, ...], bool]:
    """(ranking, tie) from ``label_0``/``label_1``; an unlabelled row has no ranking."""
    if row.get("has_label") is False:
        return (), False
    labels = (_label(row, "label_0", path, line), _label(row, "label_1", path, line))
    if labels == (1.0, 0.0):
        return (0, 1), False
    if labels == (0.0, 1.0):
        return (1, 0), False
    if labels == (0.5, 0.5):
        return (0, 1), True
    raise DataError(
        f"labels {labels[0]:g}, {labels[1]:g}: expected 1 and 0, 0 and 1, or 0.5 and 0.5 (a tie)",
        path=path, line=line, field="label_1",
    )


@FORMATS.register("pickapic")
@detected_by(20, has_keys(*DETECT_KEYS))
def load_pickapic(rows: Rows, path: str) -> list[Comparison]:
    """One record per row: the two images as encoded bytes, ranked by the labels."""
    records = []
    for line, row in rows:
        prompt = require_str(row, "caption", path, line)
        images = (_image(row, "jpg_0", path, line), _image(row, "jpg_1", path, line))
        ranking, tie = _ranking(row, path, line)
        meta = {key: row[key] for key in META_KEYS if isinstance(row.get(key), str | int)}
        records.append(Comparison(
            prompt, images, ranking, tie=tie,
            annotator=optional_str(row, ("user_id",), path, line),
            source=f"{path}:{line}", meta=meta,
        ))
    return records


def pickapic_row(record: Comparison) -> dict[str, Any]:
    """The Pick-a-Pic row of a record of two image responses (PNG bytes unless already
    encoded as PNG/JPEG/WebP); the ranking gives the labels, a tie ½/½."""
    if len(record.responses) != 2 or len(record.ranking) not in (0, 2):
        raise ValueError(
            f"{record.source or 'record'}: Pick-a-Pic rows hold two images and their order"
        )
    images = [
        bytes(r) if isinstance(r, bytes | bytearray) and image_format(bytes(r[:12])) else
        encode_png(r)
        for r in record.responses
    ]
    if record.tie:
        labels = (0.5, 0.5)
    elif record.ranking:
        labels = (1.0, 0.0) if record.ranking[0] == 0 else (0.0, 1.0)
    else:
        labels = (0.0, 0.0)
    return {"caption": record.prompt, "jpg_0": images[0], "jpg_1": images[1],
            "label_0": labels[0], "label_1": labels[1], "has_label": bool(record.ranking)}


def write_pickapic(
    records: Iterable[Comparison], path: str | Path, extra: Sequence[dict[str, Any]] | None = None
) -> int:
    """Write ``records`` as a Pick-a-Pic Parquet file (atomic: a temporary file, then
    renamed); ``extra`` adds columns per row (e.g. the digits' ``gold_0``/``gold_1``).
    Returns the number of rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from rewardlab.atomic import atomic_file

    rows = [pickapic_row(r) for r in records]
    if extra is not None:
        if len(extra) != len(rows):
            raise ValueError(f"extra has {len(extra)} rows for {len(rows)} records")
        rows = [{**row, **more} for row, more in zip(rows, extra, strict=True)]
    table = pa.Table.from_pylist(rows)
    with atomic_file(path) as handle:
        pq.write_table(table, handle)
    return len(rows)
