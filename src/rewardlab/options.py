"""Typed options: every parameter has one home, a dataclass field with its type, default,
constraint and help.

A component (a build method, a loader kind, a verifier, a lab optimizer, a
command) declares its options as a dataclass whose fields are made by
:func:`option`; the field's metadata holds the help text and the constraint
(``min``/``max`` bounds, ``choices`` from a registry), as TRL's config
dataclasses hold ``metadata={"help": …}`` and scikit-learn's estimators
declare ``_parameter_constraints``. Everything else is read from there:

* :func:`check` validates an instance (one ``OptionError`` naming the
  option's flag);
* :func:`from_mapping` builds an instance from a JSON object (``--head-params``,
  a recipe's ``params``), refusing unknown keys and wrong types by name;
* the CLI generates its flags and their help from the fields
  (:mod:`rewardlab.cli.flags`), so no default or help text is written twice;
* :func:`declared` tells which option names a component reads, so an option
  given to a component that does not declare it is refused rather than
  silently dropped.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import types
import typing
from collections.abc import Callable, Container, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")
METADATA_KEY = "rewardlab"


class OptionError(ValueError):
    """An option value out of its declared range or of the wrong type; the message
    names the option as the user wrote it (``--k``, or ``'k'`` in a JSON object)."""


@dataclass(frozen=True)
class OptionSpec:
    """What a field declares besides its type and default.

    ``flag`` is the command-line spelling (default ``--`` + the name with ``-``
    for ``_``); ``min``/``max`` bound a number (``open_min``: strictly above
    ``min``; ``open_max``: strictly below ``max``); ``choices`` returns the allowed
    names (a registry, whose aliases pass too but are not listed; called only when a
    value is checked or a help text shown) and ``kind`` says what they name in errors
    ("unknown loss 'x'; did you mean …"); ``finite`` refuses NaN and ±inf for floats
    (default on); ``cli`` is ``False`` for a field that has no flag (set by a library
    user only). A field whose type is
    not a plain scalar (a tuple of weights, a dict) is written on the command
    line as text: ``parse`` turns that text into the value and ``format`` a
    value back into text (for the default shown in ``--help``). ``old`` lists earlier
    names of the option that a JSON object (:func:`from_mapping`) may still use.
    """

    help: str
    flag: str | None = None
    min: float | None = None
    max: float | None = None
    open_min: bool = False
    open_max: bool = False
    choices: Callable[[], Iterable[str]] | None = None
    kind: str = "value"
    finite: bool = True
    cli: bool = True
    metavar: str | None = None
    parse: Callable[[str], Any] | None = None
    format: Callable[[Any], str] | None = None
    old: tuple[str, ...] = ()


def option(default: Any = dataclasses.MISSING, help: str = "", *,
           default_factory: Any = dataclasses.MISSING, **spec: Any) -> Any:
    """A dataclass field with its help and constraint (see :class:`OptionSpec`)."""
    metadata = {METADATA_KEY: OptionSpec(help=help, **spec)}
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def spec_of(field: dataclasses.Field) -> OptionSpec:
    """The :class:`OptionSpec` of a field (a bare field gets an empty help)."""
    return field.metadata.get(METADATA_KEY) or OptionSpec(help="")


def flag_of(field: dataclasses.Field) -> str:
    """The command-line spelling of a field: ``--batch-size`` for ``batch_size``."""
    return spec_of(field).flag or "--" + field.name.replace("_", "-")


def option_fields(cls: type) -> list[dataclasses.Field]:
    """The fields of an options dataclass, in declaration order."""
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not an options dataclass")
    return list(dataclasses.fields(cls))


def declared(*classes: type | None) -> set[str]:
    """The option names that any of ``classes`` declares (``None`` declares none)."""
    return {f.name for cls in classes if cls is not None for f in option_fields(cls)}


def type_hints(cls: type) -> dict[str, Any]:
    """Resolved annotations of an options dataclass (``from __future__`` strings resolved)."""
    return typing.get_type_hints(cls)


def fits(value: Any, hint: Any) -> bool:
    """Whether ``value`` suits a field annotated ``hint``: an int is a float, a bool is
    neither an int nor a float, ``None`` fits an optional field, a list fits a tuple."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(fits(value, arg) for arg in typing.get_args(hint))
    if hint is Any:
        return True
    if hint is type(None):
        return value is None
    if origin is typing.Literal:
        return value in typing.get_args(hint)
    expected = origin or hint
    if expected is tuple:
        expected = (tuple, list)
    if isinstance(value, bool) and expected is not bool:
        return False
    if expected is float:
        return isinstance(value, int | float)
    try:
        return isinstance(value, expected)
    except TypeError:  # a hint isinstance cannot check: trust the value
        return True


