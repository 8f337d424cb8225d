"""An ONI-style intrinsic reward from SmolLM2's feedback on MountainCar, against none.

Run: ``PYTHONPATH=src python benchmarks/llm_intrinsic.py --out llm_intrinsic.json``

:mod:`rewardlab.lab.agent.llm_feedback`: PPO (SB3 defaults) on MountainCar-v0
for ``--steps`` steps per seed under three conditions with the same seeds and
steps: ``none`` (the environment's −1 per step), ``llm`` (plus β·P(progress | s'),
a classifier distilled from ``judge:smollm2``'s yes/no answers on text
descriptions of the states, refit after each round) and ``rule`` (the same
machinery with labels from the car's position, a check that informative
labels help). Reports per condition the final policy's success rate (20
stochastic episodes), the share of training episodes that reached the flag
and the largest position reached, mean ± sample std over seeds; and the
Spearman correlation of SmolLM2's P(Yes) with the position over the
labelled states, with every description's P(Yes).
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from rewardlab.atomic import write_json_atomic
from rewardlab.data.rollouts import collect_rollouts
from rewardlab.lab.agent.llm_feedback import (
    CONDITIONS,
    LLMFeedbackOptions,
    StateLabeller,
    describer,
    label_agreement,
    run_condition,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--beta", type=float, default=0.5)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--conditions", default=",".join(CONDITIONS), help="comma list")
    parser.add_argument("--judge", default="judge:smollm2", help="a judge spec")
    parser.add_argument("--out", type=Path, default=None, help="results JSON")
    return parser


def summary(values: list[float]) -> dict[str, float]:
    array = np.asarray(values, dtype=np.float64)
    return {"mean": float(array.mean()),
            "std": float(array.std(ddof=1)) if len(array) > 1 else 0.0}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    import torch
    from rewardlab.robust.loading import load_reward_model

    from rewardlab.models.lm.judge import JudgeOptions, default_template

    args = build_parser().parse_args(argv)
    torch.set_num_threads(1)
    options = LLMFeedbackOptions(steps=args.steps, iterations=args.iterations, beta=args.beta,
                                 seeds=args.seeds,
                                 conditions=tuple(c for c in args.conditions.split(",") if c))
    start, load = time.perf_counter(), list(os.getloadavg())
    desc = describer(options.env)
    labeller = None
    if "llm" in options.conditions:
        judge = load_reward_model(args.judge, judge=JudgeOptions(
            rating="yes-no", rating_template=str(default_template("progress_yes_no.txt"))))
        labeller = StateLabeller(judge.score, desc.goal)
    runs = []
    for seed in range(options.seed, options.seed + options.seeds):
        for condition in options.conditions:
            run = run_condition(options, condition, seed, labeller)
            runs.append(run)
            print(f"seed {seed} {condition:<5} success {run['success_rate']:.2f}  training "
                  f"successes {run['training_successes']}/{run['training_episodes']}  max "
                  f"position {run['max_progress']:.2f}  ({run['seconds']:.0f} s)", flush=True)
    conditions = {
        c: {k: summary([r[k] for r in runs if r["condition"] == c])
            for k in ("success_rate", "eval_return", "max_progress")}
        | {"training_success_share": summary([r["training_successes"] / r["training_episodes"]
                                              for r in runs if r["condition"] == c])}
        for c in options.conditions
    }
    result: dict[str, Any] = {"benchmark": "llm_intrinsic", "date": time.strftime("%Y-%m-%d"),
                              "options": asdict(options), "conditions": conditions, "runs": runs,
                              "load_average": load, "load_average_end": list(os.getloadavg()),
                              "seconds": time.perf_counter() - start}
    if labeller is not None:
        probe = np.concatenate([e.observations for e in collect_rollouts(options.env, 5)])
        result["llm"] = {"judge": args.judge, "descriptions": len(labeller.cache),
                         "p_yes": dict(sorted(labeller.cache.items())),
                         "spearman_p_yes_position_random_states":
                             label_agreement(labeller, desc, probe)}
    for c, s in conditions.items():
        print(f"{c:<5} success {s['success_rate']['mean']:.2f} ± {s['success_rate']['std']:.2f}  "
              f"training success share {s['training_success_share']['mean']:.3f}  max position "
              f"{s['max_progress']['mean']:.2f}")
    if args.out is not None:
        write_json_atomic(args.out, result)
    return result


if __name__ == "__main__":
    main()
