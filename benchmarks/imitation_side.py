"""imitation's side of ``benchmarks/agent_vs_imitation.py``: ``PreferenceComparisons`` with PPO.

Run by the python of a separate virtualenv that holds ``imitation`` (it pins
huggingface-hub<1, so it cannot share rewardlab's):

    python3.11 -m venv V && V/bin/pip install torch==2.13.0 imitation
    V/bin/python benchmarks/imitation_side.py --env CartPole-v1 --seeds 0,1,2 \
        --hyperparameters '{"n_envs": 8, "kwargs": {...}, "linear": [...]}' --out side.json

It imports nothing from rewardlab. The setting follows imitation's documented
example (``docs/algorithms/preference_comparisons.rst`` at commit e5ef188 of
HumanCompatibleAI/imitation: ``BasicRewardNet`` with a ``RunningNorm`` input
layer, ``RandomFragmenter``, ``SyntheticGatherer``, ``PreferenceModel``,
``BasicRewardTrainer`` with ``CrossEntropyRewardLoss``, ``AgentTrainer``,
``initial_epoch_multiplier=4``), with what the comparison needs made equal
to rewardlab's preference loop:

- PPO with the hyper-parameters given in ``--hyperparameters`` (rewardlab's
  rl-baselines3-zoo table), its ``lin_X`` schedules decaying over the run's
  whole ``steps`` (X · (1 − steps done / steps)), default ``MlpPolicy``;
- the same label budget and schedule: ``initial_comparison_frac`` = the
  first share, ``query_schedule="constant"`` for the rest, and
  ``num_iterations = iterations − 1`` with ``total_timesteps = steps ·
  (iterations − 1) / iterations`` (imitation's loop runs num_iterations + 1
  rounds of agent training, one per entry of its query schedule, so both
  sides train the policy for ``steps`` steps in ``iterations`` equal chunks);
- the same rational labeller (``SyntheticGatherer(temperature=0)``: the
  larger true return wins, ties ½) and fragment length;
- the same evaluation: ``eval_episodes`` episodes of the deterministic
  policy on the true reward, episode i reset with seed 10 000 + seed + i.

Variable-horizon environments (CartPole) need ``allow_variable_horizon=True``
(imitation's own benchmarks use fixed-horizon ``seals`` versions instead).
When imitation's ``RandomFragmenter`` finds no episode as long as a fragment
(an agent that learned to end its episodes at once), the run stops there;
the policy it has is evaluated and the run is marked ``failed`` with the
error and the round (0-based) it stopped in.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--env", default="CartPole-v1")
    parser.add_argument("--seeds", default="0,1,2", help="comma list")
    parser.add_argument("--steps", type=int, default=30_000)
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--comparisons", type=int, default=300)
    parser.add_argument("--initial-fraction", type=float, default=0.25)
    parser.add_argument("--segment-length", type=int, default=25)
    parser.add_argument("--reward-epochs", type=int, default=10,
                        help="BasicRewardTrainer epochs per round (the documented example's 10)")
    parser.add_argument("--eval-episodes", type=int, default=10)
    parser.add_argument("--hyperparameters", default='{"n_envs": 8, "kwargs": {}, "linear": []}',
                        help="JSON: n_envs, PPO keyword arguments, names of lin_X schedules")
    parser.add_argument("--out", type=Path, required=True)
    return parser


def _linear(model_ref: list, start: float, total: int):
    def value(_progress_remaining: float) -> float:
        done = 0 if not model_ref else model_ref[0].num_timesteps
        return start * max(1.0 - done / total, 0.0)

    return value


def evaluate(policy: Any, env_id: str, n: int, seed: int) -> list[float]:
    import gymnasium as gym

    env = gym.make(env_id)
    returns = []
    for i in range(n):
        obs, _ = env.reset(seed=seed + i)
        total, done = 0.0, False
        while not done:
            action, _ = policy.predict(obs, deterministic=True)
            obs, reward, terminated, truncated, _ = env.step(action)
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    env.close()
    return returns


def run_seed(args: argparse.Namespace, seed: int, setting: dict[str, Any]) -> dict[str, Any]:
    import torch
    from imitation.algorithms import preference_comparisons as pc
    from imitation.rewards.reward_nets import BasicRewardNet
    from imitation.util.networks import RunningNorm
    from imitation.util.util import make_vec_env
    from stable_baselines3 import PPO

    start = time.perf_counter()
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    venv = make_vec_env(args.env, rng=rng, n_envs=int(setting["n_envs"]))
    reward_net = BasicRewardNet(venv.observation_space, venv.action_space,
                                normalize_input_layer=RunningNorm)
    fragmenter = pc.RandomFragmenter(warning_threshold=0, rng=rng)
    gatherer = pc.SyntheticGatherer(temperature=0, rng=rng)
    trainer = pc.BasicRewardTrainer(preference_model=pc.PreferenceModel(reward_net),
                                    loss=pc.CrossEntropyRewardLoss(), epochs=args.reward_epochs,
                                    rng=rng)
    kwargs = dict(setting["kwargs"])
    model_ref: list = []
    for name in setting.get("linear", []):
        kwargs[name] = _linear(model_ref, float(kwargs[name]), args.steps)
    agent = PPO("MlpPolicy", venv, seed=seed, device="cpu", verbose=0, **kwargs)
    model_ref.append(agent)
    generator = pc.AgentTrainer(algorithm=agent, reward_fn=reward_net, venv=venv,
                                exploration_frac=0.0, rng=rng)
    rounds = args.iterations - 1
    loop = pc.PreferenceComparisons(
        generator, reward_net, num_iterations=max(rounds, 1), fragmenter=fragmenter,
        preference_gatherer=gatherer, reward_trainer=trainer,
        fragment_length=args.segment_length, transition_oversampling=1,
        initial_comparison_frac=args.initial_fraction, initial_epoch_multiplier=4,
        allow_variable_horizon=True, query_schedule="constant",
    )
    timesteps = args.steps * rounds // args.iterations if rounds else args.steps
    failed, metrics = None, {}
    try:
        metrics = loop.train(total_timesteps=timesteps, total_comparisons=args.comparisons)
    except ValueError as err:  # no fragment long enough: the agent learned to end episodes
        failed = {"error": str(err), "round": loop._iteration}
    train_seconds = time.perf_counter() - start
    returns = evaluate(agent, args.env, args.eval_episodes, seed=10_000 + seed)
    return {"seed": seed, "true_return": float(np.mean(returns)), "eval_returns": returns,
            "policy_steps": int(agent.num_timesteps), "comparisons": len(loop.dataset),
            "seconds": time.perf_counter() - start, "train_seconds": train_seconds,
            "reward_accuracy": metrics.get("reward_accuracy"), "failed": failed}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    import imitation
    import stable_baselines3
    import torch

    args = build_parser().parse_args(argv)
    if args.iterations < 2:
        raise SystemExit("--iterations must be at least 2 (imitation runs one more round "
                         "than its num_iterations)")
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    setting = json.loads(args.hyperparameters)
    start = time.perf_counter()
    runs = [run_seed(args, int(s), setting) for s in args.seeds.split(",")]
    result = {"side": "imitation", "env": args.env, "runs": runs,
              "seconds": time.perf_counter() - start,
              "versions": {"imitation": imitation.__version__, "torch": torch.__version__,
                           "stable_baselines3": stable_baselines3.__version__}}
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(json.dumps(result))
    tmp.replace(args.out)
    return result


if __name__ == "__main__":
    main()
