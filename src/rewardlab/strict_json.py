"""Strict JSON: what every rewardlab JSON / JSONL writer emits.

Python's ``json`` writes ``NaN``, ``Infinity`` and ``-Infinity``, which RFC 8259
does not allow and strict parsers (``JSON.parse``, Go, jq) reject. Here a float
that is not finite becomes ``null``, wherever it sits (input columns copied to
the output included); NumPy scalars and arrays become plain numbers and lists;
anything else that JSON cannot hold is written as its ``str``.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np


def strict(value: Any) -> Any:
    """``value`` with non-finite floats replaced by None and NumPy values made plain."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str | int | bool) or value is None:
        return value
    if isinstance(value, dict):
        return {key: strict(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [strict(item) for item in value]
    if isinstance(value, np.generic | np.ndarray):
        return strict(value.tolist())
    return value


def dumps(value: Any, **options: Any) -> str:
    """``json.dumps`` of :func:`strict` ``(value)``, refusing NaN (``allow_nan=False``).

    ``options`` go to ``json.dumps``; unknown objects are written as ``str``.
    """
    return json.dumps(strict(value), allow_nan=False, default=str, **options)
