"""Reward heads: modules mapping features (K, B, d) to rewards (K, B).

Every head is batched over K ensemble members (K = 1 for a single model), so
an ensemble's heads train together in one forward/backward pass. Each module
of this package registers its head in ``HEADS`` (``heads.base``); importing the
package imports them all, so a new head is its module plus its test.
"""

from rewardlab.models.heads.base import HEADS
from rewardlab.registry import import_modules

import_modules(__name__, __path__)

from rewardlab.models.heads.linear import LinearHead  # noqa: E402
from rewardlab.models.heads.mlp import MLPHead  # noqa: E402
from rewardlab.models.heads.multi_attribute import MultiAttributeHead  # noqa: E402

__all__ = ["HEADS", "LinearHead", "MLPHead", "MultiAttributeHead"]
