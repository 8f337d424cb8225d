"""Reward-model losses: ``LOSSES.get(name)`` is an :class:`Objective`.

An objective is called as ``loss(batch, **params) -> per-member loss (K,)``
and declares the training units it needs (pairs, ties, rankings, points), so
the training loop (``rewardlab.models.training.loop``) serves every loss
without edits. Each module of this package registers its loss; importing the
package imports them all, so adding a loss is one module plus its test.
"""

from rewardlab.models.losses.base import (
    LOSSES,
    PAIR_PARAMS,
    Objective,
    PairBatch,
    PointBatch,
    RankingBatch,
)
from rewardlab.registry import import_modules

import_modules(__name__, __path__)

__all__ = ["LOSSES", "PAIR_PARAMS", "Objective", "PairBatch", "PointBatch", "RankingBatch"]
