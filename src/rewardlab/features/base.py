"""The backbone interface and the spec strings that name backbones.

A backbone maps (prompt, response) pairs to a float32 matrix of shape
``(n, dim)``. Specs on the command line: ``hashing``, ``encoder`` (the bundled
all-MiniLM-L6-v2) or ``encoder:PATH_OR_HUB_NAME``. ``config()`` returns a JSON
dict from which ``backbone_from_config`` rebuilds the same backbone. A backbone
may name the column that holds the response length (``length_column``); the
trainer leaves that coefficient out of its L2 penalty.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

ProgressCallback = Callable[[int, int], None]
"""Called as ``progress(done, total)`` during long work."""


@runtime_checkable
class Backbone(Protocol):
    """Features for reward heads."""

    @property
    def dim(self) -> int: ...

    def encode(
        self,
        prompts: Sequence[str],
        responses: Sequence[str],
        progress: ProgressCallback | None = None,
    ) -> np.ndarray: ...

    def config(self) -> dict[str, Any]: ...


def response_lengths(responses: Sequence[str]) -> np.ndarray:
    """Whitespace-token count of each response, as float64: the one notion of length
    shared by the backbones' length feature and the length-only baseline."""
    return np.array([len(r.split()) for r in responses], dtype=np.float64)


def log_length_feature(responses: Sequence[str]) -> np.ndarray:
    """The backbones' last feature column, log(1 + |response|), float32 (n, 1)."""
    return np.log1p(response_lengths(responses)).astype(np.float32)[:, None]


def build_backbone(spec: str, **options: Any) -> Backbone:
    """Build a backbone from a CLI spec such as ``hashing`` or ``encoder:PATH``."""
    kind, _, arg = spec.partition(":")
    if kind == "hashing":
        from rewardlab.features.hashing import HashingBackbone

        return HashingBackbone(**options)
    if kind == "encoder":
        from rewardlab.features.encoder import EncoderBackbone

        return EncoderBackbone(model=arg or None, **options)
    raise ValueError(
        f"unknown backbone {spec!r}; use 'hashing', 'encoder' or 'encoder:PATH_OR_NAME'"
    )


def backbone_from_config(config: dict[str, Any]) -> Backbone:
    """Rebuild the backbone that wrote ``config``."""
    config = dict(config)
    kind = config.pop("kind")
    if kind == "hashing":
        from rewardlab.features.hashing import HashingBackbone

        return HashingBackbone(**config)
    if kind == "encoder":
        from rewardlab.features.encoder import EncoderBackbone

        config.pop("model_id", None)
        config.setdefault("layers", [-1])  # saved before layers were configurable
        return EncoderBackbone(**config)
    raise ValueError(f"unknown backbone kind {kind!r} in model config")
