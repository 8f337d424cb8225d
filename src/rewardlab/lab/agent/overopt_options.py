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
  ``grad_penalty``·E‖∇ₓr̂‖²;
- ``true`` (asked for, not in the default list): the control, a policy trained on the
  environment's own reward with the same steps, checkpoints and evaluation, its proxy
  read by ``single``'s net; its gold curve shows how much the algorithm's own
  instability moves the gold, apart from any reward.

Defaults: CartPole-v1 with PPO (rl-baselines3-zoo's setting), 100 comparisons
from 30 random episodes, 100 000 policy steps with 10 checkpoints, 3 seeds,
the five learned-reward variants, sized for about 15 minutes on two cores. At these
defaults, on CartPole and on Pendulum (SAC), the proxy rises while the gold does not
fall; with 10 comparisons from 10 random episodes on CartPole the single reward's gold
peaks and falls over eight seeds while the control's does not (docs/results/agents.md).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from rewardlab.lab.agent.options import LAB_REWARD, PreferenceLoopOptions, default_reward_options
from rewardlab.models.training.config import SEED_MAX, ObjectiveOptions
from rewardlab.options import (
    OptionError,
    check,
    choice_list,
    list_text,
    option,
    redefault,
    refuse_unread,
)

VARIANTS: dict[str, str] = {
    "single": "one reward net (K = 1)",
    "mean": "an ensemble, the members' mean reward",
    "wco": "an ensemble, the members' minimum reward (worst-case optimization)",
    "uwo": "an ensemble, mean − λ·variance of the members (uncertainty-weighted optimization)",
    "lipschitz": "one reward net trained with the gradient penalty λ·E‖∇ₓr̂‖²",
    "true": "the control: the policy trained on the environment's own reward (proxy: "
            "single's net), so PPO's own ups and downs show apart from the reward's",
}
"""The variants of ``lab agent-overopt``, in report order."""
DEFAULT_VARIANTS = ("single", "mean", "wco", "uwo", "lipschitz")
"""The variants run unless ``--variants`` names others (the control ``true`` is asked for)."""
VARIANT_READS: dict[str, tuple[str, ...]] = {
    "single": (), "mean": ("ensemble",), "wco": ("ensemble",), "uwo": ("ensemble", "uwo_lam"),
    "lipschitz": ("grad_penalty",), "true": (),
}
"""The options each variant reads besides the shared ones (:meth:`AgentOveroptOptions.variant`):
one given when no variant compared reads it is refused."""


@dataclass(frozen=True)
class VariantSpec:
    """How a variant reads the learned reward: members, gradient penalty, aggregation."""

    members: int
    grad_penalty: float
    aggregate: str
    params: dict[str, float] = field(default_factory=dict)
    true_reward: bool = False
    """Train the policy on the environment's reward (the learned one is only read)."""


@dataclass
class AgentOveroptOptions:
    """The environment and algorithm, the reward's data (``random_episodes`` random
    episodes → ``comparisons`` pairs of ``segment_length`` steps, labelled with
    ``temperature`` and ``noise``), the policy's ``steps`` and ``checkpoints``, the
    variants and their settings, seeds, evaluation episodes per checkpoint (the policy's
    most likely actions, or ``sampled`` ones) and the reward models' training options
    (``reward``; members and penalty are set per variant)."""

    env: str = redefault(PreferenceLoopOptions, "env", "CartPole-v1")
    algorithm: str = redefault(PreferenceLoopOptions, "algorithm", "ppo")
    steps: int = option(100_000, "Policy steps on the frozen reward, per run.", min=1)
    checkpoints: int = option(10, "Evaluation points after step 0.", min=1)
    comparisons: int = option(100, "Labelled segment pairs the reward learns from.", min=1)
    random_episodes: int = option(30, "Random-action episodes the segments are cut from.",
                                  min=1)
    segment_length: int = redefault(PreferenceLoopOptions, "segment_length", 25)
    temperature: float = redefault(PreferenceLoopOptions, "temperature", 0.0)
    noise: float = redefault(PreferenceLoopOptions, "noise", 0.0)
    variants: tuple[str, ...] = option(DEFAULT_VARIANTS, "Variants compared, a comma list of "
                                       + " | ".join(VARIANTS) + " (true, the control, "
                                       "trains on the environment's reward).",
                                       parse=choice_list(lambda: tuple(VARIANTS)),
                                       format=list_text)
    ensemble: int = option(5, "Members of the ensemble read by mean, wco and uwo.", min=2)
    uwo_lam: float = option(0.5, "λ of UWO: mean − λ·variance of the members.", min=0.0,
                            flag="--uwo-lambda")
    grad_penalty: float = option(1.0, "λ of the lipschitz variant's gradient penalty "
                                 "λ·E‖∇ₓr̂‖² (> 0).", min=0.0)
    seeds: int = option(3, "Seeds per variant.", min=1)
    seed: int = option(0, "The first seed.", min=0, max=SEED_MAX)
    eval_episodes: int = option(5, "Episodes per checkpoint.", min=1)
    sampled: bool = option(False, "Evaluate sampled actions instead of the policy's most "
                           "likely ones.")
    strip_frames: int = option(8, "Frames per rollout strip in the report.", min=1, cli=False)
    reward: Any = option(default_factory=default_reward_options, cli=False,
                         help="The reward models' training options.")

    def __post_init__(self) -> None:
        check(self)
        if self.seed + self.seeds - 1 > SEED_MAX:
            raise OptionError(f"--seeds: the last seed {self.seed + self.seeds - 1} is above "
                              f"{SEED_MAX}")
        known = [name for name in self.variants if name in VARIANT_READS]  # others: variant()
        refuse_unread(self, VARIANT_READS, known, f"--variants {','.join(self.variants)}")

    def variant(self, name: str) -> VariantSpec:
        """The :class:`VariantSpec` of a variant name (``ValueError`` naming the known ones)."""
        if name not in VARIANTS:
            raise ValueError(f"unknown variant {name!r} (known: {', '.join(VARIANTS)})")
        if name in ("single", "true"):
            return VariantSpec(1, 0.0, "mean", true_reward=name == "true")
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


@dataclass(frozen=True)
class AgentOveroptReward:
    """The reward models' option ``lab agent-overopt`` offers as a flag (members and the
    gradient penalty are set per variant; the rest are :data:`LAB_REWARD`'s)."""

    loss: str = redefault(ObjectiveOptions, "loss", LAB_REWARD["loss"])

    def training_options(self) -> Any:
        """The reward models' training options: :data:`LAB_REWARD`'s loss parameters go with
        the lab's loss only."""
        reward = default_reward_options()
        params = reward.loss_params if self.loss == LAB_REWARD["loss"] else {}
        return dataclasses.replace(reward, loss=self.loss, loss_params=params)
