"""``auto``: pick the format from the first row's keys.

Rules, first match wins:

- ``{id, generator, output, preference}`` → ``alpaca-eval`` (an outputs file;
  an AlpacaEval *folder* is recognised by :func:`rewardlab.data.load.load_comparisons`);
- ``{caption, jpg_0, jpg_1, label_0, label_1}`` → ``pickapic``;
- ``{prompt, images | image_path}``, or ``{chosen, rejected}`` both strings
  ending in an image suffix (``.png``, ``.jpg``, …) → ``images``;
- ``{prompt, chosen, rejected, subset}`` with string values → ``rewardbench``;
- ``{prompt, chosen, rejected, subset}`` with lists of strings → ``rewardbench2``;
- ``{chosen, rejected}`` without a prompt, both strings with ``\\n\\nHuman:`` → ``hh-rlhf``;
- ``{chosen, rejected}`` otherwise → ``trl`` (standard, conversational, implicit prompt);
- ``{prompt, response}`` → ``ratings``;
- ``{input, steps, mistake_index}`` → ``big-bench-mistake``;
- ``{question, original_process, modified_process}`` → ``prmbench``;
- ``{question, ground_truth}`` → ``gsm8k`` (the model-solutions file).

Anything else raises :class:`DataError` listing the known formats.
"""

from __future__ import annotations

from itertools import chain
from pathlib import Path
from typing import Any

from rewardlab.data.errors import DataError
from rewardlab.data.formats._base import FORMATS, Rows
from rewardlab.data.formats.alpaca_eval import OUTPUT_KEYS
from rewardlab.data.formats.gsm8k import DETECT_KEYS
from rewardlab.data.formats.images import looks_like_image_path
from rewardlab.data.formats.pickapic import DETECT_KEYS as PICKAPIC_KEYS
from rewardlab.data.io import read_rows
from rewardlab.data.record import Comparison


def detect_format(row: dict[str, Any], path: str = "<input>", line: int | None = None) -> str:
    """The name of the format whose columns ``row`` has."""
    keys = set(row)
    if OUTPUT_KEYS <= keys:
        return "alpaca-eval"
    if PICKAPIC_KEYS <= keys:
        return "pickapic"
    if "prompt" in keys and keys & {"images", "image_path"} or (
        {"chosen", "rejected"} <= keys
        and all(looks_like_image_path(row[k]) for k in ("chosen", "rejected"))
    ):
        return "images"
    if {"chosen", "rejected"} <= keys:
        pair = [row.get(k) for k in ("prompt", "chosen", "rejected")]
        if "subset" in keys and all(isinstance(v, str) for v in pair):
            return "rewardbench"
        if "subset" in keys and isinstance(pair[0], str) and all(
            isinstance(v, list) and v and all(isinstance(x, str) for x in v) for v in pair[1:]
        ):
            return "rewardbench2"
        if pair[0] is None and all(isinstance(v, str) and "\n\nHuman:" in v for v in pair[1:]):
            return "hh-rlhf"
        return "trl"
    if {"prompt", "response"} <= keys:
        return "ratings"
    if {"input", "steps", "mistake_index"} <= keys:
        return "big-bench-mistake"
    if {"question", "original_process", "modified_process"} <= keys:
        return "prmbench"
    if DETECT_KEYS <= keys:
        return "gsm8k"
    known = ", ".join(name for name in FORMATS.names() if name != "auto")
    raise DataError(
        f"cannot detect the format from the columns {sorted(keys)}; known formats: {known} "
        "(pass format=... to choose one)",
        path=path,
        line=line,
    )


@FORMATS.register("auto")
def load_auto(rows: Rows, path: str, **options: Any) -> list[Comparison]:
    """Detect the format from the first row, then load with that format's loader."""
    iterator = iter(rows)
    first = next(iterator, None)
    if first is None:
        return []
    name = detect_format(first[1], path, first[0])
    return FORMATS.get(name)(chain([first], iterator), path, **options)


def detect_file_format(path: str | Path) -> str | None:
    """The format of a data file's first row; None for a folder, an ``hf:`` name or
    an empty file (which ``auto`` reads as no records)."""
    if str(path).startswith("hf:") or Path(path).is_dir():
        return None
    rows = read_rows(path)
    try:
        first = next(rows, None)
    finally:
        rows.close()
    return None if first is None else detect_format(first[1], str(path), first[0])
