"""Best-of-n with a preference model: pick by round-robin (Copeland) win rate.

A general preference model has no scalar to take the argmax of, and its
preferences may be intransitive (a ≻ b ≻ c ≻ a). Each candidate instead
meets every other once; its Copeland score is its win rate
w_i = (1/(n−1)) Σ_{j≠i} (1[P(c_i ≻ c_j) > ½] + ½·1[= ½])
(:func:`rewardlab.evaluate.preference.copeland_from_matrix`; Copeland, 1951).
The pick is the top win rate; ties go to the higher mean P(c_i ≻ c_j)
(the Borda count of probabilities), then to the lower index. Cost:
n(n−1)/2 comparisons per prompt, all in one ``prob`` call.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rewardlab.evaluate.preference import copeland_from_matrix, round_robin
from rewardlab.protocols import PreferenceModel, check_lengths


def best_of_n_by_preference(
    model: PreferenceModel, prompts: Sequence[str], candidates: Sequence[Sequence[str]]
) -> tuple[list[int], list[np.ndarray]]:
    """Index of the chosen candidate per prompt, and every candidate's Copeland win rate."""
    check_lengths(prompts, candidates)
    if any(len(c) == 0 for c in candidates):
        raise ValueError("field 'candidates': every prompt needs at least one candidate")
    mats = round_robin(model, prompts, candidates)
    wins = [copeland_from_matrix(m) for m in mats]
    picks = []
    for w, m in zip(wins, mats, strict=True):
        top = np.flatnonzero(w == w.max())
        picks.append(int(top[np.argmax(m[top].mean(axis=1))]))
    return picks, wins


class CopelandProxy:
    """A preference model read as a proxy reward: each candidate's Copeland win rate among
    the candidates of the same prompt in one ``score`` call (give it whole pools, e.g.
    ``read_pool(..., batch_size=sys.maxsize)``)."""

    def __init__(self, model: PreferenceModel) -> None:
        self.model = model

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        groups: dict[str, list[int]] = {}
        for i, prompt in enumerate(prompts):
            groups.setdefault(prompt, []).append(i)
        _, wins = best_of_n_by_preference(
            self.model, list(groups), [[responses[i] for i in idx] for idx in groups.values()]
        )
        scores = np.empty(len(prompts), dtype=np.float64)
        for idx, w in zip(groups.values(), wins, strict=True):
            scores[idx] = w
        return scores
