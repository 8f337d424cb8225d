"""The options of ``lab agent`` and of one preference-loop run (no torch imported here,
so the CLI reads its defaults from these dataclasses).

Defaults: CartPole-v1 with PPO (rl-baselines3-zoo's tuned hyper-parameters,
:mod:`rewardlab.optimize.sb3_policy`), 30 000 policy steps in 5 iterations,
300 comparisons of 25-step segments (a quarter from random-action episodes
before the first policy update) drawn at random (``disagreement`` asks about
the most disputed of 5 candidates per query instead; on CartPole it did
worse, docs/results/agents.md), a perfectly rational
labeller (temperature 0, no noise), and the reward ensemble of
:data:`LAB_REWARD`: Christiano et al.'s loss (ε = 0.1 random labels, ties as
half preferences) with three bootstrapped members. They make the CartPole
comparison of three seeds fit in a few minutes on two CPU cores.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from rewardlab.models.training.config import SEED_MAX, ObjectiveOptions, TrainConfig
from rewardlab.options import (
    OptionError,
    check,
    choice_list,
    list_text,
    option,
    redefault,
    refuse_unread,
)

LAB_REWARD: dict[str, Any] = {"loss": "noisy-bt", "loss_params": {"eps": 0.1}, "n_members": 3}
"""The lab's choices for the reward ensemble; the other fields keep
:class:`~rewardlab.models.structured.trajectory_rm.TrajectoryRewardOptions`' defaults."""


def default_reward_options() -> Any:
    """:class:`~rewardlab.models.structured.trajectory_rm.TrajectoryRewardOptions` with
    :data:`LAB_REWARD` (imported here, so that reading these options needs no torch)."""
    from rewardlab.models.structured.trajectory_rm import TrajectoryRewardOptions

    return TrajectoryRewardOptions(**LAB_REWARD)


ALGORITHMS = ("ppo", "sac")
QUERY_NAMES = ("random", "disagreement")


@dataclass(frozen=True)
class AgentRewardOptions:
    """The reward ensemble's options ``lab agent`` offers as flags; the rest are
    :data:`LAB_REWARD`'s and ``TrajectoryRewardOptions``' (:func:`reward_options`)."""

    n_members: int = redefault(ObjectiveOptions, "n_members", LAB_REWARD["n_members"])
    loss: str = redefault(ObjectiveOptions, "loss", LAB_REWARD["loss"])
    grad_penalty: float = redefault(TrainConfig, "grad_penalty", TrainConfig.grad_penalty)


def reward_options(flags: AgentRewardOptions) -> Any:
    """The reward ensemble's options from the flags: :data:`LAB_REWARD`'s loss parameters
    go with the lab's loss only."""
    reward = default_reward_options()
    params = reward.loss_params if flags.loss == LAB_REWARD["loss"] else {}
    return dataclasses.replace(reward, n_members=flags.n_members, loss=flags.loss,
                               grad_penalty=flags.grad_penalty, loss_params=params)


_queries = choice_list(lambda: QUERY_NAMES)


@dataclass
class PreferenceLoopOptions:
    """One preference-loop run: the environment and SB3 algorithm, policy ``steps``,
    ``iterations`` of label → reward → policy, the label budget and schedule, the
    segments, the candidates per kept query (``oversample``), the labeller's
    temperature and noise rate, the hold-out check, and the reward ensemble's options."""

    env: str = option("CartPole-v1", "A Gymnasium environment id.")
    algorithm: str = option("ppo", "Stable-Baselines3 algorithm: ppo | sac "
                            "(rl-baselines3-zoo hyper-parameters).",
                            choices=lambda: ALGORITHMS, kind="algorithm")
    steps: int = option(30_000, "Policy steps per run (every policy gets the same).", min=1)
    iterations: int = option(5, "Label → reward → policy rounds per run.", min=1)
    comparisons: int = option(300, "Labelled segment pairs per run.", min=1)
    initial_fraction: float = option(0.25, "Share of the labels asked before the first "
                                     "policy update.", min=0.0, max=1.0, cli=False)
    random_episodes: int = option(30, "Random-action episodes before the first update.",
                                  min=1, cli=False)
    segment_length: int = option(25, "Steps per segment.", min=1)
    oversample: int = option(5, "Candidates per kept query.", min=1, cli=False)
    temperature: float = option(0.0, "Labeller's Boltzmann temperature τ (0: the larger true "
                                "return wins).", min=0.0)
    noise: float = option(0.0, "Share of labels answered at random, in [0, 1].", min=0.0,
                          max=1.0)
    holdout_pairs: int = option(200, "Held-out pairs of the reward check.", min=1, cli=False)
    reward: Any = option(default_factory=default_reward_options, cli=False,
                         help="The reward ensemble's options.")

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
LABELLER_READS: dict[str, tuple[str, ...]] = {
    "labeller": ("queries", "temperature", "noise", "comparisons", "initial_fraction"),
    FILE_RUN: (),
}
"""What asking the synthetic labeller reads (which pairs, how many, when, how answered), and
what a file of labels reads instead (its pairs, all from the first iteration)."""


@dataclass
class AgentLabOptions(PreferenceLoopOptions):
    """The loop's options plus the query strategies compared, the number of seeds and
    the first seed, the evaluation episodes, and an optional file of labelled pairs."""

    queries: tuple[str, ...] = option(("random",), "Query strategies compared, a comma list "
                                      "of random | disagreement.", parse=_queries,
                                      format=list_text)
    seeds: int = option(3, "Seeds per setting.", min=1)
    seed: int = option(0, "The first seed.", min=0, max=SEED_MAX)
    eval_episodes: int = option(10, "Evaluation episodes per policy.", min=1)
    labels: str | None = option(None, "A .npz/.parquet file of labelled segment pairs to "
                                "learn from instead of the labeller.")

    def __post_init__(self) -> None:
        check(self)
        try:
            _queries(",".join(self.queries) if self.labels is None else "random")
        except ValueError as err:
            raise OptionError(f"--queries: {err}") from None
        if self.seed + self.seeds - 1 > SEED_MAX:
            raise OptionError(f"--seeds: the last seed {self.seed + self.seeds - 1} is above "
                              f"{SEED_MAX}")
        refuse_unread(self, LABELLER_READS, [FILE_RUN if self.labels else "labeller"],
                      f"--labels {self.labels}" if self.labels else "the labeller")

    def strategies(self) -> tuple[str, ...]:
        """The runs per seed: the query strategies, or ``file`` with fixed labels."""
        return (FILE_RUN,) if self.labels is not None else tuple(self.queries)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
