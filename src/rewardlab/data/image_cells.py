"""An image column of a table (JSONL, CSV, Parquet) read as image responses.

A cell of an image column is one of

* a path (a string) to an image file, relative to the folder of the table it
  is in (an absolute path stays as it is), read as a ``pathlib.Path``;
* a base64 image in a string: a ``data:image/…;base64,`` URL, or bare base64
  whose first bytes decode to a PNG, JPEG or WebP signature (``iVBORw0KGgo``,
  ``/9j/``, ``UklGR``), which a file name does not start with in practice;
* encoded image bytes (a Parquet binary column), or base64 text stored as bytes;
* a Hugging Face ``datasets`` ``Image`` cell, ``{"bytes": …, "path": …}`` as
  Parquet stores it (the bytes when present, else the path).

:func:`read_image_cell` decodes the cell once with the one image decoder
(:func:`rewardlab.data.images.decode_image`) and returns the canonical pixels,
so a corrupt, truncated or missing image is a :class:`DataError` naming the
file, the line and the column before anything is scored.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from rewardlab.data.errors import DataError
from rewardlab.data.images import ImageDecodeError, decode_image, image_format

_DATA_URL = re.compile(r"data:image/[A-Za-z0-9.+-]+;base64,")
_BASE64_SIGNATURES = ("iVBORw0KGgo", "/9j/", "UklGR")


def is_path_cell(value: Any) -> bool:
    """Whether a cell names an image file (a string that is not a base64 image)."""
    return isinstance(value, str) and not (
        _DATA_URL.match(value) or value.startswith(_BASE64_SIGNATURES)
    )


def image_source(value: Any, folder: Path) -> Any:
    """The image response a cell names (a ``Path`` or encoded bytes); ``ValueError`` with a
    one-line reason for a cell that is none of the accepted forms."""
    if isinstance(value, Mapping):
        if value.get("bytes") is not None:
            return image_source(value["bytes"], folder)
        if value.get("path") is not None:
            return image_source(str(value["path"]), folder)
        raise ValueError("an image cell object needs 'bytes' or 'path'")
    if isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
        if image_format(data[:12]) is not None:
            return data
        if data.startswith(tuple(s.encode() for s in _BASE64_SIGNATURES)):  # base64 as binary
            return image_source(data.decode("ascii", "replace"), folder)
        raise ValueError("the bytes are not a PNG, JPEG or WebP file")
    if isinstance(value, str):
        match = _DATA_URL.match(value)
        if match or value.startswith(_BASE64_SIGNATURES):
            try:
                return base64.b64decode(value[match.end():] if match else value, validate=True)
            except (binascii.Error, ValueError):
                raise ValueError("the base64 image is not valid base64") from None
        if not value.strip():
            raise ValueError("the image path is empty")
        path = Path(value)
        return path if path.is_absolute() else folder / path
    raise ValueError(
        f"expected an image path, base64 image or image bytes, got {type(value).__name__}"
    )


def read_image_cell(value: Any, table: str | Path, line: int, field: str) -> np.ndarray:
    """The canonical ``H×W×3`` ``uint8`` pixels of a cell of ``table`` (its line and column
    name the :class:`DataError` of a bad one)."""
    try:
        return decode_image(image_source(value, Path(table).parent))
    except (ImageDecodeError, ValueError) as err:
        raise DataError(str(err), path=str(table), line=line, field=field) from None
