"""``strength``: an ensemble's preference strength per pair, as ``rewardlab data strength`` does.

::

    from rewardlab.verbs import StrengthSpec, strength
    result = strength(StrengthSpec(model="runs/ens", data="pairs.jsonl", out="annotated.jsonl"))

The ensemble is ``model`` (a saved ensemble, or a comma list of specs, one
member each) or ``rewards`` (a comma list of two or more verifiers or recipes
that need no reference, one member each). Each member's own score is used,
so no aggregation is read. ``data`` is read as every data command reads it (a
file, a folder or ``hf:<dataset>``, in ``format``; ``split`` is refused for data
that is not an ``hf:<dataset>``). One JSON row per kept pair,
``{prompt, chosen, rejected, strength_mean, strength_std, flipped}`` (plus
``strength`` with ``margins``), is written atomically; the formulas live in
:mod:`rewardlab.robust.strength`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rewardlab.options import OptionError, check, default_of, option
from rewardlab.verbs.loading import SPEC_HELP, RewardSource, rewards_list

Progress = Callable[[str, int, int], None]
"""``progress(phase, done, total)``."""


def _formats() -> list[str]:
    from rewardlab.verbs.names import registry

    return registry("format").names()


@dataclass(frozen=True, kw_only=True)
class StrengthSpec(RewardSource):
    """Everything ``strength`` needs."""

    model: str | None = option(
        None, "Ensemble: a saved ensemble directory or a comma list of specs. The strength "
        "uses each member's own score, so it takes no --aggregate. " + SPEC_HELP)
    rewards: str | None = option(
        None, "Ensemble of verifiers or recipe files, comma-separated (two or more that need "
        "no reference), instead of --model.", parse=rewards_list)
    data: str = option(help="Pairwise preference data: a file, a folder or hf:<dataset>.")
    format: str = option("auto", "{formats}", choices=_formats, kind="data format")
    split: str = option("train", "Split of an hf:<dataset>.")
    out: Path = option(help="Annotated JSONL to write.")
    flip_lowest: float | None = option(
        None, "Swap chosen/rejected for this fraction with lowest mean.", min=0.0, max=1.0)
    drop_lowest: float | None = option(
        None, "Leave out this fraction with the lowest mean.", min=0.0, max=1.0)
    margins: bool = option(False, "Also write 'strength' (the adaptive margin) per row.")


@dataclass
class StrengthResult:
    """What was written: the rows' count, how many pairs were flipped and dropped, and the
    mean strength over all pairs."""

    out: Path
    written: int
    flipped: int
    dropped: int
    mean_strength: float

    def summary(self) -> str:
        return (f"wrote {self.written} pairs to {self.out} ({self.flipped} flipped, "
                f"{self.dropped} dropped; mean strength {self.mean_strength:.4f})")


def check_ensemble(model: Any, spec: str) -> None:
    """``ValueError`` naming ``spec`` unless ``model`` scores two or more members: one
    member's strength has no spread (its std would be 0 for every pair)."""
    from rewardlab.verbs.loading import member_count

    count = member_count(model)
    if not hasattr(model, "score_members") or count is None or count < 2:
        what = "one member" if count == 1 else "no reward members (a preference model or judge)"
        raise ValueError(
            f"{spec}: strength needs an ensemble of two or more reward models (a saved "
            f"ensemble or a comma list A,B), got {what}"
        )


