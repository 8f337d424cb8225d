"""A per-transition reward that aggregates an ensemble's members (WCO, UWO, …).

A policy learner asks a reward for ``transition_rewards(o, a, o')`` of T
transitions (:class:`~rewardlab.optimize.gym_reward.SwappableReward`). A
trajectory reward ensemble
(:class:`~rewardlab.models.structured.trajectory_rm.TrajectoryRewardModel`)
gives each member's normalized step rewards as a (K, T) array
(``member_transition_rewards``); :class:`AggregatedTransitionReward` pays
the policy one aggregation of them per transition, any registered in
:data:`rewardlab.robust.aggregate.AGGREGATIONS`:

    r_t = A(r̃_1(o_t, a_t), …, r̃_K(o_t, a_t)),

e.g. WCO (Coste et al., 2024) r_t = min_k r̃_k, UWO r_t = mean_k r̃_k − λ·Var_k r̃_k
(population variance), or the plain mean (what the model's own
``transition_rewards`` pays). The aggregation acts on each step's rewards, as
Coste et al. apply it to each sample's reward; a segment's return under it is
the sum of the aggregated step rewards.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from rewardlab.robust.aggregate import AGGREGATIONS


class MemberTransitionReward(Protocol):
    """A reward ensemble of transitions: (T, …) arrays → (K, T) member rewards."""

    def member_transition_rewards(
        self, observations: np.ndarray, actions: np.ndarray | None = None,
        next_observations: np.ndarray | None = None,
    ) -> np.ndarray: ...


class AggregatedTransitionReward:
    """``transition_rewards`` = the registered aggregation ``name`` (with ``params``,
    e.g. ``lam`` for UWO) of the model's member rewards of each transition."""

    def __init__(self, model: MemberTransitionReward, name: str = "mean",
                 **params: float) -> None:
        if not hasattr(model, "member_transition_rewards"):
            raise TypeError(f"{type(model).__name__} has no member_transition_rewards: an "
                            "aggregated transition reward needs an ensemble of transitions")
        self.model = model
        self.name = name
        self.params = dict(params)
        self._aggregate = AGGREGATIONS.get(name)
        self._aggregate(np.zeros((1, 1)), **self.params)  # an unknown or bad parameter fails here

    def member_transition_rewards(
        self, observations: np.ndarray, actions: np.ndarray | None = None,
        next_observations: np.ndarray | None = None,
    ) -> np.ndarray:
        """The members' rewards (K, T), unchanged."""
        return np.asarray(self.model.member_transition_rewards(observations, actions,
                                                               next_observations))

    def transition_rewards(
        self, observations: np.ndarray, actions: np.ndarray | None = None,
        next_observations: np.ndarray | None = None,
    ) -> np.ndarray:
        """The aggregated reward of each of T transitions, (T,)."""
        members = self.member_transition_rewards(observations, actions, next_observations)
        return self._aggregate(members, **self.params)

    def describe(self) -> dict[str, Any]:
        return {"aggregate": self.name, **self.params}
