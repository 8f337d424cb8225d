"""A process reward model (PRM) used as an outcome reward.

The response is split into steps by the model's own ``split_steps`` (the
:class:`~rewardlab.protocols.StepRewardModel` contract; rewardlab's PRM keeps
the non-blank lines, :func:`rewardlab.protocols.split_steps`, for a model that
has none) and the PRM scores each step,
r_1 … r_K. A form refines them (Gao et al., 2024, "On Designing Effective RL
Reward at Training Time for LLM Reasoning"; see
:mod:`rewardlab.robust.transforms`):

- ``none``:  r_k;
- ``clip``:  r̃_k = min(r_k − η, 0), so steps can only cost reward and a
  longer chain of correct-looking steps cannot farm it;
- ``delta``: r̃_k = r_k − r_{k+1} (the final step left out), whose sum
  telescopes to r_1, the reward of the first step (the sum from step t on
  is r_t).

and a step reduction (:data:`rewardlab.protocols.STEP_REDUCTIONS`, default
``min``) gives the outcome: ``min``, ``product``, ``last``, ``mean`` or ``sum``
(the return, the quantity Gao et al. bound). A response has at least one step
(an empty response is one empty step, :func:`rewardlab.protocols.split_steps`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rewardlab.protocols import (
    OUTCOME_REDUCTION,
    STEP_REDUCTIONS,
    check_lengths,
    reduce_steps,
    split_steps,
)
from rewardlab.robust.transforms import clip_step_rewards, delta_step_rewards

FORMS = ("none", "clip", "delta")


def step_outcome(step_rewards: np.ndarray, reduce: str, form: str, eta: float = 0.0) -> float:
    """The outcome of one response's step rewards (see the module docstring)."""
    rewards = np.asarray(step_rewards, dtype=np.float64)
    if form == "clip":
        rewards = clip_step_rewards(rewards, eta)
    elif form == "delta":
        rewards = delta_step_rewards(rewards)
    elif form != "none":
        raise ValueError(f"form must be one of {FORMS}, got {form!r}")
    return reduce_steps(rewards, reduce)


class StepOutcomeReward:
    """A reward model from a PRM (anything with ``score_steps(prompts, steps_list)``)."""

    def __init__(self, prm: Any, reduce: str = OUTCOME_REDUCTION, form: str = "none",
                 eta: float = 0.0):
        if not callable(getattr(prm, "score_steps", None)):
            raise ValueError("steps: the model has no score_steps, so it is not a PRM")
        if reduce not in STEP_REDUCTIONS:
            raise ValueError(f"reduce must be one of {STEP_REDUCTIONS.names()}, got {reduce!r}")
        if form not in FORMS:
            raise ValueError(f"form must be one of {FORMS}, got {form!r}")
        self.prm = prm
        self.reduce = reduce
        self.form = form
        self.eta = eta

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        check_lengths(prompts, responses)
        split = getattr(self.prm, "split_steps", split_steps)
        per_step = self.prm.score_steps(prompts, [split(r) for r in responses])
        return np.array([step_outcome(s, self.reduce, self.form, self.eta) for s in per_step])
