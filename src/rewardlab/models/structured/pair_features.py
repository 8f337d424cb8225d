"""Backbone features of ranked pairs, for the structured models that learn from pairs.

The pairs come from :func:`rewardlab.models.training.units.ranked_pairs` (every
ordered pair of every ranking, ties and unranked records counted); each pair's
better and worse response are encoded with the record's prompt in one backbone
call, so a batching backbone sees all texts at once.
"""

from __future__ import annotations

import numpy as np

from rewardlab.features.base import Backbone
from rewardlab.models.training.units import RankedPairs


def encode_pairs(pairs: RankedPairs, backbone: Backbone) -> tuple[np.ndarray, np.ndarray]:
    """``(better, worse)``: the features (n, d) of each pair's two responses."""
    if not pairs:
        empty = np.zeros((0, backbone.dim), np.float32)
        return empty, empty
    prompts = [p.record.prompt for p in pairs]
    better = [p.record.responses[p.better] for p in pairs]
    worse = [p.record.responses[p.worse] for p in pairs]
    both = backbone.encode(prompts + prompts, better + worse)
    return both[: len(pairs)], both[len(pairs) :]
