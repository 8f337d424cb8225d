"""On-disk embedding cache keyed by (model id, max length, text hash).

Each ``(model id, max length)`` pair has its own folder of shards; a shard is a
safetensors file holding ``hashes`` (uint8, n × 16: the first 16 bytes of each
text's SHA-256) and ``vectors`` (float32, n × d). New vectors go to a new shard
written atomically (:func:`rewardlab.atomic.write_bytes_atomic`: a temporary
name, then renamed), so a crash never leaves a half shard; nothing is ever
unpickled. The encoder stores a shard every few thousand texts as it computes
them (:mod:`rewardlab.features.encoder`), so a killed encode resumes where it
stopped. A shard that cannot be read (damaged outside rewardlab) is skipped, its
texts are encoded again, and :attr:`EmbeddingCache.skipped_shards` counts it; so is
a vector holding NaN or ±Inf.
The folder defaults to ``$REWARDLAB_CACHE`` or ``~/.cache/rewardlab/embeddings``.

``$REWARDLAB_CACHE_MODE`` chooses what the cache does: ``readwrite`` (the
default) reads and adds vectors; ``read`` uses the vectors already there but
adds none, so a long-running process that sees new texts all day (``rewardlab
serve`` sets it) grows neither the folder nor its memory; ``off`` ignores the
cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rewardlab.atomic import write_bytes_atomic
from rewardlab.data.modality import response_digest


def default_cache_dir() -> Path:
    root = os.environ.get("REWARDLAB_CACHE")
    return Path(root) if root else Path.home() / ".cache" / "rewardlab" / "embeddings"


CACHE_MODES = ("readwrite", "read", "off")


def cache_mode() -> str:
    """``$REWARDLAB_CACHE_MODE`` (see the module doc); an unknown value is an error."""
    mode = os.environ.get("REWARDLAB_CACHE_MODE", "readwrite")
    if mode not in CACHE_MODES:
        raise ValueError(
            f"REWARDLAB_CACHE_MODE={mode!r}: expected one of {', '.join(CACHE_MODES)}"
        )
    return mode


@contextlib.contextmanager
def default_cache_mode(mode: str) -> Iterator[None]:
    """Within the block, ``$REWARDLAB_CACHE_MODE`` is ``mode`` unless the user set it."""
    if mode not in CACHE_MODES:
        raise ValueError(f"cache mode {mode!r}: expected one of {', '.join(CACHE_MODES)}")
    if "REWARDLAB_CACHE_MODE" in os.environ:
        yield
        return
    os.environ["REWARDLAB_CACHE_MODE"] = mode
    try:
        yield
    finally:
        os.environ.pop("REWARDLAB_CACHE_MODE", None)


def text_hash(text: Any) -> bytes:
    """The 16-byte cache key of a response: the first bytes of its
    :func:`~rewardlab.data.modality.response_digest` (a text: sha256 of its UTF-8, as
    before; an image: of its pixels, whatever form it came in)."""
    return bytes.fromhex(response_digest(text))[:16]


def _read_shard(shard: Path) -> list[tuple[bytes, np.ndarray]] | None:
    """``(hash, vector)`` of every text in ``shard``; None when it is not a readable shard."""
    from safetensors.numpy import load_file

    try:
        tensors = load_file(shard)
        hashes, vectors = tensors["hashes"], tensors["vectors"]
    except Exception:  # noqa: BLE001 - safetensors' own error for a damaged file; a missing key
        return None
    if hashes.ndim != 2 or hashes.shape[1] != 16 or vectors.ndim != 2 or len(hashes) != len(vectors):
        return None
    finite = np.isfinite(vectors).all(axis=1)  # a non-finite vector is encoded again
    return [(key.tobytes(), vector)
            for key, vector, ok in zip(hashes, vectors, finite, strict=True) if ok]


class EmbeddingCache:
    """Vectors of texts already encoded by one model at one max length."""

    def __init__(self, model_id: str, max_length: int, root: Path | None = None) -> None:
        safe_id = hashlib.sha256(model_id.encode()).hexdigest()[:16]
        self.folder = (root or default_cache_dir()) / f"{safe_id}-L{max_length}"
        self._index: dict[bytes, np.ndarray] | None = None
        self.hits = 0
        self.misses = 0
        self.skipped_shards = 0

    def _load(self) -> dict[bytes, np.ndarray]:
        if self._index is None:
            self._index = {}
            for shard in sorted(self.folder.glob("*.safetensors")):
                pairs = _read_shard(shard)
                if pairs is None:
                    self.skipped_shards += 1
                    continue
                for key, vector in pairs:
                    self._index[key] = vector
        return self._index

    def lookup(self, texts: Sequence[str]) -> tuple[list[np.ndarray | None], list[int]]:
        """Cached vectors (None where missing) and the indices of the missing texts."""
        index = self._load() if cache_mode() != "off" else {}
        found: list[np.ndarray | None] = [index.get(text_hash(t)) for t in texts]
        missing = [i for i, v in enumerate(found) if v is None]
        self.hits += len(texts) - len(missing)
        self.misses += len(missing)
        return found, missing

    def store(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Add vectors for texts as one new shard (atomic write); nothing unless read-write."""
        if len(texts) == 0 or cache_mode() != "readwrite":
            return
        from safetensors.numpy import save

        hashes = np.frombuffer(b"".join(text_hash(t) for t in texts), dtype=np.uint8)
        hashes = hashes.reshape(len(texts), 16)
        shard = {"hashes": hashes, "vectors": np.ascontiguousarray(vectors, np.float32)}
        write_bytes_atomic(self.folder / f"{uuid.uuid4().hex}.safetensors", save(shard))
        index = self._load()
        for key, vector in zip(hashes, vectors, strict=True):
            index[key.tobytes()] = vector