def load_ensemble(spec: StrengthSpec, progress: Progress | None = None) -> Any:
    """The ensemble of ``spec`` (see the module doc); ``progress("load", done, total)``
    from 0, after the model or after each reward."""
    from rewardlab.verbs.loading import exactly_one, load_source, require_no_reference

    if spec.aggregation.aggregate is not None or spec.aggregation.aggregate_params:
        raise OptionError("--aggregate: the strength uses each member's own score; leave it out")
    exactly_one({"--model": spec.model, "--rewards": spec.rewards})
    if spec.model is not None:
        model = load_source(spec, ("score",), progress)
        check_ensemble(model, f"--model {spec.model}")
        return model
    from dataclasses import replace

    from rewardlab.robust.ensemble import AggregatedRewardModel, ModelEnsemble

    names = [r.strip() for r in spec.rewards.split(",") if r.strip()]
    if len(names) < 2:
        raise OptionError(f"--rewards: strength needs two or more rewards (a comma list), got "
                          f"{len(names)}")
    members = []
    for name in names:
        if progress is not None:
            progress("load", len(members), len(names))
        members.append(require_no_reference(load_source(replace(spec, rewards=name)), spec,
                                            "strength"))
    if progress is not None:
        progress("load", len(members), len(names))
    return AggregatedRewardModel(ModelEnsemble(members))


PAIR_BATCH = 128
"""Pairs per call of a model ensemble (both responses of each: 256 responses); an ensemble
of verifiers or recipes scores all the pairs in one call (a recipe normalizing by batch or
group sees the whole set)."""


def strength(spec: StrengthSpec, on_data: Callable[[str], None] | None = None,
             progress: Progress | None = None) -> StrengthResult:
    """Check ``spec``, load the ensemble, read the pairs, annotate them and write ``out``;
    ``progress`` follows the loading (``load``) and the scoring (``scoring pairs``: pairs
    scored of all, :data:`PAIR_BATCH` per call of a model ensemble)."""
    import numpy as np

    from rewardlab.data.errors import DataError
    from rewardlab.data.io import write_jsonl
    from rewardlab.data.load import load_comparisons
    from rewardlab.robust.strength import lowest_fraction, preference_strength
    from rewardlab.verbs.evaluate import check_split
    from rewardlab.verbs.outputs import check_out_file

    check(spec)
    if spec.flip_lowest is not None and spec.drop_lowest is not None:
        raise OptionError("--flip-lowest: use --flip-lowest or --drop-lowest, not both")
    check_split(spec.data, spec.format, spec.split, default_of(StrengthSpec, "split"))
    check_out_file(spec.out)
    ensemble = load_ensemble(spec, progress)
    loaded = load_comparisons(spec.data, spec.format, split=spec.split)
    if on_data is not None:
        on_data(loaded.report.summary())
    pairs = list(loaded.records)
    if not pairs:
        raise DataError("no preference pairs to annotate", path=str(spec.data))
    report = None if progress is None else (
        lambda done, total: progress("scoring pairs", done, total))
    mu, sigma = preference_strength(ensemble, pairs, PAIR_BATCH if spec.model is not None else None,
                                    report)
    none = np.zeros(len(pairs), bool)
    flipped = none if spec.flip_lowest is None else lowest_fraction(mu, spec.flip_lowest)
    dropped = none if spec.drop_lowest is None else lowest_fraction(mu, spec.drop_lowest)
    written = write_jsonl(Path(spec.out), _rows(pairs, mu, sigma, flipped, dropped, spec.margins))
    return StrengthResult(Path(spec.out), written, int(flipped.sum()), int(dropped.sum()),
                          float(np.mean(mu)) if len(mu) else 0.0)


def _rows(pairs: list, mu: Any, sigma: Any, flipped: Any, dropped: Any,
          margins: bool) -> Iterator[dict]:
    from rewardlab.data.modality import jsonable_response
    from rewardlab.robust.strength import oriented_strength

    signed = oriented_strength(mu, flipped)
    for i, rec in enumerate(pairs):
        if dropped[i]:
            continue
        chosen, rejected = (rec.rejected, rec.chosen) if flipped[i] else (rec.chosen,
                                                                          rec.rejected)
        row = {"prompt": rec.prompt, "chosen": jsonable_response(chosen),
               "rejected": jsonable_response(rejected), "strength_mean": float(signed[i]),
               "strength_std": float(sigma[i]), "flipped": bool(flipped[i])}
        if margins:
            row["strength"] = float(signed[i])
        yield row
