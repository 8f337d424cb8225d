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
import math
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from rewardlab.cli.common import SEED_MAX, choice, console, parse_csv, user_errors
from rewardlab.lab.agent.options import LAB_REWARD, AgentLabOptions
from rewardlab.verbs.outputs import check_model_out, check_out_file, check_out_folder

LAB = AgentLabOptions.__dataclass_fields__
ALGORITHMS = ("ppo", "sac")
QUERY_NAMES = ("random", "disagreement")


def _finite(low: float, high: float = math.inf) -> Callable[[float], float]:
    """An option callback: a finite number in [low, high] (a NaN passes Click's ranges)."""

    def check(value: float) -> float:
        if not (math.isfinite(value) and low <= value <= high):
            where = f">= {low:g}" if math.isinf(high) else f"in [{low:g}, {high:g}]"
            raise typer.BadParameter(f"expected a number {where}, got {value:g}")
        return value

    return check


NON_NEGATIVE = _finite(0.0)
SHARE = _finite(0.0, 1.0)


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


def check_outputs(
    out: Path, strategies: tuple[str, ...], seed: int, seeds: int, overwrite: bool
) -> None:
    """Refuse ``--out`` before any work when a result could not be written there: the
    report files, each run's pairs file and its model folder (replaced as a whole: one
    holding other files only with ``overwrite``)."""
    check_out_folder(out, files=("results.json", "report.html",
                                 *(f"curves_{s}.png" for s in strategies)))
    for strategy in strategies:
        for value in range(seed, seed + seeds):
            check_out_file(out / "pairs" / f"{strategy}_seed{value}.npz")
            check_model_out(out / "models" / f"{strategy}_seed{value}", overwrite)


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
    seed: int = typer.Option(_default("seed"), "--seed", min=0, max=SEED_MAX,
                             help="the first seed"),
    segment_length: int = typer.Option(_default("segment_length"), "--segment-length", min=1,
                                       help="steps per segment"),
    temperature: float = typer.Option(
        _default("temperature"), "--temperature", callback=NON_NEGATIVE,
        help="labeller's Boltzmann temperature τ (0: the larger true return wins)",
    ),
    noise: float = typer.Option(_default("noise"), "--noise", callback=SHARE,
                                help="share of labels answered at random, in [0, 1]"),
    labels: Path | None = typer.Option(
        None, "--labels", help="a .npz/.parquet file of labelled segment pairs to learn from "
        "instead of the labeller",
    ),
    ensemble: int = typer.Option(LAB_REWARD["n_members"], "--ensemble", min=1,
                                 help="reward ensemble members"),
    loss: str = typer.Option(LAB_REWARD["loss"], "--loss",
                             help="pair loss of the reward ensemble: {losses}"),
    grad_penalty: float = typer.Option(0.0, "--grad-penalty", callback=NON_NEGATIVE,
                                       help="λ of the reward's gradient penalty λ·E‖∇ₓr̂‖²"),
    eval_episodes: int = typer.Option(_default("eval_episodes"), "--eval-episodes", min=1,
                                      help="evaluation episodes per policy"),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="replace model folders under --out/models that hold other "
        "files",
    ),
) -> None:
    """Policies trained on a reward learned from segment preferences vs on the true reward."""
    from rewardlab.lab.agent.experiment import run_agent_lab
    from rewardlab.lab.agent.options import default_reward_options
    from rewardlab.lab.agent.report import summary_rows, write_agent_report

    choice(algorithm, ALGORITHMS, "--algorithm")
    strategies = tuple(choice(name, QUERY_NAMES, "--queries") for name in parse_csv(queries))
    if not strategies:
        raise typer.BadParameter(f"name at least one, got {queries!r}", param_hint="'--queries'")
    if seed + seeds - 1 > SEED_MAX:
        raise typer.BadParameter(f"the last seed {seed + seeds - 1} is above {SEED_MAX}",
                                 param_hint="'--seeds'")
    with user_errors():
        if labels is not None and not labels.is_file():
            raise ValueError(f"--labels {labels}: no such file")
        check_outputs(out, (("file",) if labels is not None else strategies), seed, seeds,
                      overwrite)
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
