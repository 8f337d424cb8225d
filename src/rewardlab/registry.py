"""Name → component registries with did-you-mean errors, one naming rule and old names as aliases.

Heads, losses, aggregations, transforms, probes, verifiers, data formats, …
are looked up by name (``--head mlp``, ``--aggregate uwo``); a typo gets the
closest names.

**One discovery rule.** A registry lives in its home: a package, whose
``__init__`` imports every module it holds (:func:`import_modules`), or a single
module. A component registers itself, in the module that defines it, with one
line: ``REGISTRY.add(name, item)`` (or ``@REGISTRY.register(name)`` above a
function or class, which makes the same call). A new component is therefore
a new module in the package (or a function in the module) and its test: no
list to extend, no help text to edit.

**One naming rule.** A name is kebab-case: lower-case words of letters and
digits joined by ``-`` (``mean-minus-std``, ``json-schema``), checked when it
is added. A registry whose names are fixed by someone else (HTTP paths of the
trainers' reward servers) declares its own ``pattern``.

**Aliases.** An old spelling stays valid as an alias (``aliases=`` of
:meth:`Registry.add`, or :meth:`Registry.alias`): :meth:`Registry.get` and
``in`` resolve it to the entry, :meth:`Registry.canonical` gives the entry's
name, and :meth:`Registry.names` (what ``--help`` lists) leaves it out. An alias
follows no pattern, so underscore spellings saved in old files still load.
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")

KEBAB = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
"""The naming rule: lower-case letters and digits, words joined by ``-``."""


class UnknownNameError(KeyError):
    """A name that is not in a registry; the message lists close matches."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0])


class Registry(Generic[T]):
    """A named collection of components of one kind (``kind`` is used in errors).

    ``pattern`` is the rule every name must match in full (kebab-case unless
    the names are fixed elsewhere)."""

    def __init__(self, kind: str, pattern: re.Pattern[str] = KEBAB) -> None:
        self.kind = kind
        self.pattern = pattern
        self._items: dict[str, T] = {}
        self._aliases: dict[str, str] = {}

    def register(self, name: str, aliases: Iterable[str] = ()) -> Callable[[T], T]:
        """Decorator: ``@REGISTRY.register("name")`` calls :meth:`add` with the decorated item."""

        def add(item: T) -> T:
            self.add(name, item, aliases)
            return item

        return add

    def add(self, name: str, item: T, aliases: Iterable[str] = ()) -> None:
        """Register ``item`` as ``name`` (unique, matching :attr:`pattern`), answering also
        to each of ``aliases``."""
        if not isinstance(name, str) or not self.pattern.fullmatch(name):
            raise ValueError(
                f"{self.kind} name {name!r} breaks the naming rule {self.pattern.pattern!r}"
                + (" (kebab-case: lower-case words joined by '-')" if self.pattern is KEBAB
                   else "")
            )
        if name in self._items or name in self._aliases:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._items[name] = item
        for alias in aliases:
            self.alias(alias, name)

    def alias(self, old: str, name: str) -> None:
        """Let ``old`` (an earlier spelling) resolve to the entry ``name``."""
        if name not in self._items:
            raise ValueError(f"alias {old!r}: {self.kind} {name!r} is not registered")
        if old in self._items or old in self._aliases:
            raise ValueError(f"{self.kind} {old!r} is already registered")
        self._aliases[old] = name

    def canonical(self, name: str) -> str:
        """The registered name of ``name`` (itself, or the entry an alias stands for);
        :class:`UnknownNameError` with did-you-mean when it is neither."""
        if name in self._items:
            return name
        if name in self._aliases:
            return self._aliases[name]
        close = difflib.get_close_matches(str(name), self._items, n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        known = ", ".join(sorted(self._items))
        raise UnknownNameError(f"unknown {self.kind} {name!r}{hint} (known: {known})")

    def get(self, name: str) -> T:
        """The entry ``name`` (or an alias) stands for."""
        return self._items[self.canonical(name)]

    def names(self) -> list[str]:
        """The registered names, sorted; aliases are not listed."""
        return sorted(self._items)

    def items(self) -> list[tuple[str, T]]:
        """``(name, entry)`` of every entry, by name."""
        return [(name, self._items[name]) for name in self.names()]

    def aliases(self) -> dict[str, str]:
        """Every alias → the name of its entry."""
        return dict(self._aliases)

    def __contains__(self, name: object) -> bool:
        return name in self._items or name in self._aliases

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


def import_modules(package: str, path: Iterable[str]) -> None:
    """Import every module of ``package`` (its ``__name__`` and ``__path__``): the modules
    register their components, so a new module is found with no list to edit."""
    for module in pkgutil.iter_modules(path):
        importlib.import_module(f"{package}.{module.name}")
