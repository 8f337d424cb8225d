"""An encode that stops part way keeps what it computed: the rerun encodes only the rest.

The bundled all-MiniLM-L6-v2 encodes 12 distinct texts in batches of 2, flushing the
cache every 4 texts. The texts each run sends through the network are counted at
``SentenceEncoder._pooled`` (the one place a batch is computed), and the vectors of the
resumed run are checked against a clean encode into an empty cache.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from rewardlab.features import encoder as encoder_module
from rewardlab.features.encoder import EncoderBackbone, SentenceEncoder

TEXTS = [f"text number {i} " + "with some more words " * (i % 5) for i in range(12)]


@pytest.fixture
def small_flushes(monkeypatch):
    monkeypatch.setattr(encoder_module, "FLUSH_TEXTS", 4)
    monkeypatch.setattr(encoder_module, "FLUSH_SECONDS", 3600.0)


def counting(monkeypatch, fail_after: int | None = None) -> list[int]:
    """Record the size of every batch the encoder computes; raise after ``fail_after``."""
    sizes: list[int] = []
    original = SentenceEncoder._pooled

    def pooled(self, ids):
        if fail_after is not None and len(sizes) == fail_after:
            raise RuntimeError("interrupted")
        sizes.append(len(ids))
        return original(self, ids)

    monkeypatch.setattr(SentenceEncoder, "_pooled", pooled)
    return sizes


def backbone(cache: Path) -> EncoderBackbone:
    return EncoderBackbone(cache_dir=str(cache), batch_size=2)


def reference(tmp_path: Path) -> np.ndarray:
    return backbone(tmp_path / "clean").embed(TEXTS)


def test_an_interrupted_encode_resumes_where_it_stopped(tmp_path, monkeypatch, small_flushes,
                                                        one_torch_thread):
    cache = tmp_path / "cache"
    first = counting(monkeypatch, fail_after=3)  # 3 batches of 2 texts, then an error
    with pytest.raises(RuntimeError, match="interrupted"):
        backbone(cache).embed(TEXTS)
    assert first == [2, 2, 2]
    shards = sorted(backbone(cache).cache.folder.glob("*.safetensors"))
    assert len(shards) == 2  # the flush after 4 texts, and the 2 computed before the error

    monkeypatch.undo()
    monkeypatch.setattr(encoder_module, "FLUSH_TEXTS", 4)
    second = counting(monkeypatch)
    resumed = backbone(cache)
    vectors = resumed.embed(TEXTS)
    assert sum(second) == len(TEXTS) - 6
    assert (resumed.cache.hits, resumed.cache.misses) == (6, 6)
    np.testing.assert_allclose(vectors, reference(tmp_path), atol=1e-5)


CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from rewardlab import atomic
    from rewardlab.features import encoder

    encoder.FLUSH_TEXTS = 4
    encoder.FLUSH_SECONDS = 3600.0

    def kill_at(step):
        if step == "file-replaced":  # the first shard is in place
            os.kill(os.getpid(), signal.SIGKILL)

    atomic.checkpoint = kill_at
    texts = [line for line in sys.argv[2].split("\\x1f")]
    encoder.EncoderBackbone(cache_dir=sys.argv[1], batch_size=2).embed(texts)
    """
)


def test_an_encode_killed_after_its_first_flush_resumes(tmp_path, monkeypatch, one_torch_thread):
    cache = tmp_path / "cache"
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parents[1] / "src"), OMP_NUM_THREADS="1")
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(cache), "\x1f".join(TEXTS)],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    monkeypatch.setattr(encoder_module, "FLUSH_TEXTS", 4)
    sizes = counting(monkeypatch)
    resumed = backbone(cache)
    vectors = resumed.embed(TEXTS)
    assert sum(sizes) == len(TEXTS) - 4  # the first flush held 4 texts
    assert (resumed.cache.hits, resumed.cache.misses) == (4, 8)
    np.testing.assert_allclose(vectors, reference(tmp_path), atol=1e-5)


def test_a_damaged_shard_is_skipped_and_counted(tmp_path, monkeypatch, small_flushes,
                                                one_torch_thread):
    cache = tmp_path / "cache"
    backbone(cache).embed(TEXTS)
    shards = sorted(backbone(cache).cache.folder.glob("*.safetensors"))
    assert len(shards) == 3
    shards[0].write_bytes(shards[0].read_bytes()[:40])
    expected = reference(tmp_path)
    sizes = counting(monkeypatch)
    again = backbone(cache)
    np.testing.assert_allclose(again.embed(TEXTS), expected, atol=1e-5)
    assert again.cache.skipped_shards == 1
    assert sum(sizes) == 4
