"""``rewardlab eval``: accuracy of a saved model on labelled pairs."""

from __future__ import annotations

from pathlib import Path

import typer

from rewardlab.cli.common import console, user_errors, write_json


def register(app: typer.Typer) -> None:
    app.command("eval")(evaluate)


def evaluate(
    model: Path = typer.Option(..., help="A model directory written by `rewardlab train`."),
    data: str = typer.Option(..., help="Data file, AlpacaEval folder, or hf:<dataset>."),
    out: Path = typer.Option(..., help="Results JSON to write."),
    format: str = typer.Option("auto", help="auto|trl|hh-rlhf|alpaca-eval|rewardbench|ratings"),
) -> None:
    """Overall and per-category accuracy (ties ½) with the length-only baseline."""
    from rewardlab.data.load import load_comparisons
    from rewardlab.evaluate.pairwise import evaluate_pairs
    from rewardlab.models.io import load_model, save_metrics

    with user_errors():
        reward_model = load_model(model)
        loaded = load_comparisons(data, format)
        results = evaluate_pairs(reward_model, loaded.records)
        results.update(model=str(model), data=str(data), data_report=loaded.report.__dict__)
        write_json(out, results)
        save_metrics(model, results)
        console.print(
            f"accuracy {results['accuracy']:.4f} on {results['n_pairs']} pairs "
            f"(length-only baseline {results['length_baseline_accuracy']:.4f}); wrote {out}"
        )
