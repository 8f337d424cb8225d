"""The image modality: every form an image response takes, decoded in one place.

An image response may be a ``PIL.Image.Image``, a numpy array (``H×W``,
``H×W×1``, ``H×W×3`` or ``H×W×4``; ``uint8``, or floating point in [0, 1]), a
``pathlib.Path`` to an image file, or the encoded bytes of a PNG, JPEG or WebP
file (recognised by their magic numbers). A plain ``str`` is always text, never
a path: loaders turn path columns into ``Path`` objects.

The canonical form is an ``H×W×3`` ``uint8`` RGB array (C-contiguous): gray
images are repeated over the three channels, an alpha channel is dropped (as
``PIL.Image.convert("RGB")`` does), floats are scaled by 255 and rounded.
Anything that cannot be decoded raises :class:`ImageDecodeError` (a
``ValueError``) with a one-line reason; loaders add the file, row and field.

Digest: sha256 of ``b"H×W:"`` followed by the pixel bytes, so the same pixels
as PNG bytes, an array or a PIL image are one image for caches and
fingerprints (a JPEG is lossy: its pixels, and so its digest, differ from the
PNG's). The digest of bytes and files is remembered per content (by the
sha256 of the bytes; a file by path, size and modification time) so that
deduplication, fingerprints and cache lookups decode each image once.

Statistics, the trivial "size" of an image (the length-only baseline's
analogue, first entry first): ``pixels`` = H·W; ``brightness`` = mean luma
Y = 0.299 R + 0.587 G + 0.114 B (ITU-R BT.601) scaled to [0, 1];
``contrast`` = RMS contrast, the standard deviation of that luma (Peli,
"Contrast in complex images", JOSA A, 1990).
"""

from __future__ import annotations

import hashlib
import io
import os
import sys
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path, PurePath
from typing import Any

import numpy as np

MAX_PIXELS = 2**26
"""Largest image decoded (67 million pixels, about 8192 × 8192): a decompression bomb
is refused before its pixels are allocated."""

LUMA = np.array([0.299, 0.587, 0.114])
"""ITU-R BT.601 luma weights of R, G, B."""


class ImageDecodeError(ValueError):
    """An image response that cannot be decoded (corrupt, truncated, wrong dtype or shape)."""


