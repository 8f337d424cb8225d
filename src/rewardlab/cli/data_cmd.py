"""``rewardlab data …``: annotate preference data with an ensemble; write the digits sets.

``rewardlab data digits --out DIR [--task gold|noise]`` writes the image
preference tasks built from scikit-learn's bundled digits as Pick-a-Pic
Parquet and image JSONL files (:mod:`rewardlab.data.synthetic.digit_files`).

``rewardlab data strength --model ENSEMBLE_DIR --data PATH --out annotated.jsonl``
reads ``--data`` as every data command does (a file, a folder or ``hf:<dataset>``,
in ``--format``, through :func:`rewardlab.data.load.load_comparisons`) and writes one
JSON row per kept pair, ``{prompt, chosen, rejected, strength_mean,
strength_std, flipped}`` (plus ``strength`` with ``--margins``), atomically.
The formulas live in :mod:`rewardlab.robust.strength`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer

from rewardlab.cli.choices import registered
from rewardlab.cli.command import command
from rewardlab.cli.common import SEED_MAX, user_errors
from rewardlab.cli.model_options import (
    SPEC_HELP,
    ModelLoading,
    load_model_option,
    model_option,
    with_model_loading,
)
from rewardlab.robust.strength import (
    lowest_fraction,
    oriented_strength,
    preference_strength,
)


def check_ensemble(model: object, spec: str) -> None:
    """``ValueError`` naming ``--model`` unless ``model`` scores two or more members: one
    member's strength has no spread (its std would be 0 for every pair)."""
    from rewardlab.robust.ensemble import ModelEnsemble

    inner = getattr(model, "members", model)
    if isinstance(inner, ModelEnsemble):
        count: int | None = len(inner.models)
    else:
        count = getattr(inner, "n_members", None)
    if not hasattr(model, "score_members") or count is None or count < 2:
        what = "one member" if count == 1 else "no reward members (a preference model or judge)"
        raise ValueError(
            f"--model {spec}: strength needs an ensemble of two or more reward models (a saved "
            f"ensemble or a comma list A,B), got {what}"
        )


