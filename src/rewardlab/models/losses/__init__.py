"""Reward-model losses: ``LOSSES.get(name)`` is an :class:`Objective`.

An objective is called as ``loss(batch, **params) -> per-member loss (K,)``
and declares the training units it needs (pairs, ties, rankings, points), so
the training loop (``rewardlab.models.train``) serves every loss without
edits. Adding a loss is one module plus one registry line here.
"""

from rewardlab.models.heads import HEADS
from rewardlab.models.losses.adaptive_margin import adaptive_margin_loss
from rewardlab.models.losses.base import Objective, PairBatch, PointBatch, RankingBatch
from rewardlab.models.losses.bce import bce_loss
from rewardlab.models.losses.bradley_terry import bradley_terry_loss
from rewardlab.models.losses.davidson import davidson_loss, initial_log_nu
from rewardlab.models.losses.label_smoothing import label_smoothing_loss
from rewardlab.models.losses.margin_bt import margin_bt_loss
from rewardlab.models.losses.plackett_luce import plackett_luce_loss
from rewardlab.models.losses.rao_kupper import initial_log_theta_minus_one, rao_kupper_loss
from rewardlab.models.losses.regression import MultiAttributeHead, regression_loss
from rewardlab.models.losses.scaled_bt import scaled_bt_loss
from rewardlab.registry import Registry

# the regression loss's head; registered so saved regression models load by name
HEADS.add("multi-attribute", MultiAttributeHead)

PAIR_PARAMS = ("strength_from",)

LOSSES: Registry[Objective] = Registry("loss")
LOSSES.add("bt", Objective(bradley_terry_loss, unit_params=PAIR_PARAMS))
LOSSES.add("scaled-bt", Objective(scaled_bt_loss, needs_margin=True, unit_params=PAIR_PARAMS))
LOSSES.add("margin-bt", Objective(margin_bt_loss, needs_margin=True, unit_params=PAIR_PARAMS))
LOSSES.add("label-smoothing", Objective(label_smoothing_loss, unit_params=PAIR_PARAMS))
LOSSES.add(
    "adaptive-margin", Objective(adaptive_margin_loss, needs_margin=True, unit_params=PAIR_PARAMS)
)
LOSSES.add(
    "davidson",
    Objective(davidson_loss, units="ties", unit_params=PAIR_PARAMS, learned=initial_log_nu),
)
LOSSES.add(
    "rao-kupper",
    Objective(
        rao_kupper_loss, units="ties", unit_params=PAIR_PARAMS, learned=initial_log_theta_minus_one
    ),
)
LOSSES.add("plackett-luce", Objective(plackett_luce_loss, units="rankings"))
LOSSES.add(
    "regression",
    Objective(
        regression_loss, units="points", outputs="attributes", unit_params=("attributes", "weights")
    ),
)
LOSSES.add("bce", Objective(bce_loss, units="points", unit_params=("label",)))

__all__ = [
    "LOSSES",
    "MultiAttributeHead",
    "Objective",
    "PairBatch",
    "PointBatch",
    "RankingBatch",
    "bradley_terry_loss",
]
