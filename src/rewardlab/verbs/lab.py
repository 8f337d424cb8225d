"""The ``rewardlab lab`` verbs: each runs one experiment from its config and writes what the
command writes.

::

    from rewardlab.verbs.lab import OveroptSpec, overopt
    result = overopt(OveroptSpec(out="runs/lab", config=OveroptConfig(optimizers=("bon", "kl"))))
    result.results["settings"][0]["summary"]["gold_peak"]

* :func:`overopt`: gold vs proxy under best-of-n, the KL optimum and policy
  gradient (:class:`~rewardlab.lab.overopt.config.OveroptConfig`; a pool's or an
  optimizer's option given when it is not chosen is refused there);
* :func:`weak_to_strong`: a strong proxy trained on a weak one's labels
  (:class:`~rewardlab.lab.weak_to_strong.WeakToStrongConfig`);
* :func:`constrained`: component proxies held at their proxy points
  (:class:`~rewardlab.lab.overopt.components.ComponentsConfig`);
* :func:`agent`: policies on a reward learned from segment preferences
  (:class:`~rewardlab.lab.agent.options.AgentLabOptions`);
* :func:`agent_overopt`: a frozen learned reward optimized longer and longer in
  control (:class:`~rewardlab.lab.agent.overopt_options.AgentOveroptOptions`);
* :func:`diffusion`: a diffusion generator of digits optimized against an image
  reward model (:class:`~rewardlab.lab.diffusion.options.DiffusionLabOptions`).

Each checks its outputs before any work, seeds the policy gradient with the
run's seed (the seed of every draw), runs, writes atomically and returns a result.
``progress(phase, done, total)`` follows the experiment's phases and, where a
report with figures is written, the phase ``report`` (:func:`reported`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

from rewardlab.lab.agent.options import AgentLabOptions
from rewardlab.lab.agent.overopt_options import AgentOveroptOptions
from rewardlab.lab.diffusion.options import DiffusionLabOptions
from rewardlab.lab.overopt.components import ComponentsConfig
from rewardlab.lab.overopt.config import OveroptConfig
from rewardlab.lab.weak_to_strong import WeakToStrongConfig
from rewardlab.options import option

Progress = Callable[[str, int, int], None]
"""``progress(phase, done, total)``."""

T = TypeVar("T")


@dataclass(frozen=True)
class OveroptSpec:
    """``lab overopt``: where to write, and the experiment."""

    out: Path = option(help="Folder for results.json, report.html and the PNGs.")
    config: OveroptConfig = option(default_factory=OveroptConfig, cli=False,
                                   help="The experiment.")


@dataclass
class LabResult:
    """An experiment's numbers (as written) and the files written."""

    results: dict[str, Any]
    written: dict[str, Path]


def reported(write: Callable[[], T], progress: Progress | None) -> T:
    """``write()`` (a report with its figures: seconds of plotting) as the phase ``report``:
    ``progress("report", 0, 1)`` before, ``("report", 1, 1)`` after."""
    if progress is not None:
        progress("report", 0, 1)
    written = write()
    if progress is not None:
        progress("report", 1, 1)
    return written


def overopt(spec: OveroptSpec, progress: Progress | None = None) -> LabResult:
    """Run the overoptimization lab and write ``results.json``, ``report.html`` and PNGs."""
    from rewardlab.lab import overopt as lab
    from rewardlab.lab.overopt.report import write_report
    from rewardlab.verbs.outputs import check_out_folder

    config = spec.config
    config = replace(config, rl=replace(config.rl, pg=replace(config.rl.pg, seed=config.seed)))
    check_out_folder(spec.out, files=("results.json", "report.html"))
    results = lab.run_overopt(config, progress)
    return LabResult(results, reported(lambda: write_report(results, spec.out), progress))


@dataclass(frozen=True)
class WeakToStrongSpec:
    """``lab weak-to-strong``: the results file, and the experiment."""

    out: Path = option(help="Results JSON to write.")
    config: WeakToStrongConfig = option(default_factory=WeakToStrongConfig, cli=False,
                                        help="The experiment.")


def weak_to_strong(spec: WeakToStrongSpec, progress: Progress | None = None) -> LabResult:
    """Run the weak-to-strong experiment and write its JSON."""
    from rewardlab.atomic import write_json_atomic
    from rewardlab.lab import weak_to_strong as lab
    from rewardlab.verbs.outputs import check_out_file

    check_out_file(spec.out)
    results = lab.run_weak_to_strong(spec.config, progress)
    return LabResult(results, {"results": write_json_atomic(spec.out, results)})


@dataclass(frozen=True)
class ConstrainedSpec:
    """``lab constrained``: the results file, and the experiment."""

    out: Path = option(help="Results JSON to write.")
    config: ComponentsConfig = option(default_factory=ComponentsConfig, cli=False,
                                      help="The experiment.")


