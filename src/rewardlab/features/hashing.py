"""Hashing backbone: no model, instant features for tests and baselines.

Features are scikit-learn ``HashingVectorizer`` outputs (word 1–2-grams and
character 3–5-grams within word boundaries, l2-normalized, alternate signs) of
the response and of the joined prompt + response, concatenated, plus the log
token length of the response. A linear head on them is a bag-of-ngrams reward
model: the classic baseline a neural reward model must beat.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rewardlab.features.base import ProgressCallback, log_length_feature
from rewardlab.features.join import join_pair


class HashingBackbone:
    """Hashed word and char n-grams of response and prompt+response."""

    def __init__(self, n_features: int = 2**11) -> None:
        self.n_features = n_features

    @property
    def dim(self) -> int:
        return 4 * self.n_features + 1

    def _vectorizers(self):
        from sklearn.feature_extraction.text import HashingVectorizer

        words = HashingVectorizer(
            n_features=self.n_features, ngram_range=(1, 2), alternate_sign=True, norm="l2"
        )
        chars = HashingVectorizer(
            n_features=self.n_features,
            analyzer="char_wb",
            ngram_range=(3, 5),
            alternate_sign=True,
            norm="l2",
        )
        return words, chars

    def encode(
        self,
        prompts: Sequence[str],
        responses: Sequence[str],
        progress: ProgressCallback | None = None,
    ) -> np.ndarray:
        words, chars = self._vectorizers()
        joined = [join_pair(p, r) for p, r in zip(prompts, responses, strict=True)]
        blocks = [
            words.transform(responses),
            chars.transform(responses),
            words.transform(joined),
            chars.transform(joined),
        ]
        out = np.hstack(
            [b.toarray().astype(np.float32) for b in blocks] + [log_length_feature(responses)]
        )
        if progress is not None:
            progress(len(responses), len(responses))
        return out

    @property
    def length_column(self) -> int:
        """The column holding log(1 + |response|)."""
        return self.dim - 1

    def config(self) -> dict[str, Any]:
        return {"kind": "hashing", "n_features": self.n_features}
