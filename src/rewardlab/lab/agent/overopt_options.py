"""The options of ``lab agent-overopt`` (no torch imported here, so the CLI reads its
defaults from this dataclass).

The experiment (:mod:`rewardlab.lab.agent.overopt`): a reward is learned once
from ``comparisons`` labelled pairs of ``segment_length``-step segments cut
from ``random_episodes`` episodes of uniformly random actions (the early
policy's states only, so a policy that improves soon visits states the
reward never saw), frozen, and a policy is trained on it for ``steps``
steps; at ``checkpoints`` evenly spaced points the policy is scored on the
true reward (gold) and the learned one (proxy), with its KL from the initial
policy. Each variant is one way to read the learned reward:

- ``single``: one reward net (K = 1), no penalty;
- ``mean``, ``wco``, ``uwo``: one ensemble of ``ensemble`` members, paying
  the members' mean, their minimum (WCO) or mean − ``uwo_lam``·variance (UWO)
  of each transition (Coste et al., 2024);
- ``lipschitz``: one reward net trained with the gradient penalty
  ``grad_penalty``·E‖∇ₓr̂‖².

Defaults: CartPole-v1 with PPO (rl-baselines3-zoo's setting), 100 comparisons
from 30 random episodes, 100 000 policy steps with 10 checkpoints, 3 seeds,
every variant; they show the gold return rising and falling for ``single``
within the README's 15-minute budget on two cores.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from rewardlab.lab.agent.options import default_reward_options

VARIANTS: dict[str, str] = {
    "single": "one reward net (K = 1)",
    "mean": "an ensemble, the members' mean reward",
    "wco": "an ensemble, the members' minimum reward (worst-case optimization)",
    "uwo": "an ensemble, mean − λ·variance of the members (uncertainty-weighted optimization)",
    "lipschitz": "one reward net trained with the gradient penalty λ·E‖∇ₓr̂‖²",
}
"""The variants of ``lab agent-overopt``, in report order."""


@dataclass(frozen=True)
class VariantSpec:
    """How a variant reads the learned reward: members, gradient penalty, aggregation."""

    members: int
    grad_penalty: float
    aggregate: str
    params: dict[str, float] = field(default_factory=dict)


@dataclass
class AgentOveroptOptions:
    """The environment and algorithm, the reward's data (``random_episodes`` random
    episodes → ``comparisons`` pairs of ``segment_length`` steps, labelled with
    ``temperature`` and ``noise``), the policy's ``steps`` and ``checkpoints``, the
    variants and their settings, seeds, evaluation episodes per checkpoint (the policy's
    most likely actions, or ``sampled`` ones) and the reward models' training options
    (``reward``; members and penalty are set per variant)."""

    env: str = "CartPole-v1"
    algorithm: str = "ppo"
    steps: int = 100_000
    checkpoints: int = 10
    comparisons: int = 100
    random_episodes: int = 30
    segment_length: int = 25
    temperature: float = 0.0
    noise: float = 0.0
    variants: tuple[str, ...] = tuple(VARIANTS)
    ensemble: int = 5
    uwo_lam: float = 0.5
    grad_penalty: float = 1.0
    seeds: int = 3
    seed: int = 0
    eval_episodes: int = 5
    sampled: bool = False
    strip_frames: int = 8
    reward: Any = field(default_factory=default_reward_options)

    def variant(self, name: str) -> VariantSpec:
        """The :class:`VariantSpec` of a variant name (``ValueError`` naming the known ones)."""
        if name not in VARIANTS:
            raise ValueError(f"unknown variant {name!r} (known: {', '.join(VARIANTS)})")
        if name == "single":
            return VariantSpec(1, 0.0, "mean")
        if name == "lipschitz":
            return VariantSpec(1, self.grad_penalty, "mean")
        params = {"lam": self.uwo_lam} if name == "uwo" else {}
        return VariantSpec(self.ensemble, 0.0, "min" if name == "wco" else name, params)

    def checkpoint_steps(self) -> list[int]:
        """Policy steps trained before each checkpoint after the first (step 0): ``steps``
        split evenly, the remainder in the last."""
        share, extra = divmod(self.steps, self.checkpoints)
        return [share] * (self.checkpoints - 1) + [share + extra]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
