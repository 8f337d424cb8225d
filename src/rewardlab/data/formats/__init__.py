"""Loaders that turn each known preference format into :class:`Comparison` records.

``FORMATS`` maps a name (``trl``, ``hh-rlhf``, ``alpaca-eval``, ``pickapic``, …;
``FORMATS.names()`` lists them, ``auto`` detects the format from the first row) to a
loader ``(rows, path, **options) -> list[Comparison]``. Each format lives in its
own module, with its paper, its rules and the rule by which ``auto`` recognises it;
importing the package imports every module, so a new format is its module plus
its test.
"""

from rewardlab.data.formats._base import FORMATS, Loader
from rewardlab.registry import import_modules

import_modules(__name__, __path__)

from rewardlab.data.formats.alpaca_eval import (  # noqa: E402
    alpaca_eval_files,
    load_alpaca_eval_pool,
)
from rewardlab.data.formats.auto import detect_format  # noqa: E402
from rewardlab.data.formats.steps import load_step_folder  # noqa: E402
from rewardlab.data.formats.trl import flatten  # noqa: E402

__all__ = [
    "FORMATS",
    "Loader",
    "alpaca_eval_files",
    "detect_format",
    "flatten",
    "load_alpaca_eval_pool",
    "load_step_folder",
]
