"""``rewardlab eval`` and ``rewardlab compare``: suites, probes, reports, agreement."""

from __future__ import annotations

from pathlib import Path

import typer

from rewardlab.cli.common import console, parse_csv, user_errors, write_json

ONE_TO_MANY_FORMATS = ("gsm8k", "prmbench")


def register(app: typer.Typer) -> None:
    app.command("eval")(evaluate)
    app.command("compare")(compare)


def load_records(data: str, format: str) -> list:
    """Comparison records of ``data``; GSM8K / PRMBench one-to-many groups by format name."""
    from rewardlab.data.load import load_comparisons

    if format == "gsm8k":
        from rewardlab.evaluate.one_to_many import load_gsm8k_groups

        return load_gsm8k_groups(data)
    if format == "prmbench":
        from rewardlab.evaluate.one_to_many import load_prmbench_groups

        path = Path(data)
        return load_prmbench_groups(sorted(path.glob("*.jsonl.gz")) if path.is_dir() else [path])
    loaded = load_comparisons(data, format)
    console.print(f"data: {loaded.report.summary()}")
    return loaded.records


def load_for_scoring(model: Path, aggregate: str | None):
    """A saved model, wrapped in the named aggregation when it has several members."""
    from rewardlab.robust.loading import load_reward_model

    return load_reward_model(model, aggregate=aggregate)


def evaluate(
    model: Path = typer.Option(..., help="A model directory written by `rewardlab train`."),
    data: str = typer.Option(..., help="Data file, AlpacaEval folder, or hf:<dataset>."),
    out: Path = typer.Option(..., help="Results JSON to write."),
    format: str = typer.Option(
        "auto", help="auto|trl|hh-rlhf|alpaca-eval|rewardbench|ratings|gsm8k|prmbench"
    ),
    suite: str = typer.Option("pairs", help="pairs | rewardbench | one-to-many"),
    probes: str = typer.Option("", help="Comma list: length,offtopic,perturb,sycophancy,attack"),
    html: Path = typer.Option(None, help="Also write a self-contained HTML report here."),
    aggregate: str = typer.Option(None, help="Aggregation for ensembles (mean, wco, uwo, …)."),
    attack_budget: int = typer.Option(128, help="Queries per pair for the attack probe."),
    seed: int = typer.Option(0, help="Seed of probes that sample."),
) -> None:
    """Evaluate a reward model: a suite (with its length-only baseline) plus audit probes."""
    from rewardlab.evaluate.suite import run_evaluation
    from rewardlab.models.io import save_metrics

    with user_errors():
        if format in ONE_TO_MANY_FORMATS and suite == "pairs":
            suite = "one-to-many"
        reward_model = load_for_scoring(model, aggregate)
        records = load_records(data, format)
        results = run_evaluation(
            reward_model, records, suite=suite, probes=parse_csv(probes), seed=seed,
            progress=lambda stage: console.log(stage),
            probe_options={"attack": {"budget": attack_budget}},
        )
        results.update(model=str(model), data=str(data), aggregate=aggregate)
        write_json(out, results)
        save_metrics(model, results)
        if html is not None:
            from rewardlab.evaluate.report import write_html_report

            write_html_report(results, html)
        metrics = results["metrics"]
        console.print(
            "  ".join(f"{name}={value:.4f}" for name, value in metrics.items()
                      if isinstance(value, float))
        )
        console.print(f"wrote {out}" + (f" and {html}" if html else ""))


def compare(
    models: list[Path] = typer.Option(..., "--models", help="Two or more model directories."),
    data: str = typer.Option(..., help="Pairs to compare the models on."),
    out: Path = typer.Option(..., help="Results JSON to write."),
    format: str = typer.Option("auto", help="Data format."),
) -> None:
    """Agreement (Kendall τ, Spearman, pair agreement, ensemble disagreement) and STARC."""
    from rewardlab.evaluate.agreement import compare_models
    from rewardlab.evaluate.starc import starc_between

    with user_errors():
        loaded_models = [load_for_scoring(path, None) for path in models]
        records = load_records(data, format)
        results = compare_models(loaded_models, records)
        prompts = [r.prompt for r in records]
        candidates = [list(r.responses) for r in records]
        results["starc"] = {
            f"{i}-{j}": starc_between(loaded_models[i], loaded_models[j], prompts, candidates)
            for i in range(len(models)) for j in range(i + 1, len(models))
        }
        results.update(models=[str(m) for m in models], data=str(data))
        write_json(out, results)
        for key, entry in results["pairwise"].items():
            console.print(
                f"{key}: kendall={entry['kendall_tau_b']:.3f} spearman={entry['spearman']:.3f} "
                f"pair_agreement={entry['pair_agreement']:.3f} starc={results['starc'][key]:.3f}"
            )
        console.print(f"wrote {out}")
