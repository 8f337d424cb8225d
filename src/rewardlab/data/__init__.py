"""Records, loaders, validation, splits and the synthetic arena."""

from rewardlab.data.errors import DataError
from rewardlab.data.record import Comparison

__all__ = ["Comparison", "DataError"]
