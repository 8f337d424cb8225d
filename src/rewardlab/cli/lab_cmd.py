"""``rewardlab lab``: experiments that show where a reward model breaks before it is used.

``lab overopt`` runs the gold-vs-proxy experiment
(:mod:`rewardlab.lab.overopt`; Gao et al. 2023, Coste et al. 2024) on the
synthetic arena, the AlpacaEval pool or a candidate file, with best-of-n
(``--optimizer bon``), the exact KL-regularized optimum (``kl``) and the
policy-gradient path (``pg``), and writes ``results.json``, ``report.html``
and PNGs under ``--out``. ``lab weak-to-strong`` trains a
strong proxy on a weak proxy's labels and reports, per attribute, whether the
strong one's best-of-n picks follow the weak one (:mod:`rewardlab.lab.weak_to_strong`).
``lab diffusion`` optimizes the lab's digit diffusion generator against an image
reward model by best-of-n, DRaFT-K, DDPO, D3PO, FK steering and ReNO
(:mod:`rewardlab.lab.diffusion`).
``lab constrained`` holds two component proxies of the synthetic arena at their
proxy points with Lagrange multipliers (:mod:`rewardlab.lab.overopt.components`;
Moskovitz et al., 2024) and compares it with their fixed-weight sum.

Each command's flags are made from its experiment's config and its components'
options (the arena's sizes, the policy gradient's settings; :mod:`rewardlab.cli.flags`),
and the library verb (:mod:`rewardlab.verbs.lab`) runs it: an option of a pool or
an optimizer that is not chosen is refused before anything runs. The lists
(``--n``, ``--label-noise`` (formerly ``--noise``), ``--aggregate``, ``--backbone``, ``--proxy-sizes``) are the
settings compared; ``weak-to-strong`` and ``constrained`` run one noise rate each.
"""

from __future__ import annotations

import importlib
from dataclasses import replace

import typer

from rewardlab.cli.command import command
from rewardlab.cli.common import console, progress_bars, user_errors
from rewardlab.cli.flags import with_options
from rewardlab.lab.diffusion.options import DiffusionLabOptions, GeneratorConfig
from rewardlab.lab.overopt.components import ComponentsConfig, ComponentsPG, ComponentsPool
from rewardlab.lab.overopt.config import OveroptConfig
from rewardlab.lab.overopt.pools import SyntheticPoolConfig
from rewardlab.lab.overopt.rl_curves import LabPGConfig
from rewardlab.lab.weak_to_strong import WeakToStrongConfig, WeakToStrongPool
from rewardlab.verbs.lab import ConstrainedSpec, DiffusionSpec, OveroptSpec, WeakToStrongSpec


@with_options(spec=OveroptSpec, config=OveroptConfig, synthetic=SyntheticPoolConfig,
              pg=LabPGConfig)
def overopt(spec: OveroptSpec = None, config: OveroptConfig = None,
            synthetic: SyntheticPoolConfig = None, pg: LabPGConfig = None) -> None:
    """Gold vs proxy reward as optimization grows, per proxy, ensemble reading and optimizer."""
    from rewardlab.lab.overopt.report import summary_rows
    from rewardlab.lab.overopt.report_rl import rl_fit_rows
    from rewardlab.verbs.lab import overopt as run

    with user_errors():
        config = replace(config, synthetic=synthetic, rl=replace(config.rl, pg=pg))
        with progress_bars() as progress:
            made = run(replace(spec, config=config), progress)
    results = made.results
    for row in summary_rows(results["settings"]):
        typer.echo(
            f"{row['backbone']:<8} m={row['proxy_size']:<5} ε={row['noise']:<4} "
            f"{row['aggregate']:<6} gold n=1 {row['gold_n1']:.3f}  peak {row['gold_peak']:.3f} "
            f"(n={row['n_at_peak']})  max-n {row['gold_max_n']:.3f}  "
            f"α={row['alpha']:.3f} β={row['beta']:.3f}"
        )
    for row in rl_fit_rows(results["settings"]):
        fit = "no fit" if row["alpha"] is None else (
            f"α={row['alpha']:.3f} β={row['beta']:.3f} R²={row['r2']:.2f}"
        )
        typer.echo(
            f"{row['backbone']:<8} m={row['proxy_size']:<5} ε={row['noise']:<4} "
            f"{row['aggregate']:<6} {row['optimizer']:<10} gold {row['gold_start']:.3f} → "
            f"peak {row['gold_peak']:.3f} (KL {row['kl_at_peak']:.2f}) → "
            f"{row['gold_at_kl_max']:.3f} (KL {row['kl_max']:.2f})  {fit}"
        )
    console.print(f"wrote {made.written['report.html']} in "
                  f"{results['timing']['total_seconds']:.0f} s")


