"""rewardlab's preference loop against imitation's ``PreferenceComparisons``, side by side.

Run: ``PYTHONPATH=src python benchmarks/agent_vs_imitation.py --out agent_vs_imitation.json``
(``--envs CartPole-v1`` for one environment; ``--imitation-python`` names the
python of the virtualenv that holds imitation, default ``$IMITATION_PYTHON``
or /work/imitation-venv/bin/python; create one with
``python3.11 -m venv V && V/bin/pip install torch==2.13.0 imitation``).

Per environment the same budget (:data:`BUDGETS`: PPO steps in equal chunks,
labelled comparisons and their schedule, fragment length), the same seeds,
the same rl-baselines3-zoo PPO hyper-parameters
(:func:`rewardlab.optimize.sb3_policy.hyperparameters`, handed to the other
side as JSON), the same rational synthetic labeller (the larger true
fragment return wins) and the same evaluation (10 deterministic episodes on
the true reward, episode i reset with seed 10 000 + seed + i):

- rewardlab: :func:`rewardlab.lab.agent.preference_loop.run_preference_loop`
  in this process, once per query strategy (``random``, ``disagreement``);
- imitation: ``benchmarks/imitation_side.py`` run by imitation's python, one
  process per seed (its module doc states the setting and every difference;
  a run that stops early, no fragment being long enough, is counted in
  ``stopped`` and its policy evaluated as it is);
- the policy trained on the true reward (:func:`run_true_reward`) as the
  reference.

Seeds run one after another, each seed's runs back to back (rewardlab, then
imitation), so load changes on a shared machine hit both sides alike. Wall
time is each run's own (reward learning, policy training and evaluation;
imitation's interpreter start and imports are reported apart). The JSON
records per-seed returns, mean ± sample std (ddof = 1) over seeds, seconds,
library versions and the load average at start and end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from rewardlab.atomic import write_json_atomic
from rewardlab.lab.agent.options import PreferenceLoopOptions
from rewardlab.lab.agent.preference_loop import run_preference_loop, run_true_reward
from rewardlab.optimize.sb3_policy import hyperparameters

HERE = Path(__file__).resolve().parent
BUDGETS: dict[str, dict[str, int]] = {
    "CartPole-v1": {"steps": 30_000, "iterations": 5, "comparisons": 300, "segment_length": 25},
    "Pendulum-v1": {"steps": 61_440, "iterations": 5, "comparisons": 200, "segment_length": 25},
}
"""CartPole: ``rewardlab lab agent``'s defaults. Pendulum: the budget of imitation's
documented Pendulum example (200 comparisons, about 50 000 PPO steps), as 5 chunks
of 3 PPO updates (3 × 4 copies × 1 024 steps = 12 288 steps; rl-baselines3-zoo trains
for 100 000)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--envs", default=",".join(BUDGETS), help="comma list of " +
                        ", ".join(BUDGETS))
    parser.add_argument("--seeds", default="0,1,2", help="comma list")
    parser.add_argument("--queries", default="random,disagreement",
                        help="rewardlab's query strategies, a comma list")
    parser.add_argument("--steps", type=int, default=None, help="override every budget's steps")
    parser.add_argument("--comparisons", type=int, default=None,
                        help="override every budget's comparisons")
    parser.add_argument("--segment-length", type=int, default=None,
                        help="override every budget's fragment length")
    parser.add_argument("--eval-episodes", type=int, default=10)
    parser.add_argument("--no-true-reward", action="store_true",
                        help="skip the true-reward reference")
    parser.add_argument("--imitation-python", default=os.environ.get(
        "IMITATION_PYTHON", "/work/imitation-venv/bin/python"))
    parser.add_argument("--out", type=Path, default=None, help="results JSON")
    return parser


def summary(values: list[float]) -> dict[str, float]:
    """Mean and sample standard deviation (ddof = 1; 0 for one value)."""
    array = np.asarray(values, dtype=np.float64)
    std = float(array.std(ddof=1)) if len(array) > 1 else 0.0
    return {"mean": float(array.mean()), "std": std, "n": len(array)}


