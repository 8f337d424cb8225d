"""Reading the harness's result record in the parent: plain values of built-in types only.

The record is the whole content of the run's result channel and must be one
JSON object: ``{"values": [v, ...]}`` with one value per probe, or
``{"error": "..."}`` when a probe raised. Values are decoded from the tagged
form of :mod:`rewardlab.verifiers.sandbox.harness`; anything else (extra
text, a second record, an unknown tag, an unhashable set member or dict key,
too deep a nesting) makes the record malformed, and the run's probes fail.
Since only ``None``, ``bool``, ``int``, ``float``, ``str``, ``bytes``,
``list``, ``tuple``, ``set``, ``frozenset`` and ``dict`` come out, every
comparison the parent makes uses Python's own equality of those types.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


class MalformedRecord(ValueError):
    """The result channel does not hold exactly one well-formed record."""


@dataclass(frozen=True)
class ProbeRecord:
    """What the harness reported: the probes' ``values``, or the ``error`` one of them raised."""

    values: tuple[Any, ...] | None
    error: str | None


_TAGS = {"tuple": tuple, "set": set, "frozenset": frozenset}


def decode(value: Any) -> Any:
    """The plain Python value of one tagged JSON value."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list):
        return [decode(item) for item in value]
    if not isinstance(value, dict) or len(value) != 1:
        raise MalformedRecord(f"not a tagged value: {str(value)[:80]}")
    (tag, body), = value.items()
    if tag == "bytes" and isinstance(body, str):
        return bytes.fromhex(body)
    if not isinstance(body, list):
        raise MalformedRecord(f"tag {tag!r} needs a list")
    if tag in _TAGS:
        return _TAGS[tag](decode(item) for item in body)
    if tag == "dict":
        if not all(isinstance(pair, list) and len(pair) == 2 for pair in body):
            raise MalformedRecord("a dict is a list of [key, value] pairs")
        return {decode(k): decode(v) for k, v in body}
    raise MalformedRecord(f"unknown tag {tag!r}")


def read_record(text: str, probes: int) -> ProbeRecord:
    """Decode the result channel of a run that had ``probes`` probes."""
    try:
        record = json.loads(text)
        if not isinstance(record, dict) or len(record) != 1:
            raise MalformedRecord("the record is not one object with one key")
        if "error" in record and isinstance(record["error"], str):
            return ProbeRecord(None, record["error"][:500])
        values = record.get("values")
        if not isinstance(values, list) or len(values) != probes:
            raise MalformedRecord(f"the record does not hold {probes} values")
        return ProbeRecord(tuple(decode(v) for v in values), None)
    except MalformedRecord:
        raise
    except (ValueError, TypeError, RecursionError) as err:
        # bad JSON, an unhashable set member or key, odd hex, too deep a nesting
        raise MalformedRecord(f"{type(err).__name__}: {str(err)[:200]}") from None
