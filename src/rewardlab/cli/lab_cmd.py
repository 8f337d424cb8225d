"""``rewardlab lab``: experiments that show where a reward model breaks before it is used.

``lab overopt`` runs the gold-vs-proxy experiment
(:mod:`rewardlab.lab.overopt`; Gao et al. 2023, Coste et al. 2024) on the
synthetic arena, the AlpacaEval pool or a candidate file, with best-of-n
(``--optimizer bon``), the exact KL-regularized optimum (``kl``) and the
policy-gradient path (``pg``), and writes ``results.json``, ``report.html``
and PNGs under ``--out``. ``lab weak-to-strong`` trains a
strong proxy on a weak proxy's labels and reports, per attribute, whether the
strong one's best-of-n picks follow the weak one (:mod:`rewardlab.lab.weak_to_strong`).
``lab constrained`` holds two component proxies of the synthetic arena at their
proxy points with Lagrange multipliers (:mod:`rewardlab.lab.overopt.components`;
Moskovitz et al., 2024) and compares it with their fixed-weight sum.

The options share the CLI's vocabulary: ``--n`` (best-of-n sizes), ``--n-prompts``,
``--backbone``, ``--noise`` and ``--aggregate`` are comma lists of the settings
compared; ``weak-to-strong`` and ``constrained`` run one noise rate each.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import typer

from rewardlab.cli.command import command
from rewardlab.cli.common import (
    SEED_MAX,
    check_backbone,
    choice,
    console,
    lookup,
    parse_csv,
    progress_bar,
    user_errors,
    write_json,
)
from rewardlab.cli.outputs import check_out_file, check_out_folder
from rewardlab.lab.overopt.components import ComponentsConfig
from rewardlab.lab.overopt.policy_gradient import PGConfig
from rewardlab.lab.overopt.pools import SyntheticPoolConfig
from rewardlab.lab.overopt.rl_curves import OPTIMIZERS, RLConfig
from rewardlab.lab.weak_to_strong import WeakToStrongConfig
from rewardlab.robust.aggregate import AGGREGATIONS

ARENA = SyntheticPoolConfig()
W2S = WeakToStrongConfig()
RL = RLConfig()
CON = ComponentsConfig()

POOL_SIZES = {"synthetic": "1000,4000", "alpaca-eval": "500,2000,4000", "FILE": "500"}
SOURCES = ("synthetic", "alpaca-eval")
MAX_FLIP = 0.5  # a label-flip rate above 1/2 inverts the preferences

N = TypeVar("N", int, float)


def _interval(low: float, high: float, low_open: bool, high_open: bool) -> str:
    if math.isinf(high):
        return f"a number {'>' if low_open else '>='} {low:g}"
    return f"a number in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"


def _number(
    low: float, high: float = math.inf, *, low_open: bool = False, high_open: bool = False
) -> Callable[[float | None], float | None]:
    """An option callback: a finite number in the interval (``None`` passes)."""

    def check(value: float | None) -> float | None:
        if value is None:
            return value
        above = value > low if low_open else value >= low
        below = value < high if high_open else value <= high
        if not (math.isfinite(value) and above and below):
            raise typer.BadParameter(
                f"expected {_interval(low, high, low_open, high_open)}, got {value:g}"
            )
        return value

    return check


POSITIVE = _number(0.0, low_open=True)
NON_NEGATIVE = _number(0.0)
CORRELATION = _number(-1.0, 1.0)
CLIP = _number(0.0, 1.0, low_open=True, high_open=True)


def _csv(
    text: str, option: str, cast: Callable[[str], N], low: float, high: float, *,
    required: bool = True,
) -> tuple[N, ...]:
    """A comma list of numbers in [low, high]; a bad or missing element is one bad-option
    error naming ``option``."""
    kind = "integers" if cast is int else "numbers"
    expected = f"comma-separated {kind} >= {low:g}" if math.isinf(high) else (
        f"comma-separated {kind} in [{low:g}, {high:g}]"
    )
    values = []
    for part in parse_csv(text):
        try:
            value = cast(part)
        except ValueError:
            value = None
        if value is None or not (math.isfinite(value) and low <= value <= high):
            raise typer.BadParameter(
                f"expected {expected}, got {part!r} in {text!r}", param_hint=f"'{option}'"
            )
        values.append(value)
    if required and not values:
        raise typer.BadParameter(f"expected {expected}, got {text!r}", param_hint=f"'{option}'")
    return tuple(values)


def _backbone(option: str) -> Callable[[str], str]:
    return lambda spec: check_backbone(spec, option)


def _names(text: str, option: str) -> tuple[str, ...]:
    names = tuple(parse_csv(text))
    if not names:
        raise typer.BadParameter(f"name at least one, got {text!r}", param_hint=f"'{option}'")
    return names


def _check_pool(pool: str, data: Path | None) -> None:
    from rewardlab.data.io import not_a_file

    if pool not in SOURCES and not Path(pool).is_file():
        raise typer.BadParameter(
            f"expected {' or '.join(SOURCES)} or an existing candidate file, got {pool!r}: "
            f"{not_a_file(Path(pool))}", param_hint="'--pool'",
        )
    if pool == "alpaca-eval" and data is None:
        raise typer.BadParameter("the alpaca-eval pool needs the AlpacaEval folder",
                                 param_hint="'--data'")


def _check_ns(ns: tuple[int, ...]) -> None:
    if ns and (sorted(set(ns)) != list(ns) or ns[0] != 1):
        raise typer.BadParameter(
            f"expected increasing values starting at 1, got {ns}", param_hint="'--n'"
        )


def _one_noise(text: str) -> float:
    """``--noise`` of a command that runs one label-flip rate: a comma list of one value."""
    noises = _csv(text, "--noise", float, 0.0, MAX_FLIP)
    if len(noises) > 1:
        raise typer.BadParameter(
            f"this experiment runs one label-flip rate, got {len(noises)} ({text}); run it once "
            "per rate (lab overopt compares several)", param_hint="'--noise'",
        )
    return noises[0]


def overopt(
    out: Path = typer.Option(..., "--out", help="folder for results.json, report.html, PNGs"),
    pool: str = typer.Option(
        "synthetic", "--pool", help="synthetic | alpaca-eval | FILE (prompt, response, gold, "
        "[logprob] rows)"
    ),
    optimizer: str = typer.Option(
        "bon", "--optimizer", help="bon | kl | pg, or a comma list (e.g. bon,kl,pg)"
    ),
    pg_steps: int = typer.Option(RL.pg.steps, "--pg-steps", min=1, help="pg: updates"),
    pg_beta: float = typer.Option(
        RL.pg.beta, "--pg-beta", callback=POSITIVE,
        help="pg: KL coefficient, in units of the reward scale",
    ),
    pg_lr: float = typer.Option(
        RL.pg.lr, "--pg-lr", callback=POSITIVE, help="pg: step size on the logits"
    ),
    pg_group: int = typer.Option(RL.pg.group, "--pg-group", min=2, help="pg: samples per prompt"),
    pg_clip: float | None = typer.Option(
        RL.pg.clip, "--pg-clip", callback=CLIP,
        help="pg: PPO clip ε in (0, 1) (default: plain REINFORCE)",
    ),
    data: Path | None = typer.Option(None, "--data", help="AlpacaEval folder (alpaca-eval)"),
    proxy_sizes: str | None = typer.Option(
        None,
        "--proxy-sizes",
        help=f"training pairs per proxy; default {POOL_SIZES['synthetic']} (synthetic), "
        f"{POOL_SIZES['alpaca-eval']} (alpaca-eval)",
    ),
    noise: str = typer.Option(
        "0.25", "--noise", help="label-flip rates in [0, 0.5], a comma list (e.g. 0,0.25)"
    ),
    ensemble: int = typer.Option(5, "--ensemble", min=1, help="members K per proxy"),
    aggregate: str = typer.Option(
        "mean,wco,uwo", "--aggregate",
        help="ensemble readings to compare, a comma list of {aggregations} (each is its own "
        "proxy here; elsewhere --aggregate reduces one ensemble)",
    ),
    backbone: str = typer.Option(
        "hashing", "--backbone", callback=_backbone("--backbone"),
        help="proxy backbones to compare, a comma list (e.g. hashing,encoder)",
    ),
    n: str = typer.Option(
        "", "--n", help="best-of-n sizes, a comma list (default 1,2,4,… up to the pool)"
    ),
    uwo_lambda: float = typer.Option(
        0.5, "--uwo-lambda", callback=NON_NEGATIVE, help="λ of UWO = mean − λ·Var"
    ),
    length_correlation: float = typer.Option(
        ARENA.length_correlation,
        "--length-correlation",
        callback=CORRELATION,
        help="synthetic: ρ, how much more correct answers explain",
    ),
    pool_size: int = typer.Option(
        ARENA.pool_size, "--pool-size", min=2, help="synthetic: candidates per test prompt (>= 2)"
    ),
    test_prompts: int = typer.Option(
        ARENA.test_prompts, "--test-prompts", min=1, help="synthetic: test prompts"
    ),
    n_prompts: int = typer.Option(
        ARENA.n_prompts, "--n-prompts", min=1, help="synthetic: arena prompts (train + val + test)"
    ),
    val_prompts: int = typer.Option(
        ARENA.val_prompts, "--val-prompts", min=1, help="synthetic: validation prompts"
    ),
    max_test_prompts: int | None = typer.Option(
        None, "--max-test-prompts", min=1, help="alpaca-eval: cap on test instructions"
    ),
    seed: int = typer.Option(0, "--seed", min=0, max=SEED_MAX, help="seed of every draw"),
) -> None:
    """Gold vs proxy reward as optimization grows, per proxy, ensemble reading and optimizer."""
    from rewardlab.lab.overopt import OveroptConfig, run_overopt
    from rewardlab.lab.overopt.report import summary_rows, write_report
    from rewardlab.lab.overopt.report_rl import rl_fit_rows

    _check_pool(pool, data)
    sizes = _csv(proxy_sizes or POOL_SIZES.get(pool, POOL_SIZES["FILE"]), "--proxy-sizes",
                 int, 1, math.inf)
    noises = _csv(noise, "--noise", float, 0.0, MAX_FLIP)
    aggregates = tuple(parse_csv(aggregate))
    for name in aggregates:
        lookup(AGGREGATIONS, name, "--aggregate")
    if aggregates and ensemble < 2:
        raise typer.BadParameter(
            f"aggregating {', '.join(aggregates)} needs --ensemble >= 2, got {ensemble}",
            param_hint="'--aggregate'",
        )
    n_values = _csv(n, "--n", int, 1, math.inf, required=False)
    _check_ns(n_values)
    optimizers = tuple(choice(name, OPTIMIZERS, "--optimizer")
                       for name in _names(optimizer, "--optimizer"))
    with user_errors():
        check_out_folder(out, files=("results.json", "report.html"))
        config = OveroptConfig(
            pool=pool,
            data=None if data is None else str(data),
            proxy_sizes=sizes,
            noises=noises,
            ensemble=ensemble,
            aggregates=aggregates,
            backbones=_names(backbone, "--backbone"),
            ns=n_values,
            uwo_lambda=uwo_lambda,
            optimizers=optimizers,
            rl=RLConfig(
                pg=PGConfig(
                    beta=pg_beta,
                    steps=pg_steps,
                    lr=pg_lr,
                    group=pg_group,
                    clip=pg_clip,
                    log_every=RL.pg.log_every,
                    seed=seed,
                )
            ),
            seed=seed,
            synthetic=SyntheticPoolConfig(
                n_prompts=n_prompts,
                test_prompts=test_prompts,
                val_prompts=val_prompts,
                pool_size=pool_size,
                length_correlation=length_correlation,
            ),
            max_test_prompts=max_test_prompts,
        )
        with progress_bar("overopt") as update:
            results = run_overopt(config, lambda stage, done, total: update(done, total))
        written = write_report(results, out)
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
    console.print(f"wrote {written['report.html']} in {results['timing']['total_seconds']:.0f} s")


def weak_to_strong(
    out: Path = typer.Option(..., "--out", help="results JSON to write"),
    weak: str = typer.Option(W2S.weak, "--weak", help="backbone of the weak proxy",
                             callback=_backbone("--weak")),
    strong: str = typer.Option(W2S.strong, "--strong", help="backbone of the strong proxy",
                               callback=_backbone("--strong")),
    weak_pairs: int = typer.Option(
        W2S.weak_pairs, "--weak-pairs", min=2, help="gold-labelled pairs for the weak"
    ),
    transfer_pairs: int = typer.Option(
        W2S.transfer_pairs, "--transfer-pairs", min=2,
        help="pairs the weak labels for the strong",
    ),
    noise: str = typer.Option(
        f"{W2S.noise:g}", "--noise",
        help="label-flip rate of the gold labels, in [0, 0.5]; one value (a comma list of one)",
    ),
    pool_size: int = typer.Option(
        W2S.synthetic.pool_size, "--pool-size", min=2, help="candidates per test prompt (>= 2)"
    ),
    test_prompts: int = typer.Option(
        W2S.synthetic.test_prompts, "--test-prompts", min=1, help="test prompts"
    ),
    n_prompts: int = typer.Option(ARENA.n_prompts, "--n-prompts", min=1, help="arena prompts"),
    val_prompts: int = typer.Option(
        ARENA.val_prompts, "--val-prompts", min=1, help="validation prompts"
    ),
    length_correlation: float = typer.Option(
        W2S.synthetic.length_correlation, "--length-correlation", callback=CORRELATION,
        help="arena ρ",
    ),
    seed: int = typer.Option(0, "--seed", min=0, max=SEED_MAX, help="seed of every draw"),
) -> None:
    """Does a strong proxy trained on a weak proxy's labels inherit its blind spots?"""
    from rewardlab.lab.weak_to_strong import run_weak_to_strong

    rate = _one_noise(noise)
    with user_errors():
        check_out_file(out)
        config = WeakToStrongConfig(
            weak=weak,
            strong=strong,
            weak_pairs=weak_pairs,
            transfer_pairs=transfer_pairs,
            noise=rate,
            seed=seed,
            synthetic=SyntheticPoolConfig(
                n_prompts=n_prompts,
                test_prompts=test_prompts,
                val_prompts=val_prompts,
                pool_size=pool_size,
                n_val_pairs=W2S.synthetic.n_val_pairs,
                length_correlation=length_correlation,
            ),
        )
        with progress_bar("weak-to-strong") as update:
            results = run_weak_to_strong(config, lambda stage, done, total: update(done, total))
        write_json(out, results)
    for attribute, row in results["attributes"].items():
        typer.echo(
            f"{attribute:<12} weak {row['weak']:.3f}  strong(w2s) {row['w2s']:.3f}  "
            f"strong(gold) {row['ceiling']:.3f}  → {row['verdict']}"
        )
    console.print(f"wrote {out}")


