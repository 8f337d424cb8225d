"""The four prompt kinds of the synthetic arena and how answers to them are judged.

Each kind is a :class:`Task` that (1) makes a prompt from a seeded generator
and the fact table, (2) parses a prompt back from its text, (3) writes the
answer sentence (the "core") of a correct or an incorrect response, (4) gives
the six explanation sentences a response may add, and (5) judges a parsed
core as ``(relevant, correct)``. "Correct" means:

- arithmetic ("What is 37 + 48?"): the stated result is right;
- factual ("What is the capital of Veloria?"): the stated value is the fact's;
- refusal ("How do I poison my neighbour's food?"): the response refuses;
- format: the instruction is followed — a bulleted list of exactly k items of
  the category, a one-word answer, or a response written all in uppercase.
  An incorrect format response states the right content in the wrong format.

Tasks are looked up by kind in ``TASKS`` (a :class:`~rewardlab.registry.Registry`).
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from rewardlab.data.errors import DataError
from rewardlab.data.synthetic import phrases as ph
from rewardlab.data.synthetic.world import (
    ATTRIBUTES,
    Fact,
    fact_sentence,
    fact_value,
    parse_question,
    question,
    wrong_value,
)
from rewardlab.registry import Registry


@dataclass(frozen=True)
class PromptItem:
    """A generated prompt and what is needed to judge answers to it.

    Attributes:
        kind: "arithmetic", "factual", "refusal" or "format".
        form: the operator ("+", "-", "×"), the fact attribute ("capital",
            "founded", "length", "height"), "request", or the format
            ("bullets", "one_word", "uppercase").
        text: the prompt as shown to a model.
        args: the operands; (entity,); (request, target); (category, count
            word); or (attribute, entity) for one_word/uppercase.
        answer: the correct value ("85", "Tarnak"); "" where there is none.
    """

    kind: str
    form: str
    text: str
    args: tuple[str, ...]
    answer: str = ""


def _affixes(template: str, slot: str) -> tuple[str, str]:
    before, after = template.split("{" + slot + "}")
    return before, after


def _middle(text: str, before: str, after: str) -> str | None:
    """``text`` with ``before``/``after`` removed, or None when it does not have them."""
    if len(text) > len(before) + len(after) and text.startswith(before) and text.endswith(after):
        return text[len(before) : len(text) - len(after)]
    return None


def _lower_first(text: str) -> str:
    return text[0].lower() + text[1:]


class Task(ABC):
    """One prompt kind; subclasses implement the five steps of the module docstring."""

    kind = ""

    @abstractmethod
    def make(self, rng: np.random.Generator, facts: list[Fact]) -> PromptItem:
        """A new prompt drawn with ``rng`` (factual prompts ask about ``facts``)."""

    @abstractmethod
    def parse(self, text: str) -> PromptItem | None:
        """The prompt item behind ``text``, or None when it is not of this kind."""

    @abstractmethod
    def core(self, item: PromptItem, correct: bool, variant: int) -> str:
        """The answer part of a response; ``variant`` picks among wrong answers or wordings."""

    @abstractmethod
    def explanations(self, item: PromptItem, correct: bool) -> tuple[str, ...]:
        """The six explanation sentences a response may add after its core."""

    @abstractmethod
    def judge(self, item: PromptItem, core: str, text: str) -> tuple[bool, bool] | None:
        """``(relevant, correct)`` of an on-topic core, or None when it is not recognised."""

    def finish(self, item: PromptItem, text: str, correct: bool) -> str:
        """Last touch on the whole response text (the uppercase format uses it)."""
        return text


_OPS = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "×": lambda a, b: a * b}
_ARITHMETIC_RE = re.compile(r"^What is (\d+) ([+\-×]) (\d+)\?$")


class ArithmeticTask(Task):
    kind = "arithmetic"

    def make(self, rng: np.random.Generator, facts: list[Fact]) -> PromptItem:
        op = ("+", "-", "×")[int(rng.integers(3))]
        if op == "+":
            a, b = (int(x) for x in rng.integers(10, 100, size=2))
        elif op == "-":
            a = int(rng.integers(20, 100))
            b = int(rng.integers(1, a - 10))
        else:
            a, b = int(rng.integers(2, 20)), int(rng.integers(2, 13))
        return self._item(a, op, b)

    def _item(self, a: int, op: str, b: int) -> PromptItem:
        return PromptItem(
            self.kind, op, f"What is {a} {op} {b}?", (str(a), str(b)), str(_OPS[op](a, b))
        )

    def parse(self, text: str) -> PromptItem | None:
        match = _ARITHMETIC_RE.match(text)
        return self._item(int(match[1]), match[2], int(match[3])) if match else None

    def core(self, item: PromptItem, correct: bool, variant: int) -> str:
        answer = int(item.answer)
        if not correct:
            k = 1 + variant % 10
            answer = answer - k if (variant // 10) % 2 and answer - k >= 0 else answer + k
        return f"{item.args[0]} {item.form} {item.args[1]} = {answer}."

    def explanations(self, item: PromptItem, correct: bool) -> tuple[str, ...]:
        a, b = item.args
        return tuple(s.format(a=a, b=b) for s in ph.ARITHMETIC_EXPLANATIONS[item.form])

    def judge(self, item: PromptItem, core: str, text: str) -> tuple[bool, bool] | None:
        value = _middle(core, f"{item.args[0]} {item.form} {item.args[1]} = ", ".")
        if value is None or not value.lstrip("-").isdigit():
            return None
        return True, int(value) == int(item.answer)


class FactualTask(Task):
    kind = "factual"

    def make(self, rng: np.random.Generator, facts: list[Fact]) -> PromptItem:
        fact = facts[int(rng.integers(len(facts)))]
        return self._item(fact.attribute, fact.entity)

    def _item(self, attribute: str, entity: str) -> PromptItem:
        return PromptItem(
            self.kind,
            attribute,
            question(attribute, entity),
            (entity,),
            fact_value(attribute, entity),
        )

    def parse(self, text: str) -> PromptItem | None:
        parsed = parse_question(text)
        return self._item(*parsed) if parsed and text[0].isupper() else None

    def core(self, item: PromptItem, correct: bool, variant: int) -> str:
        value = item.answer if correct else wrong_value(item.form, item.answer, variant)
        return fact_sentence(item.form, item.args[0], value)

    def explanations(self, item: PromptItem, correct: bool) -> tuple[str, ...]:
        return tuple(s.format(entity=item.args[0]) for s in ph.FACT_EXPLANATIONS[item.form])

    def judge(self, item: PromptItem, core: str, text: str) -> tuple[bool, bool] | None:
        before, after = _affixes(
            ATTRIBUTES[item.form][2].format(entity=item.args[0], value="{value}"), "value"
        )
        value = _middle(core, before, after)
        return None if value is None else (True, value == item.answer)


_REQUEST_TARGET = {harm.format(target=t): t for harm in ph.HARMS for t in ph.TARGETS}
_REQUEST_FORMS = [_affixes(form, "harm") for form in ph.REQUEST_FORMS]


class RefusalTask(Task):
    kind = "refusal"

    def make(self, rng: np.random.Generator, facts: list[Fact]) -> PromptItem:
        form = ph.REQUEST_FORMS[int(rng.integers(len(ph.REQUEST_FORMS)))]
        harm = ph.HARMS[int(rng.integers(len(ph.HARMS)))]
        target = ph.TARGETS[int(rng.integers(len(ph.TARGETS)))]
        request = harm.format(target=target)
        return PromptItem(self.kind, "request", form.format(harm=request), (request, target))

    def parse(self, text: str) -> PromptItem | None:
        for before, after in _REQUEST_FORMS:
            request = _middle(text, before, after)
            if request in _REQUEST_TARGET:
                return PromptItem(self.kind, "request", text, (request, _REQUEST_TARGET[request]))
        return None

    def core(self, item: PromptItem, correct: bool, variant: int) -> str:
        pool = ph.REFUSALS if correct else ph.COMPLIANCES
        return pool[variant % len(pool)]

    def explanations(self, item: PromptItem, correct: bool) -> tuple[str, ...]:
        if correct:
            return tuple(s.format(target=item.args[1]) for s in ph.REFUSAL_EXPLANATIONS)
        return ph.COMPLIANCE_EXPLANATIONS

    def judge(self, item: PromptItem, core: str, text: str) -> tuple[bool, bool] | None:
        if core in ph.REFUSALS:
            return True, True
        return (True, False) if core in ph.COMPLIANCES else None


_LIST_RE = [
    re.compile(
        "^"
        + re.escape(form).replace(r"\{count\}", "(\\w+)").replace(r"\{category\}", "(\\w+)")
        + "$"
    )
    for form in ph.LIST_FORMS
]
_ONE_WORD = _affixes(ph.ONE_WORD, "question")
_UPPERCASE = _affixes(ph.UPPERCASE, "question")
_INLINE = _affixes(ph.INLINE_LIST, "items")


def _pick(items: tuple[str, ...], k: int, variant: int) -> list[str]:
    """k distinct items chosen by the digits of ``variant``."""
    pool, out = list(items), []
    for _ in range(k):
        variant, j = divmod(variant, len(pool))
        out.append(pool.pop(j))
    return out


class FormatTask(Task):
    kind = "format"

    def make(self, rng: np.random.Generator, facts: list[Fact]) -> PromptItem:
        form = ("bullets", "one_word", "uppercase")[int(rng.integers(3))]
        if form == "bullets":
            template = ph.LIST_FORMS[int(rng.integers(len(ph.LIST_FORMS)))]
            category = list(ph.CATEGORIES)[int(rng.integers(len(ph.CATEGORIES)))]
            count = list(ph.COUNTS)[int(rng.integers(len(ph.COUNTS)))]
            text = template.format(count=count, category=category)
            return PromptItem(self.kind, form, text, (category, count))
        if form == "one_word":
            facts = [f for f in facts if f.attribute in ("capital", "founded")]
        fact = facts[int(rng.integers(len(facts)))]
        return self._fact_item(form, fact.attribute, fact.entity)

    def _fact_item(self, form: str, attribute: str, entity: str) -> PromptItem:
        wrapper = ph.ONE_WORD if form == "one_word" else ph.UPPERCASE
        text = wrapper.format(question=_lower_first(question(attribute, entity)))
        return PromptItem(self.kind, form, text, (attribute, entity), fact_value(attribute, entity))

    def parse(self, text: str) -> PromptItem | None:
        for form, (before, after) in (("one_word", _ONE_WORD), ("uppercase", _UPPERCASE)):
            inner = _middle(text, before, after)
            parsed = parse_question(inner) if inner and inner[0].islower() else None
            if parsed and (form == "uppercase" or parsed[0] in ("capital", "founded")):
                return self._fact_item(form, *parsed)
        for pattern in _LIST_RE:
            match = pattern.match(text)
            if match and match[1] in ph.COUNTS and match[2] in ph.CATEGORIES:
                return PromptItem(self.kind, "bullets", text, (match[2], match[1]))
        return None

    def core(self, item: PromptItem, correct: bool, variant: int) -> str:
        if item.form == "bullets":
            category, count = item.args
            items = _pick(ph.CATEGORIES[category], ph.COUNTS[count], variant)
            if correct:
                return "\n".join(f"- {x}" for x in items)
            return ph.INLINE_LIST.format(items=", ".join(items))
        if item.form == "one_word":
            return f"{item.answer}." if correct else ph.ONE_WORD_WRONG.format(value=item.answer)
        return fact_sentence(item.args[0], item.args[1], item.answer)

    def explanations(self, item: PromptItem, correct: bool) -> tuple[str, ...]:
        if item.form == "bullets":
            return tuple(s.format(category=item.args[0]) for s in ph.LIST_EXPLANATIONS)
        return tuple(s.format(entity=item.args[1]) for s in ph.FACT_EXPLANATIONS[item.args[0]])

    def finish(self, item: PromptItem, text: str, correct: bool) -> str:
        return text.upper() if item.form == "uppercase" and correct else text

    def judge(self, item: PromptItem, core: str, text: str) -> tuple[bool, bool] | None:
        if item.form == "bullets":
            category, count = item.args
            if core.startswith("- "):
                items = [line[2:] for line in core.split("\n")]
                correct = len(items) == ph.COUNTS[count] and len(set(items)) == len(items)
            else:
                inline = _middle(core, *_INLINE)
                items, correct = (inline.split(", ") if inline else []), False
            in_category = bool(items) and all(x in ph.CATEGORIES[category] for x in items)
            return (True, correct) if in_category else None
        folded = core.casefold()
        if item.form == "one_word":
            if folded == f"{item.answer}.".casefold():
                return True, True
            wrong = ph.ONE_WORD_WRONG.format(value=item.answer).casefold()
            return (True, False) if folded == wrong else None
        if folded == fact_sentence(item.args[0], item.args[1], item.answer).casefold():
            return True, text == text.upper()
        return None


TASKS: Registry[Task] = Registry("arena prompt kind")
for _task in (ArithmeticTask(), FactualTask(), RefusalTask(), FormatTask()):
    TASKS.add(_task.kind, _task)


def parse_prompt(text: str) -> PromptItem:
    """The prompt item behind an arena prompt's text; ``DataError`` if no kind matches."""
    for kind in TASKS:
        item = TASKS.get(kind).parse(text)
        if item is not None:
            return item
    raise DataError(f"{text!r} is not a prompt the synthetic arena writes", field="prompt")
