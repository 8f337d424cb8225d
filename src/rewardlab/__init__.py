"""rewardlab: train, audit, harden, use and serve reward models.

Everything downstream of training takes a :class:`RewardModel`; see
``rewardlab.protocols``.
"""

from rewardlab.protocols import PreferenceModel, RewardModel, UncertainRewardModel

__version__ = "0.1.0"

__all__ = ["PreferenceModel", "RewardModel", "UncertainRewardModel", "__version__"]
