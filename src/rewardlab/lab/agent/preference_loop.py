"""The preference loop of Christiano et al. (2017), "Deep reinforcement learning from
human preferences", with a synthetic labeller and Stable-Baselines3.

One run, for one seed and one query strategy, alternates ``iterations`` times:

1. cut candidate segment pairs from the latest episodes (before any policy
   update: ``random_episodes`` episodes of uniformly random actions), and keep
   the strategy's choice (:mod:`rewardlab.lab.agent.queries`);
2. label them (:class:`~rewardlab.data.segments.BoltzmannOracle` on the true
   returns) and add them to every label so far;
3. train the reward ensemble on all labels
   (:func:`~rewardlab.models.structured.trajectory_rm.train_trajectory_reward`,
   from scratch with a seed per iteration) and put it in the environments'
   :class:`~rewardlab.optimize.gym_reward.SwappableReward` (an off-policy
   replay buffer is relabelled);
4. train the policy on the learned reward for ``steps / iterations`` steps.

Labels: ``initial_fraction`` of ``comparisons`` at the first iteration (from
the random episodes), the rest split evenly over the others. With fixed
labels (``records``: a file's pairs) the reward model is trained once and
steps 1, 2 are skipped. After the last update the reward model is checked on
``holdout_pairs`` fresh random pairs of the last episodes (accuracy on pairs
whose true returns differ; Pearson correlation of learned and true segment
returns), and the policy is evaluated on the true reward.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from rewardlab.data.record import Comparison
from rewardlab.data.rollouts import collect_rollouts
from rewardlab.data.segments import BoltzmannOracle, sample_segment_pairs
from rewardlab.data.trajectory import Trajectory
from rewardlab.lab.agent.options import PreferenceLoopOptions
from rewardlab.lab.agent.queries import QUERY_STRATEGIES
from rewardlab.models.structured.trajectory_rm import TrajectoryRewardModel, train_trajectory_reward
from rewardlab.optimize.gym_reward import SwappableReward
from rewardlab.optimize.sb3_policy import PolicyLearner

Progress = Callable[[str, int, int], None]
"""``progress(phase, done, total)``: policy steps done in the named phase."""


@dataclass
class PreferenceRun:
    """What one run produced: the policy's evaluation returns, its training curve
    (steps, true episode return), per-iteration logs, the hold-out check, the last
    reward model and every labelled pair."""

    strategy: str
    seed: int
    eval_returns: list[float]
    curve: list[tuple[int, float]]
    iterations: list[dict[str, Any]]
    holdout: dict[str, float]
    seconds: float
    model: TrajectoryRewardModel
    records: list[Comparison]

    def summary(self) -> dict[str, Any]:
        """The JSON-ready part (no model, no segments)."""
        return {
            "strategy": self.strategy, "seed": self.seed,
            "true_return": float(np.mean(self.eval_returns)),
            "eval_returns": self.eval_returns, "curve": self.curve,
            "iterations": self.iterations, "holdout": self.holdout,
            "n_labels": len(self.records), "seconds": self.seconds,
            "reward_model": {k: self.model.config[k] for k in
                             ("anchor", "n_train_pairs", "skipped", "data_fingerprint")},
        }


def check_loop_options(options: PreferenceLoopOptions, strategy: str | None) -> None:
    """One ``ValueError`` naming the first option out of range (and an unknown query
    ``strategy``; None when the labels are fixed)."""
    if strategy is not None:
        QUERY_STRATEGIES.get(strategy)
    if options.iterations < 1 or options.steps < options.iterations:
        raise ValueError(f"iterations must be in [1, steps], got {options.iterations} for "
                         f"{options.steps} steps")
    if options.comparisons < 1 or not 0 < options.initial_fraction <= 1:
        raise ValueError("comparisons must be >= 1 and initial_fraction in (0, 1]")
    if options.oversample < 1 or options.segment_length < 1 or options.random_episodes < 1:
        raise ValueError("oversample, segment_length and random_episodes must be >= 1")


def holdout_check(
    model: TrajectoryRewardModel, episodes: Sequence[Trajectory], prompt: str, n: int,
    length: int, rng: np.random.Generator,
) -> dict[str, float]:
    """Accuracy of the learned returns on ``n`` random pairs whose true returns differ,
    and the Pearson correlation of learned and true returns over their segments."""
    pairs = sample_segment_pairs(episodes, n, length, rng)
    segments = [s for pair in pairs for s in pair]
    learned = model.score([prompt] * len(segments), segments)
    true = np.array([s.true_return() for s in segments])
    dl, dt = learned[0::2] - learned[1::2], true[0::2] - true[1::2]
    informative = dt != 0
    accuracy = float(np.mean(np.sign(dl[informative]) == np.sign(dt[informative]))) \
        if informative.any() else float("nan")
    spread = np.std(learned) > 0 and np.std(true) > 0
    correlation = float(np.corrcoef(learned, true)[0, 1]) if spread else float("nan")
    return {"pairs": n, "informative_pairs": int(informative.sum()), "accuracy": accuracy,
            "correlation": correlation}


def run_preference_loop(
    options: PreferenceLoopOptions,
    strategy: str,
    seed: int,
    eval_episodes: int = 10,
    records: Sequence[Comparison] | None = None,
    progress: Progress | None = None,
) -> PreferenceRun:
    """One run (see the module doc); ``records`` fixes the labels (``strategy`` then only
    names the run)."""
    fixed = records is not None
    check_loop_options(options, None if fixed else strategy)
    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    oracle = BoltzmannOracle(options.temperature, options.noise)
    reward = SwappableReward()
    episodes: list[Trajectory] = []
    learner = PolicyLearner(options.env, options.algorithm, options.steps, seed, reward, episodes)
    pool = collect_rollouts(options.env, options.random_episodes, seed=seed)
    labelled: list[Comparison] = list(records or [])
    model: TrajectoryRewardModel | None = None
    logs = []
    phase = f"seed {seed} {strategy}"
    if progress is not None:
        progress(phase, 0, options.steps)
    for it, (n_labels, steps) in enumerate(
        zip(options.label_schedule(), options.step_schedule(), strict=True)
    ):
        if not fixed or model is None:
            if not fixed:
                labelled += _queries(options, strategy, pool, n_labels, model, rng, oracle)
            reward_options = replace(options.reward, seed=seed * 1000 + it)
            model = train_trajectory_reward(labelled, None, reward_options)
            reward.model = model
            learner.relabel()
        done = learner.steps_done
        learner.learn(steps)
        pool = list(episodes) or pool
        episodes.clear()
        logs.append({"iteration": it, "labels": len(labelled), "policy_steps": learner.steps_done,
                     "episodes": len(pool),
                     "mean_true_return": float(np.mean([t.true_return() for t in pool])),
                     "policy_steps_this_iteration": learner.steps_done - done})
        if progress is not None:  # the last rollout may pass the budget: shown as all of it
            progress(phase, min(learner.steps_done, options.steps), options.steps)
    holdout = holdout_check(model, pool, options.env, options.holdout_pairs,
                            options.segment_length, rng)
    returns = learner.evaluate(eval_episodes, seed=10_000 + seed)
    return PreferenceRun(strategy, seed, returns.tolist(), learner.curve, logs, holdout,
                         time.perf_counter() - start, model, labelled)


def _queries(
    options: PreferenceLoopOptions, strategy: str, pool: Sequence[Trajectory], n: int,
    model: TrajectoryRewardModel | None, rng: np.random.Generator, oracle: BoltzmannOracle,
) -> list[Comparison]:
    """``n`` new labelled pairs chosen by ``strategy`` among candidates cut from ``pool``."""
    if n == 0:
        return []
    chosen = QUERY_STRATEGIES.get(strategy)
    n_candidates = n * options.oversample if chosen.oversample else n
    candidates = sample_segment_pairs(pool, n_candidates, options.segment_length, rng)
    keep = chosen.select(candidates, n, model, options.env, rng)
    return oracle.label_pairs([candidates[i] for i in keep], options.env, rng)


def run_true_reward(
    options: PreferenceLoopOptions, seed: int, eval_episodes: int = 10,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """The reference: the same learner and steps (in the same chunks) on the true reward."""
    start = time.perf_counter()
    phase = f"seed {seed} true reward"
    if progress is not None:
        progress(phase, 0, options.steps)
    learner = PolicyLearner(options.env, options.algorithm, options.steps, seed)
    for steps in options.step_schedule():
        learner.learn(steps)
        if progress is not None:  # the last rollout may pass the budget: shown as all of it
            progress(phase, min(learner.steps_done, options.steps), options.steps)
    returns = learner.evaluate(eval_episodes, seed=10_000 + seed)
    return {"seed": seed, "true_return": float(np.mean(returns)), "eval_returns": returns.tolist(),
            "curve": learner.curve, "policy_steps": learner.steps_done,
            "seconds": time.perf_counter() - start}
