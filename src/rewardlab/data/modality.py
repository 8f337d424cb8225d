"""What a response is: text, an image or a trajectory, recognised and decoded in one place.

A response is whatever the generator produced. Every part of rewardlab that
does not look inside a response (ensembles, aggregation, transforms,
calibration, best-of-n, pair builders, the lab, the server once a body is
decoded) passes responses through untouched; only decoding, featurizing and
the trivial baselines need to know what one is, and they ask this module.

A :class:`Modality` says how to recognise a response of its kind
(``accepts``), how to bring any accepted form to its one canonical form
(``decode``: text stays a ``str``; an image becomes an ``H×W×3`` ``uint8``
array whatever it came as), how to hash it (``digest``, for data fingerprints
and embedding caches) and what its trivial "size" statistics are
(``statistics``: the analogue of response length for the length-only
baseline, ``{"length": whitespace tokens}`` for text). Modalities register
themselves in :data:`MODALITIES`; :func:`modality_of` tries them in
registration order, text first. Text registers here; every other modality
in its module of :mod:`rewardlab.data.modalities`, which the ``rewardlab.data``
package imports (and which imports every module it holds), so the registry is
complete whenever any part of ``rewardlab.data`` is loaded.

The helpers the rest of the package calls instead of assuming text:
:func:`response_statistics` (the trivial baselines),
:func:`response_key` (a hashable identity for deduplication: the text itself,
or the modality's digest), :func:`response_digest` (caches and fingerprints),
:func:`is_empty_response` (validation) and :func:`jsonable_response` (what a
JSON output writes for a response: the text, an image's path, or its digest;
never raw bytes).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rewardlab.registry import Registry


@dataclass(frozen=True)
class Modality:
    """One kind of response and the few things that must know it.

    Attributes:
        name: ``"text"``, ``"image"``, ``"trajectory"``, …
        accepts: whether a value is a response of this kind (any accepted form).
        decode: the canonical form of an accepted value; raises ``ValueError``
            with a one-line reason when the value is corrupt (a truncated PNG).
        digest: bytes that identify the canonical form (hashed by callers).
        statistics: named trivial statistics of a canonical response, each a
            float, higher meaning "more" (tokens, brightness, steps); the
            first one is the modality's length-only baseline.
        empty: whether a canonical response is empty (validation drops and
            counts such records); by default nothing is.
        digest_of: the digest of any accepted form, when the modality can give
            it without decoding every time (images remember the digest of
            bytes and files they decoded); default ``digest(decode(value))``.
        to_json: what a JSON output writes for an accepted value (default:
            ``{"sha256": hex digest}``).
    """

    name: str
    accepts: Callable[[Any], bool]
    decode: Callable[[Any], Any]
    digest: Callable[[Any], bytes]
    statistics: Callable[[Any], Mapping[str, float]]
    empty: Callable[[Any], bool] = lambda _value: False
    digest_of: Callable[[Any], bytes] | None = None
    to_json: Callable[[Any], Any] | None = None

    def digest_any(self, value: Any) -> bytes:
        """The digest bytes of any accepted form of this modality."""
        if self.digest_of is not None:
            return self.digest_of(value)
        return self.digest(self.decode(value))


MODALITIES: Registry[Modality] = Registry("modality")
_ORDER: list[str] = []


def register_modality(modality: Modality) -> Modality:
    """Add ``modality``; :func:`modality_of` tries modalities in the order they were added."""
    MODALITIES.add(modality.name, modality)
    _ORDER.append(modality.name)
    return modality


def modality_of(response: Any) -> Modality:
    """The modality that accepts ``response``; ``TypeError`` naming its type otherwise."""
    for name in _ORDER:
        modality = MODALITIES.get(name)
        if modality.accepts(response):
            return modality
    known = ", ".join(_ORDER)
    raise TypeError(
        f"a response must be one of: {known}; got {type(response).__name__}"
    )


def modality_of_all(responses: Sequence[Any]) -> Modality:
    """The one modality of a batch; ``TypeError`` when a batch mixes modalities."""
    if not responses:
        return MODALITIES.get("text")
    first = modality_of(responses[0])
    for i, response in enumerate(responses[1:], start=1):
        if not first.accepts(response):
            other = modality_of(response).name
            raise TypeError(
                f"responses mix modalities: item 0 is {first.name}, item {i} is {other}"
            )
    return first


def decode_responses(responses: Sequence[Any]) -> list[Any]:
    """Every response in its canonical form (one modality per batch)."""
    modality = modality_of_all(responses)
    return [modality.decode(r) for r in responses]


def response_digest(response: Any) -> str:
    """sha256 hex digest of a response's canonical bytes (text: its UTF-8)."""
    return hashlib.sha256(modality_of(response).digest_any(response)).hexdigest()


def response_key(response: Any) -> Hashable:
    """A hashable identity of a response for deduplication and lookups: a text is its own
    key; any other response is ``(modality name, sha256 hex digest)`` (so two forms of the
    same image, PNG bytes and an array, are one key, and no key equals a text)."""
    if isinstance(response, str):
        return response
    return (modality_of(response).name, response_digest(response))


def is_empty_response(response: Any) -> bool:
    """Whether validation counts the response as empty (text: blank; images: never)."""
    modality = modality_of(response)
    return modality.empty(modality.decode(response))


def response_statistics(responses: Sequence[Any]) -> dict[str, np.ndarray]:
    """Each trivial statistic of the batch's modality, float64 (n,), in the modality's order
    (the first is its length-only baseline). An empty batch is text's ``{"length": []}``."""
    modality = modality_of_all(responses)
    rows = [modality.statistics(modality.decode(r)) for r in responses]
    names = list(rows[0]) if rows else ["length"]
    return {name: np.array([row[name] for row in rows], dtype=np.float64) for name in names}


def jsonable_response(response: Any) -> Any:
    """What a JSON output writes for a response: a text as itself; otherwise the modality's
    ``to_json`` (an image file's path, or ``{"sha256": digest}``), never raw bytes."""
    modality = modality_of(response)
    if modality.to_json is not None:
        return modality.to_json(response)
    return {"sha256": response_digest(response)}


def _text_statistics(text: str) -> Mapping[str, float]:
    return {"length": float(len(text.split()))}


TEXT = register_modality(
    Modality(
        name="text",
        accepts=lambda value: isinstance(value, str),
        decode=lambda value: value,
        digest=lambda text: text.encode("utf-8", "surrogatepass"),
        statistics=_text_statistics,
        empty=lambda text: not text.strip(),
        to_json=lambda text: text,
    )
)
