"""An intrinsic reward distilled from an LLM's feedback on text descriptions of states.

ONI (Zheng et al., 2024, "Online Intrinsic Rewards for Decision Making Agents
from Large Language Model Feedback"): while the agent trains, an LLM labels
descriptions of what it observes as progress or not; a classifier learned
from those labels, on the agent's own observations, gives the intrinsic
reward r_int(s) = P(progress | s), and the policy is trained on

    r_t = r_env,t + β · r_int(s_{t+1}).

Here (the classification variant): a :class:`Describer` turns an observation
into a sentence (MountainCar: the car's position, its place on the track and
its motion); an LLM judge (``judge:smollm2``, :class:`~rewardlab.models.lm.judge.LLMJudge`
with ``rating="yes-no"`` and the ``progress_yes_no.txt`` template: "Is the
agent making progress towards the goal?") gives P(Yes) of each distinct
description once (:class:`StateLabeller` caches them); a description is
labelled progress when its P(Yes) is above the median P(Yes) of the
descriptions labelled so far (SmolLM2-135M answers "No" to every MountainCar
description, P(Yes) 0.05–0.09, so its absolute answer carries no label; its
relative P(Yes) does), and the success classifier
(:mod:`rewardlab.models.structured.success`) is refit on every state seen so
far, labelled by its description, after each of ``iterations`` rounds of
policy training. The ``rule`` labeller (a state is progress when its
position is above the median position of the states seen so far) checks the
machinery with informative labels; ``none`` trains on the environment's
reward alone.

Exploration is measured on the true task: the share of training episodes
that reached the goal (terminated), the first policy step at which one did,
the largest ``progress`` value reached in them (None before any ends), and the success rate of
``eval_episodes`` stochastic episodes of the final policy.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rewardlab.data.record import Comparison
from rewardlab.data.rollouts import collect_rollouts
from rewardlab.data.trajectory import Trajectory
from rewardlab.lab.agent.overopt import policy_episodes
from rewardlab.models.structured.success import SuccessOptions, train_success_classifier
from rewardlab.optimize.gym_reward import SwappableReward
from rewardlab.optimize.sb3_policy import PolicyLearner

MOUNTAIN_CAR_PLACES = (
    (-0.9, "at the far left end of the track, far from the flag"),
    (-0.6, "on the left hill, far from the flag"),
    (-0.4, "at the bottom of the valley, far from the flag"),
    (-0.1, "on the lower part of the right hill"),
    (0.3, "halfway up the right hill"),
    (0.5, "high on the right hill, close to the flag"),
    (np.inf, "at the flag"),
)


def describe_mountain_car(observation: np.ndarray) -> str:
    """'The car is at position −0.5, at the bottom of the valley, far from the flag,
    rolling right.' Position to 0.1; motion: almost still (|v| < 0.005), rolling
    left/right, fast when |v| > 0.03."""
    x, v = float(observation[0]), float(observation[1])
    place = next(text for upper, text in MOUNTAIN_CAR_PLACES if x < upper)
    if abs(v) < 0.005:
        motion = "almost still"
    else:
        motion = f"rolling {'right' if v > 0 else 'left'}{' fast' if abs(v) > 0.03 else ''}"
    return f"The car is at position {x:.1f}, {place}, {motion}."


@dataclass(frozen=True)
class Describer:
    """An environment's sentence for an observation, its goal, and a progress value
    (for the ``rule`` labeller and the report)."""

    describe: Callable[[np.ndarray], str]
    goal: str
    progress: Callable[[np.ndarray], np.ndarray]


DESCRIBERS: dict[str, Describer] = {
    "MountainCar-v0": Describer(
        describe_mountain_car,
        "Get the car to the flag on top of the right hill (position 0.5).",
        lambda observations: np.asarray(observations)[:, 0],
    ),
}


def describer(env_id: str) -> Describer:
    if env_id not in DESCRIBERS:
        raise ValueError(f"no text describer for {env_id!r} (known: {', '.join(DESCRIBERS)})")
    return DESCRIBERS[env_id]


class StateLabeller:
    """P(Yes) of each distinct description, asked once: ``ask(goals, texts) -> P(Yes)``
    is a judge's ``score`` with ``rating="yes-no"``."""

    def __init__(self, ask: Callable[[Sequence[str], Sequence[str]], np.ndarray],
                 goal: str) -> None:
        self.ask = ask
        self.goal = goal
        self.cache: dict[str, float] = {}
        self.calls = 0

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        new = sorted(set(texts) - set(self.cache))
        if new:
            self.calls += len(new)
            for text, p in zip(new, self.ask([self.goal] * len(new), new), strict=True):
                self.cache[text] = float(p)
        return np.array([self.cache[t] for t in texts])


def median_labels(values: np.ndarray) -> np.ndarray:
    """1 where a value is above the median of ``values``, else 0."""
    values = np.asarray(values, np.float64)
    return (values > np.median(values)).astype(int)


