"""Image preferences as JSONL (or JSON, CSV, Parquet) rows naming image files.

One row per comparison; paths are relative to the folder of the data file (or
absolute):

- a pair: ``{prompt, chosen, rejected}``, ``chosen``/``rejected`` paths;
- a ranking, as in ImageRewardDB (Xu et al., "ImageReward", NeurIPS 2023) and
  HPD v2 (Wu et al., "Human Preference Score v2", 2023): ``{prompt, images,
  ranking}`` with ``ranking`` the indices of ``images`` best first (possibly
  only the top ones), or ``{prompt, images, rank}`` with ``rank`` each image's
  rank, 1 = best (ImageRewardDB's and HPD's ``rank``); ``image_path`` is read
  as ``images``.

Optional columns as for text pairs: ``margin``/``strength``, ``subset``/
``category``, ``annotator``/``user_id``, ``id``, and ``tie`` (true: the first
two ranked images are equally good). Every image is decoded while
loading, so a missing, unreadable or corrupt file is an error naming the data
file, the line and the field (``pairs.jsonl:3: field 'rejected': file
'/data/img/b.png' is not a decodable image (…)``); the records hold
``pathlib.Path`` objects, and a plain string is never taken for a path
elsewhere (:mod:`rewardlab.data.modality`).

:func:`write_image_jsonl` writes records of image responses in this format:
each image as a PNG named by its digest in a folder beside the file, so an
image shared by several records is written once.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rewardlab.data.errors import DataError
from rewardlab.data.formats._base import (
    FORMATS,
    Rows,
    detected_by,
    optional_number,
    optional_str,
    require_str,
)
from rewardlab.data.images import encode_png, image_digest
from rewardlab.data.modality import response_digest
from rewardlab.data.record import Comparison

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif")


def looks_like_image_path(value: Any) -> bool:
    """A string ending in an image file suffix (how ``auto`` tells image rows from text)."""
    return isinstance(value, str) and value.lower().endswith(IMAGE_SUFFIXES)


def _image(value: Any, folder: Path, path: str, line: int, field: str) -> Path:
    if not isinstance(value, str) or not value:
        got = "nothing" if value is None else type(value).__name__
        raise DataError(f"expected an image file path, got {got}", path=path, line=line,
                        field=field)
    file = Path(value) if Path(value).is_absolute() else folder / value
    try:
        image_digest(file)  # decodes it, and remembers its digest for validation and caches
    except ValueError as err:
        raise DataError(str(err), path=path, line=line, field=field) from None
    return file


def _order(row: dict[str, Any], n: int, path: str, line: int) -> tuple[int, ...]:
    """The ranking (indices best first) from ``ranking`` or ``rank``."""
    if row.get("ranking") is not None:
        name, value = "ranking", row["ranking"]
        order = value if isinstance(value, list) else None
    elif row.get("rank") is not None:
        name, value = "rank", row["rank"]
        ranks = value if isinstance(value, list) and len(value) == n else None
        if ranks is not None and all(isinstance(r, int) and not isinstance(r, bool) for r in ranks) \
                and sorted(ranks) == list(range(1, n + 1)):
            return tuple(sorted(range(n), key=lambda i: ranks[i]))
        raise DataError(f"expected the ranks 1…{n} of the {n} images, one each, got {value!r}",
                        path=path, line=line, field=name)
    else:
        raise DataError("missing (give ranking: indices best first, or rank: 1 = best)",
                        path=path, line=line, field="ranking")
    if order is None or not all(isinstance(i, int) and not isinstance(i, bool) for i in order) \
            or len(set(order)) != len(order) or not all(0 <= i < n for i in order):
        raise DataError(f"expected distinct indices into the {n} images, got {value!r}",
                        path=path, line=line, field=name)
    return tuple(order)


def _image_rows(row: dict[str, Any]) -> bool:
    """``{prompt, images | image_path}``, or chosen and rejected both image paths."""
    if "prompt" in row and row.keys() & {"images", "image_path"}:
        return True
    return {"chosen", "rejected"} <= row.keys() and all(
        looks_like_image_path(row[k]) for k in ("chosen", "rejected"))


@FORMATS.register("images")
@detected_by(30, _image_rows)
def load_images(rows: Rows, path: str) -> list[Comparison]:
    """One record per row: a chosen/rejected pair, or images with a ranking."""
    folder = Path(path).parent
    records = []
    for line, row in rows:
        prompt = require_str(row, "prompt", path, line)
        key = "images" if row.get("images") is not None else "image_path"
        if row.get(key) is not None:
            listed = row[key]
            if not isinstance(listed, list) or len(listed) < 2:
                raise DataError("expected a list of two or more image paths", path=path,
                                line=line, field=key)
            responses = tuple(_image(v, folder, path, line, f"{key}[{i}]")
                              for i, v in enumerate(listed))
            ranking = _order(row, len(responses), path, line)
        else:
            responses = (_image(row.get("chosen"), folder, path, line, "chosen"),
                         _image(row.get("rejected"), folder, path, line, "rejected"))
            ranking = (0, 1)
        row_id = optional_str(row, ("id",), path, line)
        tie = row.get("tie", False)
        if not isinstance(tie, bool):
            raise DataError(f"expected true or false, got {tie!r}", path=path, line=line,
                            field="tie")
        records.append(Comparison(
            prompt, responses, ranking, tie=tie,
            strength=optional_number(row, ("margin", "strength"), path, line),
            annotator=optional_str(row, ("annotator", "user_id"), path, line),
            category=optional_str(row, ("subset", "category"), path, line),
            source=f"{path}:{line}",
            meta={} if row_id is None else {"id": row_id},
        ))
    return records


def write_image_jsonl(
    records: Iterable[Comparison], path: str | Path, folder: str = "images",
    extra: Iterable[dict[str, Any]] | None = None,
) -> int:
    """Write ``records`` as JSONL rows of this format: pairs as ``{prompt, chosen,
    rejected}``, others as ``{prompt, images, ranking}``, a tie with ``tie: true``; each
    image as ``FOLDER/<sha256>.png`` beside ``path``. ``extra`` adds columns per row. Files are written atomically; the JSONL
    last. Returns the number of rows."""
    from rewardlab.atomic import write_bytes_atomic
    from rewardlab.data.io import write_jsonl

    target = Path(path)
    written: set[str] = set()

    def name(image: Any) -> str:
        digest = response_digest(image)
        relative = f"{folder}/{digest}.png"
        if digest not in written:
            file = target.parent / relative
            if not file.is_file():
                file.parent.mkdir(parents=True, exist_ok=True)
                write_bytes_atomic(file, encode_png(image))
            written.add(digest)
        return relative

    def rows():
        extras = iter(extra) if extra is not None else None
        for record in records:
            if record.is_pair:
                row: dict[str, Any] = {"prompt": record.prompt, "chosen": name(record.chosen),
                                       "rejected": name(record.rejected)}
            else:
                row = {"prompt": record.prompt, "images": [name(r) for r in record.responses],
                       "ranking": list(record.ranking)}
            if record.tie:
                row["tie"] = True
            if extras is not None:
                row.update(next(extras))
            yield row

    return write_jsonl(target, rows())
