"""Loaders that turn each known preference format into :class:`Comparison` records.

``FORMATS`` maps a name (``trl``, ``hh-rlhf``, ``alpaca-eval``, ``rewardbench``,
``rewardbench2``, ``ratings``, ``big-bench-mistake``, ``prmbench``, ``gsm8k``,
``pickapic`` and ``images`` for image responses, ``auto``) to a loader
``(rows, path, **options) -> list[Comparison]``.
Each format lives in its own module, with its paper and its rules.
"""

from rewardlab.data.formats import (
    alpaca_eval,
    gsm8k,
    hh_rlhf,
    images,
    pickapic,
    ratings,
    rewardbench,
    rewardbench2,
    steps,
    trl,
)
from rewardlab.data.formats._base import FORMATS, Loader
from rewardlab.data.formats.alpaca_eval import alpaca_eval_files, load_alpaca_eval_pool
from rewardlab.data.formats.auto import detect_format
from rewardlab.data.formats.steps import load_step_folder
from rewardlab.data.formats.trl import flatten

__all__ = [
    "FORMATS",
    "Loader",
    "alpaca_eval",
    "alpaca_eval_files",
    "detect_format",
    "flatten",
    "gsm8k",
    "hh_rlhf",
    "images",
    "load_alpaca_eval_pool",
    "load_step_folder",
    "pickapic",
    "ratings",
    "rewardbench",
    "rewardbench2",
    "steps",
    "trl",
]
