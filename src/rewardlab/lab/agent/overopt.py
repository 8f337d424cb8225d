"""``lab agent-overopt``: overoptimization of a frozen learned reward in control.

Gao, Schulman & Hilton (2023) measured, for language models, that optimizing
a learned (proxy) reward harder raises the proxy while the gold reward first
rises and then falls. Here the policy is a Stable-Baselines3 agent and the
gold reward is the environment's own return. For each seed:

1. ``random_episodes`` episodes of uniformly random actions; ``comparisons``
   segment pairs cut from them and labelled by the Boltzmann labeller
   (:mod:`rewardlab.data.segments`) on the true returns;
2. per variant (:class:`~rewardlab.lab.agent.overopt_options.AgentOveroptOptions`)
   a trajectory reward model (:mod:`rewardlab.models.structured.trajectory_rm`)
   trained once on those pairs and frozen (``mean``, ``wco`` and ``uwo``
   share one ensemble), read through
   :class:`~rewardlab.optimize.aggregated_reward.AggregatedTransitionReward`;
3. a policy trained on it for ``steps`` steps; at step 0 and after each of
   ``checkpoints`` chunks, ``eval_episodes`` episodes of the policy's most
   likely actions (as SB3 and ``lab agent`` evaluate; with ``sampled``, of
   actions drawn from a torch generator seeded like the episodes, so
   evaluation never changes the training; episode i reset with seed
   20 000 + 1000·seed + i) give, averaged over episodes:

   - ``gold``: the true return Σ_t r_t;
   - ``proxy``: the discounted learned return Σ_t γ^t r̂_t with the
     algorithm's γ, the quantity the policy maximizes (``proxy_return``: the
     undiscounted Σ_t r̂_t);
   - ``kl``: Σ_t KL(π(·|s_t) ‖ π₀(·|s_t)) of the (stochastic) policy from the
     initial one over the episode's states (:mod:`rewardlab.lab.agent.policy_kl`;
     with ``sampled`` this is the KL of the two policies' episode
     distributions), and ``sqrt_kl`` = √kl;
   - ``member_std``: the members' population std of r̃ per step (ensembles).

Per variant the seed-mean curves are summarized by the gold peak, the last
gold and their difference (``gold_drop``), the proxy's change from the gold
peak to the end, and Gao et al.'s RL form fitted to the gold gain over step
0 against d = √KL (:func:`rewardlab.lab.scaling_fit.fit_rl`; None where it
cannot be fitted). The reward's pair accuracy is checked on fresh random
pairs of the random episodes (in distribution) and of the last checkpoint's
episodes (the states the policy reached).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

import rewardlab
from rewardlab.data.rollouts import collect_rollouts
from rewardlab.data.segments import BoltzmannOracle, sample_segment_pairs
from rewardlab.data.trajectory import Trajectory
from rewardlab.lab.agent.experiment import check_learnable, library_versions
from rewardlab.lab.agent.overopt_options import AgentOveroptOptions
from rewardlab.lab.agent.policy_kl import episode_kl, frozen_copy
from rewardlab.lab.agent.preference_loop import holdout_check
from rewardlab.lab.scaling_fit import fit_rl
from rewardlab.models.structured.trajectory_rm import TrajectoryRewardModel, train_trajectory_reward
from rewardlab.optimize.aggregated_reward import AggregatedTransitionReward
from rewardlab.optimize.gym_reward import SwappableReward
from rewardlab.optimize.sb3_policy import PolicyLearner

Progress = Callable[[str, int, int], None]
EVAL_SEED = 20_000


def check_options(options: AgentOveroptOptions) -> None:
    """One ``ValueError`` naming the first option out of range or unknown, before any run."""
    if not options.variants:
        raise ValueError("variants: name at least one")
    for name in options.variants:
        options.variant(name)
    counts = {"checkpoints": options.checkpoints, "comparisons": options.comparisons,
              "random_episodes": options.random_episodes, "seeds": options.seeds,
              "eval_episodes": options.eval_episodes, "segment_length": options.segment_length,
              "strip_frames": options.strip_frames}
    for name, value in counts.items():
        if value < 1:
            raise ValueError(f"{name} must be at least 1, got {value}")
    if options.steps < options.checkpoints:
        raise ValueError(f"checkpoints must be in [1, steps], got {options.checkpoints} for "
                         f"{options.steps} steps")
    if {"mean", "wco", "uwo"} & set(options.variants) and options.ensemble < 2:
        raise ValueError(f"ensemble must be at least 2 for mean, wco and uwo, got "
                         f"{options.ensemble}")
    if "lipschitz" in options.variants and not options.grad_penalty > 0:
        raise ValueError("grad_penalty must be > 0 for the lipschitz variant (0 is 'single')")
    if not options.uwo_lam >= 0:
        raise ValueError(f"uwo_lam must be >= 0, got {options.uwo_lam}")
    BoltzmannOracle(options.temperature, options.noise)
    check_learnable(options.env, options.algorithm, options.reward.loss, "reward model")


def policy_episodes(model: Any, env_id: str, n: int, seed: int,
                    deterministic: bool = False) -> list[Trajectory]:
    """``n`` episodes of the policy ``model`` (SB3; its most likely actions when
    ``deterministic``), run side by side; episode i reset with seed ``seed + i``,
    sampled actions drawn with torch seeded by ``seed`` (the global torch generator is
    restored afterwards)."""
    import gymnasium
    import torch

    envs = [gymnasium.make(env_id) for _ in range(n)]
    obs = [env.reset(seed=seed + i)[0] for i, env in enumerate(envs)]
    steps: list[list[tuple]] = [[] for _ in range(n)]
    episodes: list[Trajectory | None] = [None] * n
    active = list(range(n))
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        while active:
            actions, _ = model.predict(np.stack([obs[i] for i in active]),
                                       deterministic=deterministic)
            still = []
            for i, action in zip(active, actions, strict=True):
                after, reward, terminated, truncated, _ = envs[i].step(action)
                steps[i].append((obs[i], action, float(reward), after))
                obs[i] = after
                if terminated or truncated:
                    episodes[i] = _trajectory(steps[i], bool(terminated))
                else:
                    still.append(i)
            active = still
    finally:
        torch.random.set_rng_state(state)
        for env in envs:
            env.close()
    return [e for e in episodes if e is not None]


def _trajectory(steps: list[tuple], terminated: bool) -> Trajectory:
    obs, actions, rewards, after = zip(*steps, strict=True)
    dones = np.zeros(len(obs), dtype=bool)
    dones[-1] = terminated
    return Trajectory(np.stack(obs), np.stack(actions), np.asarray(rewards, np.float64), dones,
                      np.stack(after))


def discounted(rewards: np.ndarray, gamma: float) -> float:
    """Σ_t γ^t r_t."""
    rewards = np.asarray(rewards, np.float64)
    return float(np.sum(rewards * gamma ** np.arange(len(rewards))))


def score_checkpoint(
    episodes: list[Trajectory], reward: AggregatedTransitionReward, policy: Any,
    reference: Any, gamma: float,
) -> dict[str, float]:
    """Gold, proxy (discounted and not), KL from ``reference`` and member spread of
    ``policy``'s episodes, each the mean over episodes (see the module doc)."""
    gold, proxy, undiscounted, kl, spread, length = [], [], [], [], [], []
    for episode in episodes:
        members = reward.member_transition_rewards(episode.observations, episode.actions,
                                                   episode.next_observations)
        paid = reward.transition_rewards(episode.observations, episode.actions,
                                         episode.next_observations)
        gold.append(episode.true_return())
        proxy.append(discounted(paid, gamma))
        undiscounted.append(float(paid.sum()))
        kl.append(episode_kl(policy, reference, episode.observations))
        spread.append(float(members.std(axis=0).mean()))
        length.append(len(episode))
    mean_kl = float(np.mean(kl))
    return {"gold": float(np.mean(gold)), "gold_std": float(np.std(gold)),
            "proxy": float(np.mean(proxy)), "proxy_return": float(np.mean(undiscounted)),
            "kl": mean_kl, "sqrt_kl": float(np.sqrt(max(mean_kl, 0.0))),
            "member_std": float(np.mean(spread)), "length": float(np.mean(length))}


