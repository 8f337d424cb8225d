"""``rewardlab train``: parse the flags, call :func:`rewardlab.verbs.train`, print.

The flags are made from the options dataclasses (:mod:`rewardlab.cli.flags`):
the run's :class:`~rewardlab.verbs.train.TrainSpec` and the trainers' options
(:class:`~rewardlab.models.training.config.TrainConfig`,
:class:`~rewardlab.models.lm.transformer_config.TransformerTrainConfig`), whose
flags have no default of their own: left out, an option takes the chosen
trainer's default. Which trainer runs, and which options it reads, is the
verb's business; an option it does not read is refused before any data is read.
"""

from __future__ import annotations

from typing import Any

import typer

from rewardlab.cli.command import command
from rewardlab.cli.common import console, progress_bars, user_errors
from rewardlab.cli.flags import with_options
from rewardlab.models.lm.transformer_config import TransformerTrainConfig
from rewardlab.models.training.config import TrainConfig
from rewardlab.verbs.train import TrainSpec


def register(app: typer.Typer) -> None:
    command(app, "train", renamed={
        "--backbones": "--backbone", "--pairs-per-prompt": "--pairs-per-instruction",
    })(train)


@with_options(spec=TrainSpec, overrides={"options": (TrainConfig, TransformerTrainConfig)})
def train(spec: TrainSpec = None, options: dict[str, Any] = None) -> None:
    """Train a Bradley-Terry (or other loss) reward model and save it as a directory."""
    from dataclasses import replace

    from rewardlab.evaluate.held_out import held_out_summary
    from rewardlab.verbs.train import train as run

    with user_errors(), progress_bars() as progress:
        result = run(replace(spec, options=options), progress=progress,
                     on_data=lambda summary: console.print(f"data: {summary}"))
    report = result.report
    if result.kind == "head":
        console.print(
            f"trained on {report.n_train_pairs} {report.unit_kind} (val {report.n_val_pairs}); "
            f"encode {report.encode_seconds:.1f}s, fit {report.fit_seconds:.1f}s, "
            f"best epoch {report.best_epoch}, l2 {report.l2['value']}")
    elif result.kind == "transformer":
        console.print(
            f"fine-tuned in {report.train_seconds:.1f}s ({report.pairs_per_second:.2f} pairs/s), "
            f"best epoch {report.best_epoch}")
    for line in held_out_summary(result.metrics.get("test", {})):
        console.print(line)
    console.print(f"saved {result.out}")
