"""``lab agent``: does a policy trained on a reward learned from preferences do as well
as one trained on the true reward?

For each of ``seeds`` seeds (``seed``, ``seed + 1``, …) the lab trains one
policy on the environment's true reward and, per query strategy, one through
the preference loop (:mod:`rewardlab.lab.agent.preference_loop`), all with the
same algorithm, hyper-parameters, steps and chunks, and evaluates each on the
true reward (``eval_episodes`` deterministic episodes, the same seeds for
every policy). The headline numbers, for the first strategy listed:

    learned_reward_return = mean over seeds of the learned-reward policy's mean true return
    true_reward_return    = mean over seeds of the true-reward policy's mean true return
    ratio                 = learned_reward_return / true_reward_return

With ``labels`` (a segment-pair file, :mod:`rewardlab.data.trajectory_io`) the
reward is learned once from the file's pairs instead of querying a labeller;
the run is named ``file``.
"""

from __future__ import annotations

import platform
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import rewardlab
from rewardlab.data.trajectory_io import load_segment_pairs
from rewardlab.lab.agent.options import AgentLabOptions
from rewardlab.lab.agent.preference_loop import (
    PreferenceRun,
    Progress,
    check_loop_options,
    run_preference_loop,
    run_true_reward,
)
from rewardlab.lab.agent.queries import QUERY_STRATEGIES
from rewardlab.models.losses import LOSSES
from rewardlab.optimize.sb3_policy import hyperparameters


@dataclass
class AgentLabResult:
    """The true-reward reference of every seed and every preference-loop run."""

    options: AgentLabOptions
    baselines: list[dict[str, Any]]
    runs: list[PreferenceRun]
    seconds: float
    versions: dict[str, str] = field(default_factory=dict)

    def strategy_summary(self, strategy: str) -> dict[str, Any]:
        """Per-seed and mean true returns of one strategy's policies and of the reference."""
        runs = [r for r in self.runs if r.strategy == strategy]
        learned = [float(np.mean(r.eval_returns)) for r in runs]
        true = [b["true_return"] for b in self.baselines]
        learned_mean, true_mean = float(np.mean(learned)), float(np.mean(true))
        return {
            "learned_reward_return": learned_mean,
            "true_reward_return": true_mean,
            "ratio": learned_mean / true_mean if true_mean else None,
            "per_seed": [
                {"seed": r.seed, "learned_reward_return": lr, "true_reward_return": b["true_return"],
                 "holdout_accuracy": r.holdout["accuracy"], "labels": len(r.records)}
                for r, lr, b in zip(runs, learned, self.baselines, strict=True)
            ],
        }

    def to_dict(self) -> dict[str, Any]:
        """``results.json``: the headline (first strategy), every strategy, every run."""
        strategies = {s: self.strategy_summary(s) for s in self.options.strategies()}
        first = strategies[self.options.strategies()[0]]
        return {
            "experiment": "agent",
            "rewardlab_version": rewardlab.__version__,
            "versions": self.versions,
            "learned_reward_return": first["learned_reward_return"],
            "true_reward_return": first["true_reward_return"],
            "ratio": first["ratio"],
            "headline_strategy": self.options.strategies()[0],
            "strategies": strategies,
            "baselines": self.baselines,
            "runs": [r.summary() for r in self.runs],
            "config": self.options.to_dict(),
            "timing": {"total_seconds": self.seconds},
        }


def library_versions() -> dict[str, str]:
    """Python, torch, Gymnasium and Stable-Baselines3 versions (for results.json)."""
    import gymnasium
    import stable_baselines3
    import torch

    return {"python": platform.python_version(), "torch": torch.__version__,
            "gymnasium": gymnasium.__version__, "stable_baselines3": stable_baselines3.__version__}


def check_options(options: AgentLabOptions) -> None:
    """One ``ValueError`` naming the first option out of range or unknown, before any run."""
    for name in options.queries:
        QUERY_STRATEGIES.get(name)
    if not options.queries and options.labels is None:
        raise ValueError("queries: name at least one query strategy")
    if options.seeds < 1 or options.eval_episodes < 1:
        raise ValueError("seeds and eval_episodes must be at least 1")
    check_loop_options(options, None)
    check_learnable(options.env, options.algorithm, options.reward.loss, "reward ensemble")


def check_learnable(env_id: str, algorithm: str, loss: str, reward: str) -> None:
    """``ValueError`` unless ``loss`` trains on pairs (or ties) of segments, ``algorithm`` has
    settings for ``env_id``, the environment exists and SAC gets continuous actions."""
    import gymnasium

    objective = LOSSES.get(loss)
    if objective.units not in ("pairs", "ties"):
        raise ValueError(f"loss {loss!r} trains on {objective.units}; the {reward} takes a "
                         "pair loss")
    hyperparameters(algorithm, env_id)
    try:
        env = gymnasium.make(env_id)
    except gymnasium.error.Error as err:
        raise ValueError(f"env {env_id!r}: {err}") from None
    if algorithm == "sac" and not isinstance(env.action_space, gymnasium.spaces.Box):
        raise ValueError(f"algorithm 'sac' needs continuous actions; {env_id} has "
                         f"{type(env.action_space).__name__} actions")
    env.close()


def _file_labels(options: AgentLabOptions) -> list:
    """The pairs of ``options.labels``; ``ValueError`` when their observations do not fit
    the environment's (before any policy is trained)."""
    import gymnasium

    records = load_segment_pairs(options.labels)
    if not records:
        raise ValueError(f"--labels {options.labels}: holds no pairs")
    expected = gymnasium.make(options.env).observation_space.shape
    shape = records[0].responses[0].observations.shape[1:]
    if tuple(shape) != tuple(expected):
        raise ValueError(f"--labels {options.labels}: segments have observations of shape "
                         f"{tuple(shape)}, {options.env} has {tuple(expected)}")
    return records


def run_agent_lab(options: AgentLabOptions, progress: Progress | None = None) -> AgentLabResult:
    """Run the lab (see the module doc)."""
    check_options(options)
    start = time.perf_counter()
    records = None if options.labels is None else _file_labels(options)
    baselines, runs = [], []
    for seed in range(options.seed, options.seed + options.seeds):
        baselines.append(run_true_reward(options, seed, options.eval_episodes, progress))
        for strategy in options.strategies():
            runs.append(run_preference_loop(options, strategy, seed, options.eval_episodes,
                                            records, progress))
    return AgentLabResult(options, baselines, runs, time.perf_counter() - start, library_versions())