def strip(episode: Trajectory, frames: int) -> dict[str, Any]:
    """``frames`` evenly spaced steps of an episode: their indices and observations."""
    index = np.unique(np.linspace(0, len(episode) - 1, frames).round().astype(int))
    return {"steps": index.tolist(), "observations": episode.observations[index].tolist(),
            "length": len(episode), "gold": episode.true_return()}


@dataclass
class OveroptRun:
    """One (seed, variant): its checkpoints, strips of the gold-peak and last checkpoints'
    first episode, the reward's hold-out checks and the time taken."""

    variant: str
    seed: int
    checkpoints: list[dict[str, float]]
    strips: dict[str, dict[str, Any]]
    holdout: dict[str, dict[str, float]]
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {"variant": self.variant, "seed": self.seed, "checkpoints": self.checkpoints,
                "strips": self.strips, "holdout": self.holdout, "seconds": self.seconds}


def _reward_models(
    options: AgentOveroptOptions, seed: int, progress: Progress | None = None,
) -> tuple[dict[tuple, TrajectoryRewardModel], list[Trajectory]]:
    """The labelled pairs of the random episodes and one model per (members, penalty);
    ``progress("seed S reward models", done, models)`` from 0, after each model."""
    specs = [options.variant(name) for name in options.variants]
    keys = list(dict.fromkeys((spec.members, spec.grad_penalty) for spec in specs))
    phase = f"seed {seed} reward models"
    if progress is not None:
        progress(phase, 0, len(keys))
    rng = np.random.default_rng(seed)
    pool = collect_rollouts(options.env, options.random_episodes, seed=seed)
    pairs = sample_segment_pairs(pool, options.comparisons, options.segment_length, rng)
    oracle = BoltzmannOracle(options.temperature, options.noise)
    records = oracle.label_pairs(pairs, options.env, rng)
    models: dict[tuple, TrajectoryRewardModel] = {}
    for members, grad_penalty in keys:
        reward_options = replace(options.reward, n_members=members,
                                 grad_penalty=grad_penalty, seed=seed)
        models[(members, grad_penalty)] = train_trajectory_reward(records, None, reward_options)
        if progress is not None:
            progress(phase, len(models), len(keys))
    return models, pool