def type_name(hint: Any) -> str:
    """``int``, ``dict`` (for ``dict[str, Any]``), ``float | None``."""
    plain = typing.get_origin(hint) or hint
    if plain in (typing.Union, types.UnionType):
        return " | ".join(type_name(arg) for arg in typing.get_args(hint))
    if hint is type(None):
        return "null"
    return plain.__name__ if isinstance(plain, type) else str(hint)


def check_value(field: dataclasses.Field, value: Any, name: str) -> None:
    """Raise :class:`OptionError` naming ``name`` when ``value`` breaks the field's constraint."""
    spec = spec_of(field)
    if value is None:
        return
    if isinstance(value, float) and spec.finite and not math.isfinite(value):
        raise OptionError(f"{name}: must be a finite number, got {value}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if spec.min is not None and (value <= spec.min if spec.open_min else value < spec.min):
            relation = ">" if spec.open_min else ">="
            raise OptionError(f"{name}: must be {relation} {spec.min:g}, got {value}")
        if spec.max is not None and (value >= spec.max if spec.open_max else value > spec.max):
            relation = "<" if spec.open_max else "<="
            raise OptionError(f"{name}: must be {relation} {spec.max:g}, got {value}")
    if spec.choices is not None:
        allowed = spec.choices()  # a registry answers ``in`` for its aliases too
        if not isinstance(allowed, Container):
            allowed = list(allowed)
        if value not in allowed:
            known = sorted(allowed)
            close = difflib.get_close_matches(str(value), known, n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            raise OptionError(
                f"{name}: unknown {spec.kind} {value!r}{hint} (known: {', '.join(known)})"
            )


def check(options: T, names: Callable[[dataclasses.Field], str] = flag_of) -> T:
    """Validate every field of ``options`` (types and constraints); return it.

    ``names`` spells a field in the error (its flag by default)."""
    hints = type_hints(type(options))
    for field in option_fields(type(options)):
        value = getattr(options, field.name)
        if not fits(value, hints[field.name]):
            raise OptionError(
                f"{names(field)}: must be {type_name(hints[field.name])}, got {value!r}"
            )
        check_value(field, value, names(field))
    return options


def from_mapping(cls: type[T], values: Mapping[str, Any], what: str) -> T:
    """An instance of ``cls`` from a JSON object; ``what`` names the object in errors
    (``"--head-params"``, ``"recipe component 'fmt'"``). Unknown keys are refused with
    the list of known ones (a field's ``old`` names are read as the field); types and
    constraints are checked by :func:`check`."""
    known = [f.name for f in option_fields(cls)]
    renamed = {old: f.name for f in option_fields(cls) for old in spec_of(f).old}
    for old, name in renamed.items():
        if old in values and name in values:
            raise OptionError(f"{what}: {old!r} is the old name of {name!r}; give one of them")
    values = {renamed.get(key, key): value for key, value in values.items()}
    unknown = [key for key in values if key not in known]
    if unknown:
        raise OptionError(
            f"{what}: unknown option {unknown[0]!r} (known: {', '.join(known) or 'none'})"
        )
    hints = type_hints(cls)
    for key, value in values.items():
        if not fits(value, hints[key]):
            raise OptionError(
                f"{what}: option {key!r} must be {type_name(hints[key])}, got {value!r}"
            )
    instance = cls(**values)
    return check(instance, names=lambda f: f"{what}: option {f.name!r}")


def given_fields(options: Any, defaults: Any | None = None) -> list[str]:
    """The names of the fields of ``options`` that differ from ``defaults`` (a default
    instance of the same class when not given)."""
    defaults = defaults if defaults is not None else type(options)()
    return [
        f.name for f in option_fields(type(options))
        if getattr(options, f.name) != getattr(defaults, f.name)
    ]


def union(name: str, classes: Iterable[type]) -> type:
    """One frozen dataclass holding every field of ``classes`` once: the flags of a family
    of components (the build methods, the lab optimizers), each component reading its own
    subset. A name declared by two classes must have the same type, default and metadata
    (help, constraint), or ``TypeError``."""
    fields: dict[str, tuple[str, Any, dataclasses.Field]] = {}
    for cls in classes:
        hints = type_hints(cls)
        for field in option_fields(cls):
            same = (hints[field.name], field.default, field.default_factory, field.metadata)
            if field.name in fields:
                _, hint, other = fields[field.name]
                if (hint, other.default, other.default_factory, other.metadata) != same:
                    raise TypeError(f"option {field.name!r} means different things in the "
                                    f"classes of {name}")
                continue
            made = dataclasses.field(default=field.default, default_factory=field.default_factory,
                                     metadata=field.metadata)
            fields[field.name] = (field.name, hints[field.name], made)
    return dataclasses.make_dataclass(name, list(fields.values()), frozen=True)


def redefault(cls: type, name: str, default: Any = dataclasses.MISSING, *,
              default_factory: Any = dataclasses.MISSING, cli: bool | None = None) -> Any:
    """The field ``name`` of ``cls`` with another default and the same help and constraint:
    a family that extends shared options changes a default without restating the help
    (``epochs: int = redefault(LoopOptions, "epochs", 1)``); ``cli=False`` keeps it off the
    command line of a class that reads it but does not offer it."""
    original = next((f for f in option_fields(cls) if f.name == name), None)
    if original is None:
        raise TypeError(f"{cls.__name__} has no option {name!r}")
    metadata = original.metadata
    if cli is not None:
        metadata = {METADATA_KEY: dataclasses.replace(spec_of(original), cli=cli)}
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def json_object(text: str) -> dict[str, Any]:
    """A JSON object written on the command line (``--head-params``, ``--aggregate-params``);
    empty text is ``{}``; NaN and Infinity are refused (``ValueError``)."""

    def refuse(name: str) -> Any:
        raise ValueError(f"{name} is not a number JSON allows")

    value = json.loads(text, parse_constant=refuse) if text else {}
    if not isinstance(value, dict):
        raise ValueError(f"must be a JSON object, got {text!r}")
    return value


def json_text(value: Mapping[str, Any]) -> str:
    """A JSON object as :func:`json_object` reads it back (``""`` for an empty one)."""
    return json.dumps(value) if value else ""


def comma_list(cast: Callable[[str], T], low: float = -math.inf, high: float = math.inf, *,
               required: bool = True) -> Callable[[str], tuple[T, ...]]:
    """A parser of a comma list written on the command line (``--n 1,2,4``): each item
    cast (``int``, ``float`` or ``str``) and, for numbers, finite and in [low, high];
    empty text is refused when ``required``. ``ValueError`` names the bad item."""
    kind = {int: "integers", float: "numbers"}.get(cast, "names")  # type: ignore[call-overload]
    bounds = "" if kind == "names" else (
        f" >= {low:g}" if math.isinf(high) else f" in [{low:g}, {high:g}]")
    expected = f"comma-separated {kind}{bounds}"

    def parse(text: str) -> tuple[T, ...]:
        values = []
        for part in (p.strip() for p in text.split(",")):
            if not part:
                continue
            try:
                value = cast(part)
            except ValueError:
                raise ValueError(f"expected {expected}, got {part!r} in {text!r}") from None
            if kind != "names" and not (math.isfinite(value) and low <= value <= high):
                raise ValueError(f"expected {expected}, got {part!r} in {text!r}")
            values.append(value)
        if required and not values:
            raise ValueError(f"expected {expected}, at least one, got {text!r}")
        return tuple(values)

    return parse


def list_text(values: Iterable[Any]) -> str:
    """A tuple as :func:`comma_list` reads it back (``0.25`` not ``0.25000``)."""
    return ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in values)


def default_of(cls: type, name: str) -> Any:
    """The default of field ``name`` of dataclass ``cls`` (its factory called)."""
    field = next(f for f in option_fields(cls) if f.name == name)
    if field.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return field.default_factory()  # type: ignore[misc]
    return field.default


def refuse_unread(obj: Any, reads: Mapping[str, Iterable[str]], chosen: Iterable[str],
                  what: str) -> None:
    """The one rule for options a component does not read: ``reads`` maps each component
    of a family (the pool sources, the optimizers) to the fields of ``obj`` it reads
    (dotted paths into nested options: ``"rl.pg"``); a field that no ``chosen`` component
    reads and that differs from its default is an :class:`OptionError` naming its flag
    (the first differing field's, for nested options) and ``what`` ("--optimizer bon")."""
    read = {path for name in chosen for path in reads[name]}
    unread = dict.fromkeys(p for paths in reads.values() for p in paths if p not in read)
    for path in unread:
        *parents, leaf = path.split(".")
        owner = obj
        for part in parents:
            owner = getattr(owner, part)
        value, default = getattr(owner, leaf), default_of(type(owner), leaf)
        if value == default:
            continue
        field = next(f for f in option_fields(type(owner)) if f.name == leaf)
        if dataclasses.is_dataclass(value) and type(value) is type(default):
            name = given_fields(value, default)[0]
            field = next(f for f in option_fields(type(value)) if f.name == name)
        raise OptionError(f"{flag_of(field)}: not read by {what}; leave it out")


def choice_list(allowed: Callable[[], Iterable[str]], kind: str = "value", *,
                required: bool = True) -> Callable[[str], tuple[str, ...]]:
    """A parser of a comma list of names (``--optimizer bon,kl``), each one of ``allowed()``
    (a registry's ``names``, called when a value is parsed); a typo gets the closest names
    (``ValueError``: "unknown optimizer 'kll'; did you mean 'kl'? (known: …)")."""
    names = comma_list(str, required=required)

    def parse(text: str) -> tuple[str, ...]:
        values = names(text)
        known = list(allowed())
        for value in values:
            if value not in known:
                close = difflib.get_close_matches(value, known, n=3, cutoff=0.5)
                hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
                raise ValueError(f"unknown {kind} {value!r}{hint} (known: {', '.join(known)})")
        return values

    return parse
