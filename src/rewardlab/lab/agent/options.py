"""The options of ``lab agent`` and of one preference-loop run (no torch imported here,
so the CLI reads its defaults from these dataclasses).

Defaults: CartPole-v1 with PPO (rl-baselines3-zoo's tuned hyper-parameters,
:mod:`rewardlab.optimize.sb3_policy`), 30 000 policy steps in 5 iterations,
300 comparisons of 25-step segments (a quarter from random-action episodes
before the first policy update) drawn at random (``disagreement`` asks about
the most disputed of 5 candidates per query instead; on CartPole it did
worse, README "Rewards for decision-making agents"), a perfectly rational
labeller (temperature 0, no noise), and the reward ensemble of
:data:`LAB_REWARD`: Christiano et al.'s loss (ε = 0.1 random labels, ties as
half preferences) with three bootstrapped members. They make the CartPole
comparison of three seeds fit in a few minutes on two CPU cores.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

LAB_REWARD: dict[str, Any] = {"loss": "noisy-bt", "loss_params": {"eps": 0.1}, "n_members": 3}
"""The lab's choices for the reward ensemble; the other fields keep
:class:`~rewardlab.models.structured.trajectory_rm.TrajectoryRewardOptions`' defaults."""


def default_reward_options() -> Any:
    """:class:`~rewardlab.models.structured.trajectory_rm.TrajectoryRewardOptions` with
    :data:`LAB_REWARD` (imported here, so that reading these options needs no torch)."""
    from rewardlab.models.structured.trajectory_rm import TrajectoryRewardOptions

    return TrajectoryRewardOptions(**LAB_REWARD)


@dataclass
class PreferenceLoopOptions:
    """One preference-loop run: the environment and SB3 algorithm, policy ``steps``,
    ``iterations`` of label → reward → policy, the label budget and schedule, the
    segments, the candidates per kept query (``oversample``), the labeller's
    temperature and noise rate, the hold-out check, and the reward ensemble's options."""

    env: str = "CartPole-v1"
    algorithm: str = "ppo"
    steps: int = 30_000
    iterations: int = 5
    comparisons: int = 300
    initial_fraction: float = 0.25
    random_episodes: int = 30
    segment_length: int = 25
    oversample: int = 5
    temperature: float = 0.0
    noise: float = 0.0
    holdout_pairs: int = 200
    reward: Any = field(default_factory=default_reward_options)

    def label_schedule(self) -> list[int]:
        """Labels per iteration: ``initial_fraction`` first (at least one, so that the first
        reward model has data), the rest split evenly."""
        if self.iterations == 1:
            return [self.comparisons]
        first = min(max(int(round(self.comparisons * self.initial_fraction)), 1),
                    self.comparisons)
        rest = self.comparisons - first
        share, extra = divmod(rest, self.iterations - 1)
        return [first] + [share + (1 if i < extra else 0) for i in range(self.iterations - 1)]

    def step_schedule(self) -> list[int]:
        """Policy steps per iteration (the remainder in the last)."""
        share, extra = divmod(self.steps, self.iterations)
        return [share] * (self.iterations - 1) + [share + extra]


FILE_RUN = "file"


@dataclass
class AgentLabOptions(PreferenceLoopOptions):
    """The loop's options plus the query strategies compared, the number of seeds and
    the first seed, the evaluation episodes, and an optional file of labelled pairs."""

    queries: tuple[str, ...] = ("random",)
    seeds: int = 3
    seed: int = 0
    eval_episodes: int = 10
    labels: str | None = None

    def strategies(self) -> tuple[str, ...]:
        """The runs per seed: the query strategies, or ``file`` with fixed labels."""
        return (FILE_RUN,) if self.labels is not None else tuple(self.queries)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
