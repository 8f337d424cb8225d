"""The invented world of the synthetic arena: names and a fact table.

Entities are countries (with a capital and a founding year), rivers (with a
length) and mountains (with a height), named from random syllables. Each
fact's value is a pure function of the attribute and the entity's name:

    h = int(blake2b("attribute|entity", 8 bytes)),
    capital = name(h), founded = 900 + h mod 1050,
    length = 150 + h mod 2850 (km), height = 800 + h mod 7200 (m),

so the truth behind any generated question can be recovered from the question
text alone (``fact_value``), whatever seed produced it. The seed only decides
which entities exist and are asked about. Invented entities keep a language
model's world knowledge out of the gold reward, as in the synthetic
gold-reward setups of Gao, Schulman & Hilton, "Scaling Laws for Reward Model
Overoptimization" (ICML 2023).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import numpy as np

_ONSETS = ("b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "th", "qu")
_VOWELS = ("a", "e", "i", "o", "u", "ia", "ei", "ou")
_CODAS = ("", "n", "r", "l", "s", "k")

# attribute -> (entity type, question, fact sentence); {entity} and {value} are slots.
ATTRIBUTES: dict[str, tuple[str, str, str]] = {
    "capital": (
        "country",
        "What is the capital of {entity}?",
        "The capital of {entity} is {value}.",
    ),
    "founded": (
        "country",
        "In what year was {entity} founded?",
        "{entity} was founded in {value}.",
    ),
    "length": (
        "river",
        "How long is the {entity} river?",
        "The {entity} river is {value} km long.",
    ),
    "height": ("mountain", "How tall is Mount {entity}?", "Mount {entity} is {value} m tall."),
}
# Step used to make a wrong numeric value: truth ± k·step, k in 1..20.
_WRONG_STEP = {"founded": 3, "length": 25, "height": 60}
# Questions match with either case of their first letter ("what is …" inside format prompts).
_QUESTION_RE = {
    attribute: re.compile(
        f"^[{question[0].upper()}{question[0].lower()}]"
        + re.escape(question[1:]).replace(re.escape("{entity}"), "([A-Z][a-z]+)")
        + "$"
    )
    for attribute, (_, question, _) in ATTRIBUTES.items()
}


@dataclass(frozen=True)
class Fact:
    """One row of the fact table, e.g. ("Veloria", "capital", "Tarnak")."""

    entity: str
    attribute: str
    value: str

    @property
    def sentence(self) -> str:
        """The fact as a sentence: "The capital of Veloria is Tarnak."."""
        return fact_sentence(self.attribute, self.entity, self.value)


def name_from_int(x: int) -> str:
    """A pronounceable capitalised name (2 or 3 syllables) read off the digits of ``x``."""
    syllables = 2 + x % 2
    x //= 2
    parts = []
    for _ in range(syllables):
        x, onset = divmod(x, len(_ONSETS))
        x, vowel = divmod(x, len(_VOWELS))
        x, coda = divmod(x, len(_CODAS))
        parts.append(_ONSETS[onset] + _VOWELS[vowel] + _CODAS[coda])
    return "".join(parts).capitalize()


def _hash(*parts: str) -> int:
    digest = hashlib.blake2b("|".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def fact_value(attribute: str, entity: str) -> str:
    """The true value of ``attribute`` for ``entity`` (see the module formula)."""
    h = _hash(attribute, entity)
    if attribute == "capital":
        return name_from_int(h)
    if attribute == "founded":
        return str(900 + h % 1050)
    if attribute == "length":
        return str(150 + h % 2850)
    if attribute == "height":
        return str(800 + h % 7200)
    raise ValueError(f"field 'attribute': unknown fact attribute {attribute!r}")


def wrong_value(attribute: str, truth: str, variant: int) -> str:
    """A plausible value different from ``truth``, chosen by the integer ``variant``."""
    if attribute == "capital":
        value = name_from_int(variant)
        return value if value != truth else value + "a"
    k = 1 + variant % 20
    sign = 1 if (variant // 20) % 2 else -1
    value = int(truth) + sign * k * _WRONG_STEP[attribute]
    return str(value if value > 0 else int(truth) + k * _WRONG_STEP[attribute])


def question(attribute: str, entity: str) -> str:
    """The question asking for the fact: "What is the capital of Veloria?"."""
    return ATTRIBUTES[attribute][1].format(entity=entity)


def fact_sentence(attribute: str, entity: str, value: str) -> str:
    """The sentence stating a (possibly wrong) value for the fact."""
    return ATTRIBUTES[attribute][2].format(entity=entity, value=value)


def parse_question(text: str) -> tuple[str, str] | None:
    """``(attribute, entity)`` of a fact question (any case of its first letter), or None."""
    for attribute, pattern in _QUESTION_RE.items():
        match = pattern.match(text)
        if match:
            return attribute, match.group(1)
    return None


def make_facts(rng: np.random.Generator, n_per_type: int) -> list[Fact]:
    """A fact table over ``n_per_type`` countries, rivers and mountains with distinct names."""
    names: list[str] = []
    seen: set[str] = set()
    while len(names) < 3 * n_per_type:
        name = name_from_int(int(rng.integers(0, 2**62)))
        if name not in seen:
            seen.add(name)
            names.append(name)
    by_type = {
        "country": names[:n_per_type],
        "river": names[n_per_type : 2 * n_per_type],
        "mountain": names[2 * n_per_type :],
    }
    return [
        Fact(entity, attribute, fact_value(attribute, entity))
        for attribute, (entity_type, _, _) in ATTRIBUTES.items()
        for entity in by_type[entity_type]
    ]
