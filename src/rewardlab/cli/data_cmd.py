"""``rewardlab data …``: annotate preference data with an ensemble.

``rewardlab data strength --model ENSEMBLE_DIR --data PATH --out annotated.jsonl``
writes one JSON row per kept pair, ``{prompt, chosen, rejected, strength_mean,
strength_std, flipped}`` (plus ``strength`` with ``--margins``), atomically.
The formulas live in :mod:`rewardlab.robust.strength`.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import typer

from rewardlab.robust.strength import (
    lowest_fraction,
    oriented_strength,
    preference_strength,
)


def write_jsonl_atomic(path: Path, rows: Iterable[dict]) -> int:
    """Write rows as JSON lines to a temporary file beside ``path``, then ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    count = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
                count += 1
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return count


def register(app: typer.Typer) -> None:
    """Add the ``data`` command group to ``app``."""
    data_app = typer.Typer(help="Annotate and filter preference data.", no_args_is_help=True)

    @data_app.command("strength")
    def strength(
        model: Path = typer.Option(..., "--model", help="Saved ensemble directory."),
        data: Path = typer.Option(..., "--data", help="Pairwise preference data file."),
        out: Path = typer.Option(..., "--out", help="Annotated JSONL to write."),
        flip_lowest: float | None = typer.Option(
            None, "--flip-lowest", help="Swap chosen/rejected for this fraction with lowest mean."
        ),
        drop_lowest: float | None = typer.Option(
            None, "--drop-lowest", help="Leave out this fraction with the lowest mean."
        ),
        margins: bool = typer.Option(
            False, "--margins", help="Also write 'strength' (the adaptive margin) per row."
        ),
    ) -> None:
        """Ensemble preference strength per pair: mean and std of r(chosen) - r(rejected).

        strength_mean is relative to the row's own chosen/rejected (after any flip).
        """
        if flip_lowest is not None and drop_lowest is not None:
            raise typer.BadParameter("use --flip-lowest or --drop-lowest, not both")
        from rewardlab.data.load import load_comparisons
        from rewardlab.robust.loading import load_reward_model

        ensemble = load_reward_model(model)
        pairs = list(load_comparisons(data).records)
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
                    "chosen": chosen,
                    "rejected": rejected,
                    "strength_mean": float(signed[i]),
                    "strength_std": float(sigma[i]),
                    "flipped": bool(flipped[i]),
                }
                if margins:
                    row["strength"] = float(signed[i])
                yield row

        written = write_jsonl_atomic(out, rows())
        typer.echo(
            f"wrote {written} pairs to {out} ({int(flipped.sum())} flipped, "
            f"{int(dropped.sum())} dropped; mean strength {float(np.mean(mu)) if len(mu) else 0.0:.4f})"
        )

    app.add_typer(data_app, name="data")
