"""rewardlab.robust: ensembles, aggregation, uncertainty, transforms and combination.

Everything here is a :class:`~rewardlab.protocols.RewardModel` or builds one, so
evaluation, best-of-n and the server use it unchanged.
"""

from rewardlab.robust.aggregate import AGGREGATIONS, aggregate
from rewardlab.robust.agreement_filter import AgreementReport, agreement_filter, order_votes
from rewardlab.robust.combine import (
    ConstrainedCombiner,
    HarmonicMean,
    LogSigmoidSum,
    ThresholdedSum,
    WeightedSum,
)
from rewardlab.robust.ensemble import (
    AggregatedRewardModel,
    MemberScorer,
    ModelEnsemble,
    as_member_scorer,
    center_per_prompt,
    member_gaps,
)
from rewardlab.robust.routing import ROUTING_CRITERIA, RoutingResult, route_to_humans
from rewardlab.robust.strength import (
    drop_lowest,
    flip_lowest,
    lowest_fraction,
    preference_strength,
    with_margins,
)
from rewardlab.robust.transforms import (
    Clipped,
    LogSigmoidCentered,
    ZNormalized,
    clip_step_rewards,
    delta_step_rewards,
)

__all__ = [
    "AGGREGATIONS",
    "ROUTING_CRITERIA",
    "AggregatedRewardModel",
    "AgreementReport",
    "Clipped",
    "ConstrainedCombiner",
    "HarmonicMean",
    "LogSigmoidCentered",
    "LogSigmoidSum",
    "MemberScorer",
    "ModelEnsemble",
    "RoutingResult",
    "ThresholdedSum",
    "WeightedSum",
    "ZNormalized",
    "aggregate",
    "agreement_filter",
    "as_member_scorer",
    "center_per_prompt",
    "clip_step_rewards",
    "delta_step_rewards",
    "drop_lowest",
    "flip_lowest",
    "lowest_fraction",
    "member_gaps",
    "order_votes",
    "preference_strength",
    "route_to_humans",
    "with_margins",
]