def run_variant(
    options: AgentOveroptOptions, name: str, seed: int, model: TrajectoryRewardModel,
    pool: list[Trajectory], progress: Progress | None = None,
) -> OveroptRun:
    """Train one policy on the frozen reward of variant ``name`` and score its checkpoints."""
    start = time.perf_counter()
    spec = options.variant(name)
    reward = AggregatedTransitionReward(model, spec.aggregate, **spec.params)
    learner = PolicyLearner(options.env, options.algorithm, options.steps, seed,
                            None if spec.true_reward else SwappableReward(reward))
    reference = frozen_copy(learner.model.policy)
    gamma = float(learner.model.gamma)
    eval_seed = EVAL_SEED + 1000 * seed
    checkpoints, episodes_at = [], []
    for chunk in [0, *options.checkpoint_steps()]:
        if chunk:
            learner.learn(chunk)
        episodes = policy_episodes(learner.model, options.env, options.eval_episodes, eval_seed,
                                   deterministic=not options.sampled)
        row = score_checkpoint(episodes, reward, learner.model.policy, reference, gamma)
        checkpoints.append({"steps": learner.steps_done, **row})
        episodes_at.append(episodes[0])
        if progress is not None:  # the last rollout may pass the budget: shown as all of it
            progress(f"seed {seed} {name}", min(learner.steps_done, options.steps),
                     options.steps)
    peak = int(np.argmax([c["gold"] for c in checkpoints]))
    strips = {"peak": {"checkpoint": peak, **strip(episodes_at[peak], options.strip_frames)},
              "last": {"checkpoint": len(checkpoints) - 1,
                       **strip(episodes_at[-1], options.strip_frames)}}
    rng = np.random.default_rng(seed + 1)
    holdout = {
        "random_episodes": holdout_check(model, pool, options.env, 200,
                                         options.segment_length, rng),
        "last_policy": holdout_check(model, episodes, options.env, 200,
                                     options.segment_length, rng),
    }
    return OveroptRun(name, seed, checkpoints, strips, holdout, time.perf_counter() - start)


def _gao_fit(sqrt_kl: list[float], gain: list[float]) -> dict[str, Any] | None:
    try:
        return fit_rl(sqrt_kl, gain).to_dict()
    except ValueError:
        return None


def variant_summary(runs: list[OveroptRun]) -> dict[str, Any]:
    """Seed-mean curves of one variant and their peak, drop and Gao fit (module doc)."""
    keys = ("steps", "gold", "proxy", "proxy_return", "kl", "sqrt_kl", "member_std", "length")
    curve = {k: np.mean([[c[k] for c in r.checkpoints] for r in runs], axis=0).tolist()
             for k in keys}
    gold, proxy = curve["gold"], curve["proxy"]
    peak = int(np.argmax(gold))
    return {
        "curve": curve,
        "gold_start": gold[0], "gold_peak": gold[peak], "gold_last": gold[-1],
        "gold_drop": gold[peak] - gold[-1], "peak_steps": curve["steps"][peak],
        "proxy_at_peak": proxy[peak], "proxy_last": proxy[-1],
        "proxy_gain_after_peak": proxy[-1] - proxy[peak],
        "gold_fit": _gao_fit(curve["sqrt_kl"], [g - gold[0] for g in gold]),
        "per_seed_gold_drop": [max(c["gold"] for c in r.checkpoints) - r.checkpoints[-1]["gold"]
                               for r in runs],
    }


@dataclass
class AgentOveroptResult:
    options: AgentOveroptOptions
    runs: list[OveroptRun]
    seconds: float
    versions: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """``results.json``: per-variant summaries and every run's checkpoints."""
        variants = {name: variant_summary([r for r in self.runs if r.variant == name])
                    for name in self.options.variants}
        return {"experiment": "agent-overopt", "rewardlab_version": rewardlab.__version__,
                "versions": self.versions, "variants": variants,
                "runs": [r.to_dict() for r in self.runs], "config": self.options.to_dict(),
                "timing": {"total_seconds": self.seconds}}


def run_agent_overopt(options: AgentOveroptOptions,
                      progress: Progress | None = None) -> AgentOveroptResult:
    """Run the experiment (see the module doc)."""
    check_options(options)
    start = time.perf_counter()
    runs = []
    for seed in range(options.seed, options.seed + options.seeds):
        models, pool = _reward_models(options, seed, progress)
        for name in options.variants:
            spec = options.variant(name)
            runs.append(run_variant(options, name, seed, models[(spec.members, spec.grad_penalty)],
                                    pool, progress))
    return AgentOveroptResult(options, runs, time.perf_counter() - start, library_versions())