@with_options(spec=WeakToStrongSpec, config=WeakToStrongConfig, synthetic=WeakToStrongPool)
def weak_to_strong(spec: WeakToStrongSpec = None, config: WeakToStrongConfig = None,
                   synthetic: WeakToStrongPool = None) -> None:
    """Does a strong proxy trained on a weak proxy's labels inherit its blind spots?"""
    from rewardlab.verbs.lab import weak_to_strong as run

    with user_errors(), progress_bars() as progress:
        made = run(replace(spec, config=replace(config, synthetic=synthetic)), progress)
    accuracy, gap = made.results["gold_accuracy"], made.results["performance_gap_recovered"]
    typer.echo(f"gold accuracy: weak {accuracy['weak']:.3f}  strong(w2s) {accuracy['w2s']:.3f}  "
               f"strong(gold) {accuracy['ceiling']:.3f}  → gap recovered "
               f"{'–' if gap is None else f'{gap:.0%}'}")
    typer.echo(f"at best-of-{made.results['max_n']}:")
    for attribute, row in made.results["attributes"].items():
        typer.echo(
            f"{attribute:<12} weak {row['weak']:.3f}  strong(w2s) {row['w2s']:.3f}  "
            f"strong(gold) {row['ceiling']:.3f}  → {row['verdict']}"
        )
    console.print(f"wrote {spec.out}")


@with_options(spec=ConstrainedSpec, config=ComponentsConfig, synthetic=ComponentsPool,
              pg=ComponentsPG)
def constrained(spec: ConstrainedSpec = None, config: ComponentsConfig = None,
                synthetic: ComponentsPool = None, pg: ComponentsPG = None) -> None:
    """Component proxies held at their proxy points (constrained RLHF) vs their fixed sum."""
    from rewardlab.verbs.lab import constrained as run

    with user_errors(), progress_bars() as progress:
        made = run(replace(spec, config=replace(config, synthetic=synthetic, pg=pg)), progress)
    results = made.results
    final = results["constrained"]["final"]
    for name, point in results["proxy_points"].items():
        typer.echo(
            f"{name:<6} proxy point θ={point['theta']:.3f} (gold peak {point['gold_peak']:.3f} "
            f"at KL {point['kl_at_peak']:.2f})  constrained E[r]={final['components'][name]:.3f}"
            f"  gold {final['component_gold'][name]:.3f}"
        )
    fixed = results["fixed_sum"]["gold_at_constrained_kl"]
    typer.echo(
        f"constrained: KL {final['kl']:.2f}, gold {final['gold']:.3f}, weights σ(λ) "
        f"{', '.join(f'{w:.2f}' for w in final['weights'])}; fixed sum at that KL: "
        f"KL optimum {_num(fixed['kl_optimum'])}, PG {_num(fixed['pg'])}"
    )
    console.print(f"wrote {spec.out} in {results['timing']['total_seconds']:.0f} s")


@with_options(spec=DiffusionSpec, options=DiffusionLabOptions, generator=GeneratorConfig)
def diffusion(spec: DiffusionSpec = None, options: DiffusionLabOptions = None,
              generator: GeneratorConfig = None) -> None:
    """A diffusion generator of digits optimized against an image reward: gold vs proxy."""
    from rewardlab.verbs.lab import diffusion as run

    with user_errors():
        options = replace(options, generator=generator)
        with progress_bars() as progress:
            made = run(replace(spec, options=options), progress)
    results = made.results
    for name, result in results["optimizers"].items():
        s, fit = result["summary"], result["summary"]["fit"]
        fit_text = "no fit" if fit is None or fit["r2"] is None else (
            f"α={fit['alpha']:.3f} β={fit['beta']:.3f} R²={fit['r2']:.2f}")
        typer.echo(
            f"{name:<6} gold {s['gold_start']:.3f} → peak {s['gold_peak']:.3f} "
            f"(KL {s['kl_at_peak']:.2f}) → {s['gold_last']:.3f} (KL {s['kl_last']:.2f})  "
            f"proxy {s['proxy_start']:.3f} → {s['proxy_last']:.3f}  {fit_text}"
        )
    console.print(f"wrote {made.written['report.html']} in "
                  f"{results['timing']['total_seconds']:.0f} s")


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def register(app: typer.Typer) -> None:
    """Add the ``lab`` group (``overopt``, ``weak-to-strong``, ``constrained``, ``agent``,
    ``agent-overopt``, ``diffusion``)."""
    lab = typer.Typer(help="Experiments: where does a reward model break under optimization?",
                      no_args_is_help=True)
    command(lab, "overopt", renamed={
        "--ns": "--n", "--prompts": "--n-prompts", "--backbones": "--backbone",
        "--noise": "--label-noise",
    })(overopt)
    command(lab, "weak-to-strong", renamed={"--prompts": "--n-prompts",
                                            "--noise": "--label-noise"})(weak_to_strong)
    command(lab, "constrained", renamed={"--prompts": "--n-prompts",
                                         "--noise": "--label-noise"})(constrained)
    command(lab, "agent")(importlib.import_module("rewardlab.cli.agent_cmd").agent)
    command(lab, "agent-overopt")(
        importlib.import_module("rewardlab.cli.agent_overopt_cmd").agent_overopt)
    command(lab, "diffusion")(diffusion)
    app.add_typer(lab, name="lab")
