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
registration order, text first.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

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
    """

    name: str
    accepts: Callable[[Any], bool]
    decode: Callable[[Any], Any]
    digest: Callable[[Any], bytes]
    statistics: Callable[[Any], Mapping[str, float]]


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
    modality = modality_of(response)
    return hashlib.sha256(modality.digest(modality.decode(response))).hexdigest()


def _text_statistics(text: str) -> Mapping[str, float]:
    return {"length": float(len(text.split()))}


TEXT = register_modality(
    Modality(
        name="text",
        accepts=lambda value: isinstance(value, str),
        decode=lambda value: value,
        digest=lambda text: text.encode("utf-8", "surrogatepass"),
        statistics=_text_statistics,
    )
)
