"""``rewardlab lab``: experiments that show where a reward model breaks before it is used.

``lab overopt`` runs the gold-vs-proxy best-of-n experiment
(:mod:`rewardlab.lab.overopt`; Gao et al. 2023, Coste et al. 2024) on the
synthetic arena or the AlpacaEval pool and writes ``results.json``,
``report.html`` and PNGs under ``--out``. ``lab weak-to-strong`` trains a
strong proxy on a weak proxy's labels and reports, per attribute, whether the
strong one's best-of-n picks follow the weak one (:mod:`rewardlab.lab.weak_to_strong`).
"""

from __future__ import annotations

from pathlib import Path

import typer

from rewardlab.cli.common import console, parse_csv, progress_bar, user_errors, write_json
from rewardlab.lab.overopt.pools import SyntheticPoolConfig
from rewardlab.lab.weak_to_strong import WeakToStrongConfig

ARENA = SyntheticPoolConfig()
W2S = WeakToStrongConfig()

POOL_SIZES = {"synthetic": "1000,4000", "alpaca-eval": "500,2000,4000"}


def _floats(text: str, flag: str) -> tuple[float, ...]:
    try:
        return tuple(parse_csv(text, float))
    except ValueError:
        raise ValueError(f"{flag}: expected comma-separated numbers, got {text!r}") from None


def _ints(text: str, flag: str) -> tuple[int, ...]:
    try:
        return tuple(parse_csv(text, int))
    except ValueError:
        raise ValueError(f"{flag}: expected comma-separated integers, got {text!r}") from None


def overopt(
    out: Path = typer.Option(..., "--out", help="folder for results.json, report.html, PNGs"),
    pool: str = typer.Option("synthetic", "--pool", help="synthetic | alpaca-eval"),
    data: Path | None = typer.Option(None, "--data", help="AlpacaEval folder (alpaca-eval)"),
    proxy_sizes: str | None = typer.Option(
        None,
        "--proxy-sizes",
        help=f"training pairs per proxy; default {POOL_SIZES['synthetic']} (synthetic), "
        f"{POOL_SIZES['alpaca-eval']} (alpaca-eval)",
    ),
    noise: str = typer.Option("0.25", "--noise", help="label-flip rates, e.g. 0,0.25"),
    ensemble: int = typer.Option(5, "--ensemble", help="members K per proxy"),
    aggregate: str = typer.Option("mean,wco,uwo", "--aggregate", help="ensemble readings"),
    backbones: str = typer.Option("hashing", "--backbones", help="e.g. hashing,encoder"),
    ns: str = typer.Option("", "--ns", help="values of n (default 1,2,4,… up to the pool)"),
    uwo_lambda: float = typer.Option(0.5, "--uwo-lambda", help="λ of UWO = mean − λ·Var"),
    length_correlation: float = typer.Option(
        ARENA.length_correlation,
        "--length-correlation",
        help="synthetic: ρ, how much more correct answers explain",
    ),
    pool_size: int = typer.Option(
        ARENA.pool_size, "--pool-size", help="synthetic: candidates per test prompt"
    ),
    test_prompts: int = typer.Option(
        ARENA.test_prompts, "--test-prompts", help="synthetic: test prompts"
    ),
    prompts: int = typer.Option(
        ARENA.n_prompts, "--prompts", help="synthetic: arena prompts (train + val + test)"
    ),
    val_prompts: int = typer.Option(
        ARENA.val_prompts, "--val-prompts", help="synthetic: validation prompts"
    ),
    max_test_prompts: int | None = typer.Option(
        None, "--max-test-prompts", help="alpaca-eval: cap on test instructions"
    ),
    seed: int = typer.Option(0, "--seed", help="seed of every draw"),
) -> None:
    """Gold vs proxy reward of best-of-n as n grows, per proxy and ensemble reading."""
    from rewardlab.lab.overopt import OveroptConfig, run_overopt
    from rewardlab.lab.overopt.report import summary_rows, write_report

    with user_errors():
        config = OveroptConfig(
            pool=pool,
            data=None if data is None else str(data),
            proxy_sizes=_ints(proxy_sizes or POOL_SIZES.get(pool, ""), "--proxy-sizes"),
            noises=_floats(noise, "--noise"),
            ensemble=ensemble,
            aggregates=tuple(parse_csv(aggregate)),
            backbones=tuple(parse_csv(backbones)),
            ns=_ints(ns, "--ns"),
            uwo_lambda=uwo_lambda,
            seed=seed,
            synthetic=SyntheticPoolConfig(
                n_prompts=prompts,
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
    console.print(f"wrote {written['report.html']} in {results['timing']['total_seconds']:.0f} s")


def weak_to_strong(
    out: Path = typer.Option(..., "--out", help="results JSON to write"),
    weak: str = typer.Option(W2S.weak, "--weak", help="backbone of the weak proxy"),
    strong: str = typer.Option(W2S.strong, "--strong", help="backbone of the strong proxy"),
    weak_pairs: int = typer.Option(
        W2S.weak_pairs, "--weak-pairs", help="gold-labelled pairs for the weak"
    ),
    transfer_pairs: int = typer.Option(
        W2S.transfer_pairs, "--transfer-pairs", help="pairs the weak labels for the strong"
    ),
    noise: float = typer.Option(W2S.noise, "--noise", help="label-flip rate of the gold labels"),
    pool_size: int = typer.Option(
        W2S.synthetic.pool_size, "--pool-size", help="candidates per test prompt"
    ),
    test_prompts: int = typer.Option(
        W2S.synthetic.test_prompts, "--test-prompts", help="test prompts"
    ),
    prompts: int = typer.Option(ARENA.n_prompts, "--prompts", help="arena prompts"),
    val_prompts: int = typer.Option(ARENA.val_prompts, "--val-prompts", help="validation prompts"),
    length_correlation: float = typer.Option(
        W2S.synthetic.length_correlation, "--length-correlation", help="arena ρ"
    ),
    seed: int = typer.Option(0, "--seed", help="seed of every draw"),
) -> None:
    """Does a strong proxy trained on a weak proxy's labels inherit its blind spots?"""
    from rewardlab.lab.weak_to_strong import run_weak_to_strong

    with user_errors():
        config = WeakToStrongConfig(
            weak=weak,
            strong=strong,
            weak_pairs=weak_pairs,
            transfer_pairs=transfer_pairs,
            noise=noise,
            seed=seed,
            synthetic=SyntheticPoolConfig(
                n_prompts=prompts,
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


def register(app: typer.Typer) -> None:
    """Add the ``lab`` group (``overopt``, ``weak-to-strong``) to the application."""
    lab = typer.Typer(help="Experiments: where does a reward model break under optimization?",
                      no_args_is_help=True)
    lab.command("overopt")(overopt)
    lab.command("weak-to-strong")(weak_to_strong)
    app.add_typer(lab, name="lab")
