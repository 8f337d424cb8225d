"""Parse a request body as JSON within bounds, with one clear error per fault.

The body's size is bounded before it is read (:mod:`rewardlab.serve.guard`);
here its nesting is bounded before it is parsed. ``json.loads`` recurses once
per level of ``[`` or ``{``, so a body nested ~1,000 deep raises
``RecursionError`` deep inside the parser. :func:`nesting_depth` finds the
depth first with one pass over the structural bytes only
(``[ ] { } " \\``, located by a compiled regular expression, so text-heavy
bodies cost little): brackets inside strings do not count, and a backslash
inside a string skips the byte after it (so ``\\"`` does not end the string).
"""

from __future__ import annotations

import json
import re
from typing import Any

from rewardlab.serve.schemas import RequestError

_STRUCTURE = re.compile(rb'[\[\]{}"\\]')


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
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise RequestError(f"the request body is not valid JSON: {err}") from None
    except RecursionError:  # below max_depth, only if the interpreter's limit is smaller
        raise RequestError("the request body is nested too deeply to parse") from None