def constrained(spec: ConstrainedSpec, progress: Progress | None = None) -> LabResult:
    """Run the constrained-components experiment and write its JSON."""
    from rewardlab.atomic import write_json_atomic
    from rewardlab.lab.overopt import components as lab
    from rewardlab.verbs.outputs import check_out_file

    config = replace(spec.config, pg=replace(spec.config.pg, seed=spec.config.seed))
    check_out_file(spec.out)
    results = lab.run_components(config, progress)
    return LabResult(results, {"results": write_json_atomic(spec.out, results)})


@dataclass(frozen=True)
class AgentSpec:
    """``lab agent``: the output folder, whether model folders holding other files may be
    replaced, and the experiment."""

    out: Path = option(help="Folder for results.json, report.html, PNGs, pairs/ and models/.")
    overwrite: bool = option(False, "Replace model folders under --out/models that hold "
                             "other files.")
    options: AgentLabOptions = option(default_factory=AgentLabOptions, cli=False,
                                      help="The experiment.")


@dataclass
class AgentResult:
    """The experiment's result (:class:`~rewardlab.lab.agent.experiment.AgentLabResult`)
    and the files of its report."""

    result: Any
    written: dict[str, Path]


def check_agent_outputs(spec: AgentSpec) -> None:
    """Refuse ``--out`` before any work when a result could not be written there: the report
    files, each run's pairs file and its model folder (replaced as a whole: one holding other
    files only with ``overwrite``)."""
    from rewardlab.verbs.outputs import check_model_out, check_out_file, check_out_folder

    options, out = spec.options, Path(spec.out)
    strategies = options.strategies()
    check_out_folder(out, files=("results.json", "report.html",
                                 *(f"curves_{s}.png" for s in strategies)))
    for strategy in strategies:
        for value in range(options.seed, options.seed + options.seeds):
            check_out_file(out / "pairs" / f"{strategy}_seed{value}.npz")
            check_model_out(out / "models" / f"{strategy}_seed{value}", spec.overwrite)


def agent(spec: AgentSpec, progress: Progress | None = None) -> AgentResult:
    """Run the agent lab and write its report."""
    from rewardlab.lab.agent.experiment import run_agent_lab
    from rewardlab.lab.agent.report import write_agent_report

    options = spec.options
    if options.labels is not None and not Path(options.labels).is_file():
        raise ValueError(f"--labels {options.labels}: no such file")
    check_agent_outputs(spec)
    result = run_agent_lab(options, progress)
    return AgentResult(result, reported(lambda: write_agent_report(result, spec.out), progress))


@dataclass(frozen=True)
class AgentOveroptSpec:
    """``lab agent-overopt``: the output folder and the experiment."""

    out: Path = option(help="Folder for results.json, report.html and PNGs.")
    options: AgentOveroptOptions = option(default_factory=AgentOveroptOptions, cli=False,
                                          help="The experiment.")


def agent_overopt(spec: AgentOveroptSpec, progress: Progress | None = None) -> AgentResult:
    """Run the control overoptimization experiment and write its report."""
    from rewardlab.lab.agent.overopt import check_options, run_agent_overopt
    from rewardlab.lab.agent.overopt_report import strip_names, write_overopt_report
    from rewardlab.verbs.outputs import check_out_folder

    check_options(spec.options)
    check_out_folder(Path(spec.out), files=("results.json", "report.html", "curves.png",
                                            "kl.png", *strip_names(spec.options.variants)))
    result = run_agent_overopt(spec.options, progress)
    return AgentResult(result, reported(lambda: write_overopt_report(result, spec.out),
                                        progress))


@dataclass(frozen=True)
class DiffusionSpec:
    """``lab diffusion``: the output folder and the experiment."""

    out: Path = option(help="Folder for results.json, report.html and PNGs.")
    options: DiffusionLabOptions = option(default_factory=DiffusionLabOptions, cli=False,
                                          help="The experiment.")


def diffusion(spec: DiffusionSpec, progress: Progress | None = None) -> LabResult:
    """Run the diffusion overoptimization lab and write its report (the images of each
    checkpoint stay in ``results["images"]``; ``results.json`` leaves them out)."""
    from rewardlab.lab.diffusion.experiment import run_diffusion_lab
    from rewardlab.lab.diffusion.report import output_names, write_report
    from rewardlab.verbs.outputs import check_out_folder

    check_out_folder(Path(spec.out), files=output_names(spec.options.curve_names()))
    results = run_diffusion_lab(spec.options, progress)
    return LabResult(results, reported(lambda: write_report(results, spec.out), progress))
