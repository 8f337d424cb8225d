"""``rewardlab lab agent-overopt``: overoptimization of a frozen learned reward in control.

Runs :func:`rewardlab.lab.agent.overopt.run_agent_overopt` (a reward learned
from segment preferences of random-action episodes, frozen; a policy trained
on it for longer and longer; gold = true return, proxy = learned return, KL
from the initial policy; variants: one net, an ensemble read as mean / WCO /
UWO, one net with a gradient penalty) and writes ``results.json``,
``report.html`` and PNGs under ``--out``. Defaults come from
:class:`rewardlab.lab.agent.overopt_options.AgentOveroptOptions`; one
progress bar per phase (seed × variant).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import typer

from rewardlab.cli.agent_cmd import ALGORITHMS, NON_NEGATIVE, SHARE, phase_bars
from rewardlab.cli.common import SEED_MAX, choice, console, parse_csv, user_errors
from rewardlab.cli.outputs import check_out_folder
from rewardlab.lab.agent.options import LAB_REWARD
from rewardlab.lab.agent.overopt_options import VARIANTS, AgentOveroptOptions

FIELDS = AgentOveroptOptions.__dataclass_fields__


def _default(name: str):
    return FIELDS[name].default


def agent_overopt(
    out: Path = typer.Option(..., "--out", help="folder for results.json, report.html and PNGs"),
    env: str = typer.Option(_default("env"), "--env", help="a Gymnasium environment id"),
    algorithm: str = typer.Option(
        _default("algorithm"), "--algorithm",
        help="Stable-Baselines3 algorithm: ppo | sac (rl-baselines3-zoo hyper-parameters)",
    ),
    steps: int = typer.Option(_default("steps"), "--steps", min=1,
                              help="policy steps on the frozen reward, per run"),
    checkpoints: int = typer.Option(_default("checkpoints"), "--checkpoints", min=1,
                                    help="evaluation points after step 0"),
    comparisons: int = typer.Option(_default("comparisons"), "--comparisons", min=1,
                                    help="labelled segment pairs the reward learns from"),
    random_episodes: int = typer.Option(
        _default("random_episodes"), "--random-episodes", min=1,
        help="random-action episodes the segments are cut from",
    ),
    segment_length: int = typer.Option(_default("segment_length"), "--segment-length", min=1,
                                       help="steps per segment"),
    temperature: float = typer.Option(
        _default("temperature"), "--temperature", callback=NON_NEGATIVE,
        help="labeller's Boltzmann temperature τ (0: the larger true return wins)",
    ),
    noise: float = typer.Option(_default("noise"), "--noise", callback=SHARE,
                                help="share of labels answered at random, in [0, 1]"),
    variants: str = typer.Option(
        ",".join(_default("variants")), "--variants",
        help=f"a comma list of {' | '.join(VARIANTS)}",
    ),
    ensemble: int = typer.Option(_default("ensemble"), "--ensemble", min=2,
                                 help="members of the ensemble read by mean, wco and uwo"),
    uwo_lam: float = typer.Option(_default("uwo_lam"), "--uwo-lam", callback=NON_NEGATIVE,
                                  help="λ of UWO: mean − λ·variance of the members"),
    grad_penalty: float = typer.Option(
        _default("grad_penalty"), "--grad-penalty", callback=NON_NEGATIVE,
        help="λ of the lipschitz variant's gradient penalty λ·E‖∇ₓr̂‖² (> 0)",
    ),
    loss: str = typer.Option(LAB_REWARD["loss"], "--loss", help="pair loss of the reward"),
    seeds: int = typer.Option(_default("seeds"), "--seeds", min=1, help="seeds per variant"),
    seed: int = typer.Option(_default("seed"), "--seed", min=0, max=SEED_MAX,
                             help="the first seed"),
    eval_episodes: int = typer.Option(_default("eval_episodes"), "--eval-episodes", min=1,
                                      help="episodes per checkpoint"),
    sampled: bool = typer.Option(False, "--sampled", help="evaluate sampled actions instead "
                                 "of the policy's most likely ones"),
) -> None:
    """Train a policy longer and longer on a frozen learned reward: proxy vs gold vs KL."""
    from rewardlab.lab.agent.options import default_reward_options
    from rewardlab.lab.agent.overopt import run_agent_overopt
    from rewardlab.lab.agent.overopt_report import (
        strip_names,
        summary_rows,
        write_overopt_report,
    )

    choice(algorithm, ALGORITHMS, "--algorithm")
    names = tuple(choice(name, tuple(VARIANTS), "--variants") for name in parse_csv(variants))
    if not names:
        raise typer.BadParameter(f"name at least one, got {variants!r}", param_hint="'--variants'")
    if seed + seeds - 1 > SEED_MAX:
        raise typer.BadParameter(f"the last seed {seed + seeds - 1} is above {SEED_MAX}",
                                 param_hint="'--seeds'")
    with user_errors():
        check_out_folder(out, files=("results.json", "report.html", "curves.png", "kl.png",
                                     *strip_names(names)))
        reward = default_reward_options()
        reward = replace(reward, loss=loss,
                         loss_params=reward.loss_params if loss == LAB_REWARD["loss"] else {})
        options = AgentOveroptOptions(
            env=env, algorithm=algorithm, steps=steps, checkpoints=checkpoints,
            comparisons=comparisons, random_episodes=random_episodes,
            segment_length=segment_length, temperature=temperature, noise=noise,
            variants=names, ensemble=ensemble, uwo_lam=uwo_lam, grad_penalty=grad_penalty,
            seeds=seeds, seed=seed, eval_episodes=eval_episodes, sampled=sampled, reward=reward,
        )
        with phase_bars() as progress:
            result = run_agent_overopt(options, progress)
        written = write_overopt_report(result, out)
    for row in summary_rows(result.to_dict()):
        typer.echo(f"{row['variant']:<10} gold {row['gold_start']:7.1f} → peak "
                   f"{row['gold_peak']:7.1f} at {row['peak_steps']:>6} steps → last "
                   f"{row['gold_last']:7.1f}   proxy at peak {row['proxy_at_peak']:7.2f} → last "
                   f"{row['proxy_last']:7.2f}")
    console.print(f"wrote {written['report.html']} in {result.seconds:.0f} s")