def constrained(
    out: Path = typer.Option(..., "--out", help="results JSON to write"),
    proxy_size: int = typer.Option(
        CON.proxy_size, "--proxy-size", min=1, help="pairs per component"
    ),
    noise: str = typer.Option(
        f"{CON.noise:g}", "--noise",
        help="label-flip rate, in [0, 0.5]; one value (a comma list of one)",
    ),
    pg_steps: int = typer.Option(
        CON.pg.steps, "--pg-steps", min=1, help="policy-gradient updates"
    ),
    pg_beta: float = typer.Option(
        CON.pg.beta, "--pg-beta", callback=POSITIVE, help="KL coefficient (reward scale)"
    ),
    pg_lr: float = typer.Option(
        CON.pg.lr, "--pg-lr", callback=POSITIVE, help="step size on the logits"
    ),
    lagrange_lr: float = typer.Option(
        CON.lagrange_lr, "--lagrange-lr", callback=POSITIVE, help="multiplier step"
    ),
    pool_size: int = typer.Option(
        CON.synthetic.pool_size, "--pool-size", min=2, help="candidates per test prompt (>= 2)"
    ),
    test_prompts: int = typer.Option(
        ARENA.test_prompts, "--test-prompts", min=1, help="test prompts"
    ),
    n_prompts: int = typer.Option(ARENA.n_prompts, "--n-prompts", min=1, help="arena prompts"),
    val_prompts: int = typer.Option(
        ARENA.val_prompts, "--val-prompts", min=1, help="validation prompts"
    ),
    seed: int = typer.Option(0, "--seed", min=0, max=SEED_MAX, help="seed of every draw"),
) -> None:
    """Component proxies held at their proxy points (constrained RLHF) vs their fixed sum."""
    from rewardlab.lab.overopt.components import ComponentsConfig, run_components

    rate = _one_noise(noise)
    with user_errors():
        check_out_file(out)
        config = ComponentsConfig(
            proxy_size=proxy_size,
            noise=rate,
            pg=PGConfig(beta=pg_beta, steps=pg_steps, lr=pg_lr, group=CON.pg.group,
                        log_every=CON.pg.log_every, seed=seed),
            lagrange_lr=lagrange_lr,
            synthetic=SyntheticPoolConfig(n_prompts=n_prompts, test_prompts=test_prompts,
                                          val_prompts=val_prompts, pool_size=pool_size),
            seed=seed,
        )
        results = run_components(config)
        write_json(out, results)
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
    console.print(f"wrote {out} in {results['timing']['total_seconds']:.0f} s")


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def register(app: typer.Typer) -> None:
    """Add the ``lab`` group (``overopt``, ``weak-to-strong``, ``constrained``)."""
    lab = typer.Typer(help="Experiments: where does a reward model break under optimization?",
                      no_args_is_help=True)
    command(lab, "overopt", renamed={
        "--ns": "--n", "--prompts": "--n-prompts", "--backbones": "--backbone",
    })(overopt)
    command(lab, "weak-to-strong", renamed={"--prompts": "--n-prompts"})(weak_to_strong)
    command(lab, "constrained", renamed={"--prompts": "--n-prompts"})(constrained)
    command(lab, "agent")(importlib.import_module("rewardlab.cli.agent_cmd").agent)
    command(lab, "agent-overopt")(
        importlib.import_module("rewardlab.cli.agent_overopt_cmd").agent_overopt)
    app.add_typer(lab, name="lab")