def imitation_seed(python: str, env: str, seed: int, budget: dict[str, int],
                   options: PreferenceLoopOptions, eval_episodes: int) -> dict[str, Any]:
    """One seed of imitation's side in its own interpreter; the run and the process wall."""
    setting = hyperparameters("ppo", env)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "side.json"
        command = [python, str(HERE / "imitation_side.py"), "--env", env, "--seeds", str(seed),
                   "--steps", str(budget["steps"]), "--iterations", str(budget["iterations"]),
                   "--comparisons", str(budget["comparisons"]),
                   "--initial-fraction", str(options.initial_fraction),
                   "--segment-length", str(budget["segment_length"]),
                   "--eval-episodes", str(eval_episodes),
                   "--hyperparameters", json.dumps({"n_envs": setting.n_envs,
                                                    "kwargs": setting.kwargs,
                                                    "linear": list(setting.linear)}),
                   "--out", str(out)]
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False,
                              env=dict(os.environ, OMP_NUM_THREADS="1"))
        wall = time.perf_counter() - start
        if done.returncode != 0:
            raise RuntimeError(f"imitation side failed ({done.returncode}): "
                               f"{done.stderr.strip().splitlines()[-1:]}")
        side = json.loads(out.read_text())
    run = side["runs"][0]
    return {**run, "process_seconds": wall, "versions": side["versions"]}


def run_env(env: str, args: argparse.Namespace, seeds: list[int],
            queries: list[str]) -> dict[str, Any]:
    budget = dict(BUDGETS[env])
    for name in ("steps", "comparisons", "segment_length"):
        if getattr(args, name) is not None:
            budget[name] = getattr(args, name)
    options = PreferenceLoopOptions(env=env, algorithm="ppo", **budget)
    sides: dict[str, list[dict[str, Any]]] = {f"rewardlab_{q}": [] for q in queries}
    sides["imitation"] = []
    if not args.no_true_reward:
        sides["true_reward"] = []
    for seed in seeds:
        for strategy in queries:
            run = run_preference_loop(options, strategy, seed, args.eval_episodes)
            sides[f"rewardlab_{strategy}"].append(
                {"seed": seed, "true_return": float(np.mean(run.eval_returns)),
                 "eval_returns": run.eval_returns, "seconds": run.seconds,
                 "comparisons": len(run.records), "holdout": run.holdout,
                 "policy_steps": run.iterations[-1]["policy_steps"]})
            print(f"{env} seed {seed} rewardlab {strategy}: "
                  f"{np.mean(run.eval_returns):.1f} in {run.seconds:.0f} s", flush=True)
        side = imitation_seed(args.imitation_python, env, seed, budget, options,
                              args.eval_episodes)
        sides["imitation"].append(side)
        stopped = "" if not side["failed"] else (
            f" (stopped in round {side['failed']['round']}: {side['failed']['error']})")
        print(f"{env} seed {seed} imitation: {side['true_return']:.1f} in "
              f"{side['seconds']:.0f} s{stopped}", flush=True)
        if not args.no_true_reward:
            true = run_true_reward(options, seed, args.eval_episodes)
            sides["true_reward"].append(true)
            print(f"{env} seed {seed} true reward: {true['true_return']:.1f}", flush=True)
    return {"budget": budget, "options": asdict(options) | {"reward": asdict(options.reward)},
            "sides": {name: {"true_return": summary([r["true_return"] for r in runs]),
                             "seconds": summary([r["seconds"] for r in runs]),
                             "stopped": sum(bool(r.get("failed")) for r in runs), "runs": runs}
                      for name, runs in sides.items()}}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    import gymnasium
    import stable_baselines3
    import torch

    args = build_parser().parse_args(argv)
    torch.set_num_threads(1)
    seeds = [int(s) for s in args.seeds.split(",")]
    queries = [q for q in args.queries.split(",") if q]
    envs = [e for e in args.envs.split(",") if e]
    for env in envs:
        if env not in BUDGETS:
            raise SystemExit(f"--envs: no budget for {env!r} (known: {', '.join(BUDGETS)})")
    start = time.perf_counter()
    result: dict[str, Any] = {
        "benchmark": "agent_vs_imitation", "date": time.strftime("%Y-%m-%d"),
        "machine": {"cores": os.cpu_count(), "load_average": list(os.getloadavg()),
                    "python": platform.python_version()},
        "versions": {"torch": torch.__version__, "gymnasium": gymnasium.__version__,
                     "stable_baselines3": stable_baselines3.__version__},
        "seeds": seeds, "envs": {},
    }
    for env in envs:
        result["envs"][env] = run_env(env, args, seeds, queries)
    result["machine"]["load_average_end"] = list(os.getloadavg())
    result["seconds"] = time.perf_counter() - start
    for env, data in result["envs"].items():
        for name, side in data["sides"].items():
            r, s = side["true_return"], side["seconds"]
            print(f"{env:<12} {name:<24} return {r['mean']:8.1f} ± {r['std']:6.1f}   "
                  f"wall {s['mean']:6.1f} ± {s['std']:5.1f} s per run   "
                  f"stopped early {side['stopped']}/{r['n']}")
    if args.out is not None:
        write_json_atomic(args.out, result)
    return result


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
