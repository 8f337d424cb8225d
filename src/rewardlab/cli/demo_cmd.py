"""``rewardlab demo``: the main job on the embedded synthetic arena (offline)."""

from __future__ import annotations

from pathlib import Path

import typer

from rewardlab.atomic import write_text_atomic
from rewardlab.cli.command import command
from rewardlab.cli.common import (
    SEED_MAX,
    check_backbone,
    console,
    progress_bar,
    user_errors,
    write_json,
)


def register(app: typer.Typer) -> None:
    command(app, "demo")(demo)


def demo(
    out: Path = typer.Option(Path("runs/demo"), help="Folder for the model and the report."),
    backbone: str = typer.Option(
        "encoder", help="{backbones}", callback=lambda v: check_backbone(v, "--backbone")
    ),
    n_prompts: int = typer.Option(400, min=1, help="Prompts in the synthetic arena."),
    n_pairs: int = typer.Option(3000, min=1, help="Preference pairs sampled from the gold reward."),
    label_noise: float = typer.Option(0.1, min=0.0, max=1.0, help="Probability of flipping each label."),
    length_correlation: float = typer.Option(0.5, min=-1.0, max=1.0, help="Correlation of length and correctness."),
    seed: int = typer.Option(0, min=0, max=SEED_MAX, help="Seed of everything."),
) -> None:
    """Generate a preference task with a known gold reward, train a BT model, report."""
    from rewardlab.cli.outputs import check_model_out, check_out_folder
    from rewardlab.lab.demo import DemoConfig, run_demo, summary_text
    from rewardlab.models.io import save_model

    config = DemoConfig(
        n_prompts=n_prompts, n_pairs=n_pairs, label_noise=label_noise,
        length_correlation=length_correlation, backbone=backbone, seed=seed,
    )
    with user_errors():
        check_out_folder(out, files=("report.json", "summary.md"))
        check_model_out(out / "model", overwrite=False, option="--out")
        with progress_bar("encode") as progress:
            model, results = run_demo(config, progress)
        save_model(model, out / "model", results)
        write_json(out / "report.json", results)
        text = summary_text(results)
        write_text_atomic(out / "summary.md", text)
    console.print(text)
    console.print(f"wrote {out / 'report.json'}, {out / 'summary.md'} and {out / 'model'}")
