"""``digits``: the image preference sets built from scikit-learn's bundled digits, as
``rewardlab data digits`` writes them.

::

    from rewardlab.verbs import DigitsSpec, digits
    digits(DigitsSpec(out=Path("runs/digits"), task="noise"))

``task`` is ``gold`` (preferences drawn from a classifier's log-probability of
the prompt's digit, with label noise) or ``noise`` (a clean scan against the
same scan with heavy noise); what each reads is declared in :data:`TASK_READS`,
and an option the task does not read is refused before anything is drawn.
The files (:func:`rewardlab.data.synthetic.digit_files.write_digits`): train and
test as Pick-a-Pic Parquet and as JSONL naming PNG files, plus ``digits.json``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rewardlab.options import OptionError, check, flag_of, option, option_fields

SEED_MAX = 2**32 - 1


def _tasks() -> tuple[str, ...]:
    from rewardlab.data.synthetic.digit_files import TASKS

    return TASKS


@dataclass(frozen=True, kw_only=True)
class DigitsSpec:
    """Everything ``digits`` needs."""

    out: Path = option(help="Folder to write the files to (created).")
    task: str = option(
        "gold", "gold: preferences drawn from a classifier's log-probability of the prompt's "
        "digit, with label noise; noise: a clean scan against the same scan with heavy noise.",
        choices=_tasks, kind="task")
    n_pairs: int = option(1000, "Labelled training pairs (ties come on top).", min=1)
    test_pairs: int = option(500, "Labelled test pairs (ties come on top).", min=1)
    n_prompts: int = option(400, "gold: distinct prompts (20% held out for test).", min=2,
                            max=400)
    size_correlation: float = option(
        0.8, "gold: how strongly generator skill sets the image size (the pixel-count "
        "shortcut).", min=0.0, max=1.0)
    label_noise: float = option(0.1, "gold: share of labels flipped.", min=0.0, max=1.0)
    seed: int = option(0, "Seed of every draw.", min=0, max=SEED_MAX)


TASK_READS = {"gold": frozenset(f.name for f in option_fields(DigitsSpec)),
              "noise": frozenset({"out", "task", "n_pairs", "test_pairs", "seed"})}
"""What each task reads; the others are refused."""
FILES = tuple(f"{name}.{ext}" for name in ("train", "test", "test-gold")
              for ext in ("parquet", "jsonl")) + ("digits.json",)


def digits(spec: DigitsSpec) -> dict[str, Any]:
    """Check ``spec``, draw the pairs and write the files; returns the summary written to
    ``digits.json`` (the settings and, per file, its rows and ties)."""
    from rewardlab.data.synthetic.digit_files import write_digits
    from rewardlab.data.synthetic.digits import DigitsConfig
    from rewardlab.verbs.outputs import check_out_folder

    check(spec)
    defaults = DigitsSpec(out=spec.out)
    for field in option_fields(DigitsSpec):
        if field.name not in TASK_READS[spec.task] and (
                getattr(spec, field.name) != getattr(defaults, field.name)):
            raise OptionError(f"{flag_of(field)}: not read by --task {spec.task}; leave it out")
    check_out_folder(spec.out, "--out", FILES)
    config = DigitsConfig(n_prompts=spec.n_prompts, size_correlation=spec.size_correlation,
                          seed=spec.seed)
    return write_digits(spec.out, spec.task, spec.n_pairs, spec.test_pairs, config,
                        spec.label_noise, spec.seed)