def register(app: typer.Typer) -> None:
    """Add the ``data`` command group to ``app``."""
    data_app = typer.Typer(
        help="Annotate and filter preference data; write the digits image sets.",
        no_args_is_help=True,
    )

    @command(data_app, "strength")
    @with_model_loading
    def strength(
        model: str = model_option(
            help="Ensemble: a saved ensemble directory or a comma list of specs. The strength "
            "uses each member's own score, so it takes no --aggregate. " + SPEC_HELP
        ),
        data: str = typer.Option(
            ..., "--data", help="Pairwise preference data: a file, a folder or hf:<dataset>."
        ),
        format: str = typer.Option(
            "auto", "--format", help="{formats}", callback=registered("format")
        ),
        split: str = typer.Option("train", "--split", help="Split of an hf:<dataset>."),
        out: Path = typer.Option(..., "--out", help="Annotated JSONL to write."),
        flip_lowest: float | None = typer.Option(
            None, "--flip-lowest", min=0.0, max=1.0,
            help="Swap chosen/rejected for this fraction with lowest mean.",
        ),
        drop_lowest: float | None = typer.Option(
            None, "--drop-lowest", min=0.0, max=1.0,
            help="Leave out this fraction with the lowest mean.",
        ),
        margins: bool = typer.Option(
            False, "--margins", help="Also write 'strength' (the adaptive margin) per row."
        ),
        loading: ModelLoading = None,
    ) -> None:
        """Ensemble preference strength per pair: mean and std of r(chosen) - r(rejected).

        strength_mean is relative to the row's own chosen/rejected (after any flip).
        """
        if flip_lowest is not None and drop_lowest is not None:
            raise typer.BadParameter("use --flip-lowest or --drop-lowest, not both")
        from rewardlab.data.errors import DataError
        from rewardlab.data.io import write_jsonl
        from rewardlab.data.load import load_comparisons
        from rewardlab.data.modality import jsonable_response
        from rewardlab.verbs.outputs import check_out_file

        with user_errors():
            check_out_file(out)
            ensemble = load_model_option(model, loading)
            check_ensemble(ensemble, model)
            pairs = list(load_comparisons(data, format, split=split).records)
            if not pairs:
                raise DataError("no preference pairs to annotate", path=str(data))
            mu, sigma = preference_strength(ensemble, pairs)
        flipped = (
            lowest_fraction(mu, flip_lowest)
            if flip_lowest is not None
            else np.zeros(len(pairs), bool)
        )
        dropped = (
            lowest_fraction(mu, drop_lowest)
            if drop_lowest is not None
            else np.zeros(len(pairs), bool)
        )
        signed = oriented_strength(mu, flipped)

        def rows():
            for i, rec in enumerate(pairs):
                if dropped[i]:
                    continue
                chosen, rejected = (
                    (rec.rejected, rec.chosen) if flipped[i] else (rec.chosen, rec.rejected)
                )
                row = {
                    "prompt": rec.prompt,
                    "chosen": jsonable_response(chosen),
                    "rejected": jsonable_response(rejected),
                    "strength_mean": float(signed[i]),
                    "strength_std": float(sigma[i]),
                    "flipped": bool(flipped[i]),
                }
                if margins:
                    row["strength"] = float(signed[i])
                yield row

        with user_errors():
            written = write_jsonl(out, rows())
        typer.echo(
            f"wrote {written} pairs to {out} ({int(flipped.sum())} flipped, "
            f"{int(dropped.sum())} dropped; mean strength {float(np.mean(mu)) if len(mu) else 0.0:.4f})"
        )

    @command(data_app, "digits")
    def digits(
        out: Path = typer.Option(..., "--out", help="Folder to write the files to (created)."),
        task: str = typer.Option(
            "gold", "--task", help="gold: preferences drawn from a classifier's log-probability "
            "of the prompt's digit, with label noise; noise: a clean scan against the same scan "
            "with heavy noise."
        ),
        n_pairs: int = typer.Option(1000, "--n-pairs", min=1,
                                    help="Labelled training pairs (ties come on top)."),
        test_pairs: int = typer.Option(500, "--test-pairs", min=1,
                                       help="Labelled test pairs (ties come on top)."),
        n_prompts: int = typer.Option(400, "--n-prompts", min=2, max=400,
                                      help="gold: distinct prompts (20% held out for test)."),
        size_correlation: float = typer.Option(
            0.8, "--size-correlation", min=0.0, max=1.0,
            help="gold: how strongly generator skill sets the image size (the pixel-count "
            "shortcut)."
        ),
        label_noise: float = typer.Option(0.1, "--label-noise", min=0.0, max=1.0,
                                          help="gold: share of labels flipped."),
        seed: int = typer.Option(0, "--seed", min=0, max=SEED_MAX, help="Seed of every draw."),
    ) -> None:
        """Write image preference sets built from scikit-learn's bundled digits:
        train/test as Pick-a-Pic Parquet (caption, jpg_0, jpg_1, label_0, label_1) and
        as JSONL naming PNG files (train.jsonl, images/)."""
        from rewardlab.data.synthetic.digit_files import TASKS, write_digits
        from rewardlab.data.synthetic.digits import DigitsConfig

        if task not in TASKS:
            raise typer.BadParameter(f"expected one of {', '.join(TASKS)}, got {task!r}",
                                     param_hint="'--task'")
        from rewardlab.verbs.outputs import check_out_folder

        files = tuple(f"{name}.{ext}" for name in ("train", "test", "test-gold")
                      for ext in ("parquet", "jsonl")) + ("digits.json",)
        with user_errors():
            check_out_folder(out, "--out", files)
            config = DigitsConfig(n_prompts=n_prompts, size_correlation=size_correlation,
                                  seed=seed)
            summary = write_digits(out, task, n_pairs, test_pairs, config, label_noise, seed)
        for name, counts in summary["files"].items():
            typer.echo(f"{name}: {counts['rows']} rows ({counts['ties']} ties): "
                       f"{out / (name + '.parquet')}, {out / (name + '.jsonl')}")

    app.add_typer(data_app, name="data")
