"""The backbone interface.

A backbone maps (prompt, response) pairs to a float32 matrix of shape
``(n, dim)``. ``config()`` returns a JSON dict (with its ``kind``) from which
``rewardlab.features.backbones.backbone_from_config`` rebuilds the same
backbone; the spec strings that name backbones live in that module too. A backbone
may name the column that holds the response length (``length_column``); the
trainer leaves that coefficient out of its L2 penalty.

Responses are any modality (:mod:`rewardlab.data.modality`); the "length" of a
response is its modality's first trivial statistic (text: whitespace tokens;
images: pixels), the one notion shared by the backbones' length feature and
the length-only baseline.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from rewardlab.data.modality import response_statistics
from rewardlab.protocols import Response

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
        responses: Sequence[Response],
        progress: ProgressCallback | None = None,
    ) -> np.ndarray: ...

    def config(self) -> dict[str, Any]: ...


def response_lengths(responses: Sequence[Response]) -> np.ndarray:
    """The "length" of each response as float64: its modality's first statistic
    (whitespace tokens for text, H·W pixels for images), the one notion of length
    shared by the backbones' length feature and the length-only baseline."""
    return next(iter(response_statistics(responses).values()))


def log_length_feature(responses: Sequence[Response]) -> np.ndarray:
    """The backbones' last feature column, log(1 + |response|), float32 (n, 1)."""
    return np.log1p(response_lengths(responses)).astype(np.float32)[:, None]
