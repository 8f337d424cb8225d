"""Parse a request body as JSON within bounds, with one clear error per fault.

The body's size is bounded before it is read (:mod:`rewardlab.serve.guard`);
here its nesting is bounded before it is parsed. ``json.loads`` recurses once
per level of ``[`` or ``{``, so a body nested ~1,000 deep raises
``RecursionError`` deep inside the parser. :func:`nesting_depth` finds the
depth first with one pass over the structural bytes only
(``[ ] { } " \\``, located by a compiled regular expression, so text-heavy
bodies cost little): brackets inside strings do not count, and a backslash
inside a string skips the byte after it (so ``\\"`` does not end the string).

JSON may escape a lone UTF-16 surrogate (``"\\ud800"``), which Python decodes
into a string that UTF-8 cannot encode (and ``json.loads`` of bytes lets raw
CESU-8 surrogate bytes through the same way). Every string of the body, keys
included and at any depth (``labels``, ``ground_truth`` and their nested lists
and objects as well as the texts), is checked: the first one with a lone
surrogate gets a 400 that names its path (``labels[2].answer``). Bodies
without a ``\\uD800``-``\\uDFFF`` escape or such bytes skip the walk.
"""

from __future__ import annotations

import json
import re
from typing import Any

from rewardlab.serve.schemas import RequestError

_STRUCTURE = re.compile(rb'[\[\]{}"\\]')
_MAYBE_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]")


def nesting_depth(body: bytes, stop_above: int | None = None) -> int:
    """Deepest nesting of arrays/objects in ``body`` (0 for a scalar).

    Stops early and returns the depth reached once it exceeds ``stop_above``.
    """
    depth = deepest = 0
    in_string = False
    skip_until = -1
    for match in _STRUCTURE.finditer(body):
        pos = match.start()
        if pos < skip_until:
            continue
        char = body[pos]
        if in_string:
            if char == 0x5C:  # backslash: the next byte is escaped
                skip_until = pos + 2
            elif char == 0x22:  # closing quote
                in_string = False
        elif char == 0x22:
            in_string = True
        elif char in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > deepest:
                deepest = depth
                if stop_above is not None and deepest > stop_above:
                    return deepest
        elif char in (0x5D, 0x7D):  # ] }
            depth -= 1
    return deepest


def parse_json(body: bytes, max_depth: int) -> Any:
    """``body`` as JSON; :class:`RequestError` (400) when empty, invalid or too deep."""
    if not body.strip():
        raise RequestError("the request body is empty; send a JSON object")
    if nesting_depth(body, stop_above=max_depth) > max_depth:
        raise RequestError(f"the request body is nested more than {max_depth} levels deep")
    try:
        value = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise RequestError(f"the request body is not valid JSON: {err}") from None
    except RecursionError:  # below max_depth, only if the interpreter's limit is smaller
        raise RequestError("the request body is nested too deeply to parse") from None
    if _MAYBE_SURROGATE.search(body):
        _check_unicode(value, "")
    return value


def _check_unicode(value: Any, path: str) -> None:
    """:class:`RequestError` naming the first string under ``value`` with a lone surrogate."""
    if isinstance(value, str):
        _check_text(value, path)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_unicode(item, f"{path}[{i}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key, path, what="an object key ")
            _check_unicode(item, f"{path}.{key}" if path else key)


def _check_text(text: str, path: str, what: str = "") -> None:
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        raise RequestError(
            f"{what}has a lone surrogate {text[err.start]!r} at character {err.start}; "
            "send valid Unicode text",
            field=path or None,
        ) from None