def image_format(data: bytes) -> str | None:
    """``"PNG"``, ``"JPEG"`` or ``"WEBP"`` from the first bytes of an encoded image, else None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def _pil_module():
    try:
        from PIL import Image
    except ImportError as err:  # pragma: no cover - pillow comes with matplotlib
        raise ImportError(
            "image responses need pillow: pip install 'rewardlab[image]'"
        ) from err
    return Image


def _is_pil(value: Any) -> bool:
    module = sys.modules.get("PIL.Image")  # no PIL imported: the value cannot be a PIL image
    return module is not None and isinstance(value, module.Image)


def is_image(value: Any) -> bool:
    """Whether ``value`` is an image response in one of the accepted forms (not checked for
    being decodable: :func:`decode_image` does that)."""
    if isinstance(value, np.ndarray):
        return value.ndim in (2, 3)
    if isinstance(value, PurePath):
        return True
    if isinstance(value, bytes | bytearray | memoryview):
        return image_format(bytes(value[:12])) is not None
    return _is_pil(value)


def _from_array(array: np.ndarray) -> np.ndarray:
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3 or array.shape[2] not in (1, 3, 4):
        raise ImageDecodeError(
            f"an image array must be H×W, H×W×1, H×W×3 or H×W×4, got shape {array.shape}"
        )
    if array.shape[0] < 1 or array.shape[1] < 1:
        raise ImageDecodeError(f"an image needs at least one pixel, got shape {array.shape}")
    if array.shape[0] * array.shape[1] > MAX_PIXELS:
        raise ImageDecodeError(_too_large(array.shape[1], array.shape[0]))
    if array.dtype == np.uint8:
        pixels = array
    elif np.issubdtype(array.dtype, np.floating):
        if not np.all(np.isfinite(array)) or array.min() < 0.0 or array.max() > 1.0:
            raise ImageDecodeError("a float image array must hold finite values in [0, 1]")
        pixels = np.rint(array.astype(np.float64) * 255.0).astype(np.uint8)
    else:
        raise ImageDecodeError(
            f"an image array must be uint8, or float in [0, 1]; got dtype {array.dtype}"
        )
    channels = pixels.shape[2]
    if channels == 1:
        pixels = np.repeat(pixels, 3, axis=2)
    elif channels == 4:
        pixels = pixels[:, :, :3]
    return np.ascontiguousarray(pixels)


def _too_large(width: int, height: int) -> str:
    return f"image of {width}×{height} pixels is over the limit of {MAX_PIXELS} pixels"


def _from_pil(image: Any) -> np.ndarray:
    if image.width * image.height > MAX_PIXELS:
        raise ImageDecodeError(_too_large(image.width, image.height))
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    return _from_array(np.array(rgb, dtype=np.uint8))


def _from_bytes(data: bytes, what: str) -> np.ndarray:
    pil = _pil_module()
    try:
        with pil.open(io.BytesIO(data)) as image:
            if image.width * image.height > MAX_PIXELS:
                raise ImageDecodeError(_too_large(image.width, image.height))
            image.load()
            return _from_pil(image)
    except ImageDecodeError:
        raise
    except (OSError, SyntaxError, ValueError, pil.DecompressionBombError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ImageDecodeError(f"{what} is not a decodable image ({reason})") from None


def _read_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        raise ImageDecodeError(
            f"cannot read image file {str(path)!r}: {err.strerror or err}"
        ) from None


def decode_image(value: Any) -> np.ndarray:
    """The canonical ``H×W×3`` ``uint8`` array of an image response in any accepted form.

    Raises :class:`ImageDecodeError` (one line) for a corrupt or truncated file or bytes,
    an unreadable path, a bad array shape or dtype, or an image over :data:`MAX_PIXELS`.
    """
    if isinstance(value, np.ndarray):
        return _from_array(value)
    if _is_pil(value):
        return _from_pil(value)
    if isinstance(value, PurePath):
        return _from_bytes(_read_file(Path(value)), f"file {str(value)!r}")
    if isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
        return _from_bytes(data, f"{image_format(data[:12]) or 'encoded'} data")
    raise ImageDecodeError(f"not an image response: {type(value).__name__}")


def encode_png(image: Any) -> bytes:
    """PNG bytes of an image response (any accepted form); lossless, so decoding them
    gives back the same canonical pixels."""
    pil = _pil_module()
    buffer = io.BytesIO()
    pil.fromarray(decode_image(image), mode="RGB").save(buffer, format="PNG")
    return buffer.getvalue()


def pixel_digest(pixels: np.ndarray) -> bytes:
    """sha256 of ``b"H×W:"`` and the pixel bytes of a canonical image (32 bytes)."""
    header = f"{pixels.shape[0]}x{pixels.shape[1]}:".encode()
    return hashlib.sha256(header + pixels.tobytes()).digest()


class _DigestMemo:
    """The pixel digests of encoded images already decoded, by a key of their content."""

    def __init__(self, size: int = 65536) -> None:
        self.size = size
        self._items: OrderedDict[Any, bytes] = OrderedDict()

    def get(self, key: Any, decode) -> bytes:
        digest = self._items.get(key)
        if digest is None:
            digest = pixel_digest(decode())
            self._items[key] = digest
            if len(self._items) > self.size:
                self._items.popitem(last=False)
        else:
            self._items.move_to_end(key)
        return digest


_MEMO = _DigestMemo()


def image_digest(value: Any) -> bytes:
    """:func:`pixel_digest` of any accepted form; bytes and files are decoded once per
    content (their digest is remembered by the sha256 of the bytes, or by path, size and
    modification time)."""
    if isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
        return _MEMO.get(("bytes", hashlib.sha256(data).digest()), lambda: decode_image(data))
    if isinstance(value, PurePath):
        try:
            stat = os.stat(value)
        except OSError as err:
            raise ImageDecodeError(
                f"cannot read image file {str(value)!r}: {err.strerror or err}"
            ) from None
        key = ("file", os.path.abspath(value), stat.st_size, stat.st_mtime_ns)
        return _MEMO.get(key, lambda: decode_image(value))
    return pixel_digest(decode_image(value))


def image_statistics(pixels: np.ndarray) -> Mapping[str, float]:
    """``pixels`` (H·W), ``brightness`` (mean BT.601 luma in [0, 1]) and ``contrast``
    (its standard deviation) of a canonical image."""
    luma = pixels.reshape(-1, 3) @ LUMA / 255.0
    return {
        "pixels": float(pixels.shape[0] * pixels.shape[1]),
        "brightness": float(luma.mean()),
        "contrast": float(luma.std()),
    }
