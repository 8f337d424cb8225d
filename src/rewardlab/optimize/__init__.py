"""Using rewards: best-of-n estimates, adaptive n, rejection sampling and dataset builders.

rewardlab does not train policies itself: these modules turn any
:class:`~rewardlab.protocols.RewardModel` and a pool of candidates into
numbers (best-of-n curves) and datasets (SFT and preference rows in TRL's
formats) that TRL's trainers consume; :mod:`rewardlab.integrations.trl` turns
a reward model into a reward function for its online trainers.
"""

from rewardlab.optimize.adaptive import AdaptiveConfig, AdaptiveResult, adaptive_best_of_n
from rewardlab.optimize.bon import best_of_n_curve, bon_weights, expected_best_of_n, kl_bon
from rewardlab.optimize.generate import (
    Generator,
    SamplingConfig,
    StepGenerator,
    TransformersGenerator,
)
from rewardlab.optimize.guided import GuidedConfig, SearchResult, step_beam_search
from rewardlab.optimize.pairs import (
    Built,
    best_vs_worst,
    conditional_tags,
    policy_filtration,
    preference_degrees,
    reward_augmented,
)
from rewardlab.optimize.pool import PromptPool, group_by_prompt, read_pool
from rewardlab.optimize.rejection import RejectionConfig, curated_round, rejection_sample
from rewardlab.optimize.steering import SteeringConfig, SteeringResult, fk_steer
from rewardlab.optimize.vas import (
    ValueAugmentedSampler,
    ValueFitConfig,
    VASConfig,
    collect_rollouts,
    fit_value_head,
)

__all__ = [
    "Generator",
    "GuidedConfig",
    "SamplingConfig",
    "SearchResult",
    "SteeringConfig",
    "SteeringResult",
    "StepGenerator",
    "TransformersGenerator",
    "VASConfig",
    "ValueAugmentedSampler",
    "ValueFitConfig",
    "collect_rollouts",
    "fit_value_head",
    "fk_steer",
    "step_beam_search",
    "AdaptiveConfig",
    "AdaptiveResult",
    "Built",
    "PromptPool",
    "RejectionConfig",
    "adaptive_best_of_n",
    "best_of_n_curve",
    "best_vs_worst",
    "bon_weights",
    "conditional_tags",
    "curated_round",
    "expected_best_of_n",
    "group_by_prompt",
    "kl_bon",
    "policy_filtration",
    "preference_degrees",
    "read_pool",
    "rejection_sample",
    "reward_augmented",
]
