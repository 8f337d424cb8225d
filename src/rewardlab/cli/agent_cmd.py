"""``rewardlab lab agent``: rewards for decision-making agents, learned from preferences.

Runs :func:`rewardlab.lab.agent.experiment.run_agent_lab` (Christiano et al.,
2017: segment pairs of the policy's own episodes, a synthetic Boltzmann
labeller, a reward ensemble, Stable-Baselines3 on the learned reward) against
the same policy trained on the true reward, and writes ``results.json``,
``report.html``, PNGs, the labelled pairs and the reward models under
``--out``. Defaults come from :class:`rewardlab.lab.agent.options.AgentLabOptions`
(and :data:`~rewardlab.lab.agent.options.LAB_REWARD` for the reward ensemble);
one progress bar per phase (seed × true reward or query strategy).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from rewardlab.cli.common import choice, console, parse_csv, user_errors
from rewardlab.lab.agent.options import LAB_REWARD, AgentLabOptions

LAB = AgentLabOptions.__dataclass_fields__
ALGORITHMS = ("ppo", "sac")
QUERY_NAMES = ("random", "disagreement")


def _default(name: str):
    return LAB[name].default


@contextlib.contextmanager
def phase_bars() -> Iterator[Callable[[str, int, int], None]]:
    """A ``progress(phase, done, total)`` callback drawing one rich bar per phase."""
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                  TextColumn("{task.completed}/{task.total} steps"), TimeElapsedColumn(),
                  console=console, transient=False) as bars:
        tasks: dict[str, int] = {}

        def update(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = bars.add_task(phase, total=total)
            bars.update(tasks[phase], completed=min(done, total), total=total)

        yield update


def agent(
    out: Path = typer.Option(..., "--out", help="folder for results.json, report.html, PNGs, "
                             "pairs/ and models/"),
    env: str = typer.Option(_default("env"), "--env", help="a Gymnasium environment id"),
    algorithm: str = typer.Option(
        _default("algorithm"), "--algorithm",
        help="Stable-Baselines3 algorithm: ppo | sac (rl-baselines3-zoo hyper-parameters)",
    ),
    steps: int = typer.Option(_default("steps"), "--steps", min=1,
                              help="policy steps per run (every policy gets the same)"),
    iterations: int = typer.Option(
        _default("iterations"), "--iterations", min=1,
        help="label → reward → policy rounds per run",
    ),
    comparisons: int = typer.Option(_default("comparisons"), "--comparisons", min=1,
                                    help="labelled segment pairs per run"),
    queries: str = typer.Option(
        ",".join(_default("queries")), "--queries",
        help="query strategies compared, a comma list of random | disagreement",
    ),
    seeds: int = typer.Option(_default("seeds"), "--seeds", min=1, help="seeds per setting"),
    seed: int = typer.Option(_default("seed"), "--seed", help="the first seed"),
    segment_length: int = typer.Option(_default("segment_length"), "--segment-length", min=1,
                                       help="steps per segment"),
    temperature: float = typer.Option(
        _default("temperature"), "--temperature", min=0.0,
        help="labeller's Boltzmann temperature τ (0: the larger true return wins)",
    ),
    noise: float = typer.Option(_default("noise"), "--noise", min=0.0, max=1.0,
                                help="share of labels answered at random"),
    labels: Path | None = typer.Option(
        None, "--labels", help="a .npz/.parquet file of labelled segment pairs to learn from "
        "instead of the labeller",
    ),
    ensemble: int = typer.Option(LAB_REWARD["n_members"], "--ensemble", min=1,
                                 help="reward ensemble members"),
    loss: str = typer.Option(LAB_REWARD["loss"], "--loss",
                             help="pair loss of the reward ensemble: {losses}"),
    grad_penalty: float = typer.Option(0.0, "--grad-penalty", min=0.0,
                                       help="λ of the reward's gradient penalty λ·E‖∇ₓr̂‖²"),
    eval_episodes: int = typer.Option(_default("eval_episodes"), "--eval-episodes", min=1,
                                      help="evaluation episodes per policy"),
) -> None:
    """Policies trained on a reward learned from segment preferences vs on the true reward."""
    from rewardlab.lab.agent.experiment import run_agent_lab
    from rewardlab.lab.agent.options import default_reward_options
    from rewardlab.lab.agent.report import summary_rows, write_agent_report

    choice(algorithm, ALGORITHMS, "--algorithm")
    strategies = tuple(choice(name, QUERY_NAMES, "--queries") for name in parse_csv(queries))
    if not strategies:
        raise typer.BadParameter(f"name at least one, got {queries!r}", param_hint="'--queries'")
    with user_errors():
        if labels is not None and not labels.is_file():
            raise ValueError(f"--labels {labels}: no such file")
        reward = default_reward_options()
        reward = replace(reward, n_members=ensemble, loss=loss, grad_penalty=grad_penalty,
                         loss_params=reward.loss_params if loss == LAB_REWARD["loss"] else {})
        options = AgentLabOptions(
            env=env, algorithm=algorithm, steps=steps, iterations=iterations,
            comparisons=comparisons, queries=strategies, seeds=seeds, seed=seed,
            segment_length=segment_length, temperature=temperature, noise=noise,
            labels=None if labels is None else str(labels), eval_episodes=eval_episodes,
            reward=reward,
        )
        with phase_bars() as progress:
            result = run_agent_lab(options, progress)
        written = write_agent_report(result, out)
    for row in summary_rows(result.to_dict()):
        learned, true = row["learned_reward_return"], row["true_reward_return"]
        typer.echo(f"{row['queries']:<13} seed {row['seed']!s:<5} learned-reward policy "
                   f"{learned:8.1f}   true-reward policy {true:8.1f}")
    console.print(f"wrote {written['report.html']} in {result.seconds:.0f} s")
