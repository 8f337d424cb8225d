"""A short, stable hash of a data set's content and labels.

    fingerprint = sha256( Σ_records  json([prompt, responses, ranking, tie, strength]) + "\\n" )[:16]

JSON is written with ``ensure_ascii=False`` and no spaces (``","`` and ``":"``
separators) and encoded as UTF-8, one line per record in order. A text
response is written as itself; any other response (an image) as its
:func:`rewardlab.data.modality.response_key`, ``[modality, sha256 of its
canonical form]``, so the same pixels as PNG bytes, a file or an array give
the same fingerprint. Only what a
reward model learns from is hashed: ``source``, ``meta``, categories and
annotators do not change it, a flipped label or a changed strength does. A
saved model records the fingerprint of the data it was trained on.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

from rewardlab.data.modality import response_key
from rewardlab.data.record import Comparison


def canonical_line(record: Comparison) -> bytes:
    """The bytes hashed for one record."""
    fields = [
        record.prompt,
        [response_key(r) for r in record.responses],
        [int(i) for i in record.ranking],
        bool(record.tie),
        None if record.strength is None else float(record.strength),
    ]
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


def fingerprint(records: Iterable[Comparison]) -> str:
    """First 16 hex characters of the sha256 of every record's canonical line."""
    digest = hashlib.sha256()
    for record in records:
        digest.update(canonical_line(record))
    return digest.hexdigest()[:16]