CONDITIONS = ("none", "llm", "rule")


@dataclass
class LLMFeedbackOptions:
    """Environment, PPO steps in ``iterations`` rounds, the bonus weight β, the random
    episodes of round 0, the states kept per refit, seeds, evaluation episodes, the
    classifier's options and PPO's settings over SB3's defaults (``ppo``: 256 steps per
    copy, so an update every 2,048 steps and the rounds split evenly, where SB3's 2,048
    per copy would make one update of 16,384 steps)."""

    env: str = "MountainCar-v0"
    steps: int = 100_000
    iterations: int = 5
    beta: float = 0.5
    random_episodes: int = 10
    max_states: int = 5000
    conditions: tuple[str, ...] = CONDITIONS
    seeds: int = 3
    seed: int = 0
    eval_episodes: int = 20
    classifier: dict[str, Any] = field(default_factory=lambda: {"epochs": 30})
    ppo: dict[str, Any] = field(default_factory=lambda: {"n_steps": 256})


def _labels(condition: str, states: np.ndarray, texts: list[str], desc: Describer,
            labeller: StateLabeller | None) -> np.ndarray:
    """Per state: 1 (progress) or 0 (see the module doc)."""
    if condition == "rule":
        return median_labels(desc.progress(states))
    if labeller is None:
        raise ValueError("the llm condition needs a labeller")
    unique = sorted(set(texts))
    by_text = dict(zip(unique, median_labels(labeller.probabilities(unique)), strict=True))
    return np.array([by_text[t] for t in texts])


def _fit(states: np.ndarray, labels: np.ndarray, options: LLMFeedbackOptions, env: str,
         seed: int) -> Any | None:
    """The success classifier on labelled states (None when all labels agree)."""
    if labels.min() == labels.max():
        return None
    episode = Trajectory(states, np.zeros(len(states), dtype=np.int64))
    record = Comparison(env, (episode,), step_labels=(tuple(int(v) for v in labels),))
    return train_success_classifier([record], None,
                                    SuccessOptions(**{**options.classifier, "seed": seed}))


def run_condition(options: LLMFeedbackOptions, condition: str, seed: int,
                  labeller: StateLabeller | None) -> dict[str, Any]:
    """One policy: PPO on the environment's reward, plus β·P(progress | s') unless
    ``condition`` is ``none``; exploration and success measures."""
    start = time.perf_counter()
    desc = describer(options.env)
    rng = np.random.default_rng(seed)
    reward = SwappableReward() if condition != "none" else None
    episodes: list[Trajectory] = []
    learner = PolicyLearner(options.env, "ppo", options.steps, seed, reward, episodes,
                            overrides=options.ppo, reward_weights=(options.beta, 1.0))
    states = np.concatenate([e.observations for e in
                             collect_rollouts(options.env, options.random_episodes, seed=seed)])
    share, extra = divmod(options.steps, options.iterations)
    rounds, first_success, successes, total, best = [], None, 0, 0, -np.inf
    for it in range(options.iterations):
        if reward is not None:
            keep = states if len(states) <= options.max_states else \
                states[rng.choice(len(states), options.max_states, replace=False)]
            texts = [desc.describe(s) for s in keep]
            labels = _labels(condition, keep, texts, desc, labeller)
            model = _fit(keep, labels, options, options.env, seed * 100 + it)
            reward.model = model if model is not None else _Zero()
            rounds.append({"iteration": it, "states": len(keep), "positive": int(labels.sum()),
                           "descriptions": len(set(texts))})
        learner.learn(share + (extra if it == options.iterations - 1 else 0))
        for episode in episodes:
            total += 1
            best = max(best, float(desc.progress(episode.observations).max()))
            if episode.terminated:
                successes += 1
                if first_success is None:
                    first_success = learner.steps_done
        if episodes:
            states = np.concatenate([states, *[e.observations for e in episodes]])
        episodes.clear()
    final = policy_episodes(learner.model, options.env, options.eval_episodes, 30_000 + seed)
    return {"condition": condition, "seed": seed,
            "success_rate": float(np.mean([e.terminated for e in final])),
            "eval_return": float(np.mean([e.true_return() for e in final])),
            "training_episodes": total, "training_successes": successes,
            "first_success_step": first_success,
            "max_progress": None if total == 0 else best,
            "rounds": rounds, "seconds": time.perf_counter() - start}


class _Zero:
    """No intrinsic reward (a classifier could not be fit: every label agreed)."""

    def transition_rewards(self, observations: np.ndarray, actions: Any = None,
                           next_observations: Any = None) -> np.ndarray:
        return np.zeros(len(observations))


def label_agreement(labeller: StateLabeller, desc: Describer, states: np.ndarray) -> float:
    """Spearman correlation of the LLM's P(Yes) and the progress value over ``states``."""
    from scipy.stats import spearmanr

    p = labeller.probabilities([desc.describe(s) for s in states])
    return float(spearmanr(p, desc.progress(states)).statistic)
