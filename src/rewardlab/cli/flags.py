"""Command-line flags generated from options dataclasses (:mod:`rewardlab.options`).

:func:`with_options` adds one flag per field of each options class to a
command and hands the command one instance per class::

    @with_options(build=BuildOptions, loading=ModelLoading)
    def build_sft(method: str = …, build: BuildOptions = None, loading: ModelLoading = None):

The flag's spelling, default, help and bounds are the field's; a field named
alike in two classes is one flag feeding both, and must mean the same thing in
both (same type, default and help), or the command is refused when it is
defined. A constraint broken on the command line is a bad option (exit 2,
one line naming the flag) before any data is read.

Families that share options but not defaults (every trainer has ``--epochs``,
each with its own default) are *overrides*: ``with_options(overrides={"options":
(TrainConfig, TransformerTrainConfig)})`` makes one flag per field name with no
default of its own, and the command receives ``{name: value}`` of the flags the
user gave; the chosen family builds its options from them, its defaults
filling the rest (:func:`rewardlab.options.from_mapping`).

:func:`refuse_unread` is the one rule for options a component does not read:
given on the command line (or through the environment) to a component whose
options class does not declare it, the option is refused with exit 2, naming
the option and the component, instead of being silently dropped.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import typing
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import typer

from rewardlab.options import (
    OptionError,
    check_value,
    declared,
    flag_of,
    option_fields,
    spec_of,
    type_hints,
)

SCALARS = (bool, int, float, str, Path)


REPEATABLE = tuple[str, ...]
"""A field of this type is a repeatable flag (``--strip-suffix A --strip-suffix B``)."""


def cli_type(hint: Any, repeatable: bool = True) -> Any:
    """The annotation typer parses a field with: its scalar type, optional when the field
    may be ``None``; a tuple of strings a repeatable flag (unless the field parses its own
    text: ``repeatable`` off); anything else (tuples, dicts) is read as its string form."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    optional = type(None) in typing.get_args(hint)
    base = args[0] if optional and len(args) == 1 else hint
    if base == REPEATABLE and repeatable:
        base = list[str]
    elif base not in SCALARS:
        base = str
    return base | None if optional else base


def _callback(field: dataclasses.Field) -> Callable[[Any, Any, Any], Any]:
    flag = flag_of(field)
    parse = spec_of(field).parse

    def check(_ctx: Any, _param: Any, value: Any) -> Any:
        try:
            if parse is not None and isinstance(value, str):
                value = parse(value)
            check_value(field, value, flag)
        except (OptionError, ValueError) as err:
            message = str(err)
            prefix = f"{flag}: "
            raise typer.BadParameter(message.removeprefix(prefix), param_hint=f"'{flag}'") \
                from None
        return value

    return check


def parameter(field: dataclasses.Field, hint: Any, override: bool = False) -> inspect.Parameter:
    """The keyword parameter (annotation and ``typer.Option``) of one field; an override
    flag has no default (``None``) and its help names each family's default."""
    spec = spec_of(field)
    help_text = spec.help
    if override:
        default = None
        help_text = f"{help_text} Default: {{defaults:{field.name}}}."
        hint = hint if type(None) in typing.get_args(hint) else hint | None
    elif field.default is not dataclasses.MISSING:
        default = field.default
    elif field.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        default = field.default_factory()  # type: ignore[misc]
    else:
        default = ...
    if spec.parse is not None and default is not None and default is not ...:
        default = spec.format(default) if spec.format is not None else str(default)
    flags = [flag_of(field)]
    if hint is bool or hint == bool | None:
        flags = [f"{flags[0]}/--no-{flags[0][2:]}"]
    option = typer.Option(default, *flags, help=help_text, metavar=spec.metavar,
                          callback=_callback(field), show_default=not override)
    annotation = cli_type(hint, spec.parse is None)
    if spec.parse is not None:  # written as text, its parser says what it means
        annotation = str | None if type(None) in typing.get_args(annotation) else str
    return inspect.Parameter(field.name, inspect.Parameter.KEYWORD_ONLY, default=option,
                             annotation=annotation)


def _fields_of(
    classes: Iterable[type], same_default: bool = True
) -> dict[str, tuple[dataclasses.Field, Any]]:
    """Each flag's field and hint, once; a name declared twice must mean the same thing
    (type, help and flag, and the default unless ``same_default`` is off)."""
    seen: dict[str, tuple[dataclasses.Field, Any, str]] = {}
    for cls in classes:
        hints = type_hints(cls)
        for field in option_fields(cls):
            if not spec_of(field).cli:
                continue
            hint = hints[field.name]
            if field.name in seen:
                other, other_hint, where = seen[field.name]

                def meaning(f: dataclasses.Field, h: Any) -> tuple:
                    if same_default:
                        return h, f.default, spec_of(f).help, flag_of(f)
                    return cli_type(h) | None, spec_of(f).help, flag_of(f)

                if meaning(other, other_hint) != meaning(field, hint):
                    raise TypeError(
                        f"option {field.name!r} means different things in {where} and "
                        f"{cls.__name__}; give one of them another name"
                    )
                continue
            seen[field.name] = (field, hint, cls.__name__)
    return {name: (field, hint) for name, (field, hint, _) in seen.items()}


def with_options(
    overrides: Mapping[str, Iterable[type]] | None = None, **groups: type
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Add the flags of every options class in ``groups`` (argument name → class) to a
    command; the command receives one instance per class under that argument name. Each
    entry of ``overrides`` (argument name → classes) adds the flags of those classes'
    fields without defaults, and the command receives the given ones as a dict."""
    overrides = {name: tuple(classes) for name, classes in (overrides or {}).items()}
    fields = _fields_of(groups.values())
    override_fields = {
        group: {n: fh for n, fh in _fields_of(classes, same_default=False).items()
                if n not in fields}
        for group, classes in overrides.items()
    }
    taken = set(fields)
    for group, named in override_fields.items():
        if taken & set(named):
            raise TypeError(f"override group {group!r} repeats options {sorted(taken & set(named))}")
        taken |= set(named)
    arguments = set(groups) | set(overrides)

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(command, eval_str=True)
        kept = [p for p in signature.parameters.values() if p.name not in arguments]
        clash = {p.name for p in kept} & taken
        if clash:
            raise TypeError(f"{command.__name__}: parameters {sorted(clash)} are also options")
        added = [parameter(field, hint) for field, hint in fields.values()]
        added += [parameter(field, hint, override=True)
                  for named in override_fields.values() for field, hint in named.values()]
        hints = {k: v for k, v in typing.get_type_hints(command).items() if k not in arguments}

        @functools.wraps(command)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            values = {name: _value(kwargs.pop(name)) for name in fields}
            built: dict[str, Any] = {
                group: cls(**{f.name: values[f.name] for f in option_fields(cls)
                              if f.name in values and spec_of(f).cli})
                for group, cls in groups.items()
            }
            for group, named in override_fields.items():
                given_values = {name: kwargs.pop(name) for name in named}
                built[group] = {k: v for k, v in given_values.items() if v is not None}
            return command(*args, **built, **kwargs)

        wrapper.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=[*kept, *added]
        )
        wrapper.__annotations__ = {**hints, **{p.name: p.annotation for p in added}}
        return wrapper

    return decorate


def _value(value: Any) -> Any:
    """A repeatable flag's list as the field's tuple (``None`` when never given)."""
    if isinstance(value, list):
        return tuple(value) if value else None
    return value


def given(ctx: typer.Context, names: Iterable[str]) -> list[str]:
    """Of ``names`` (parameter names), those the user set on the command line or through
    the environment, not left at their defaults."""
    out = []
    for name in names:
        source = ctx.get_parameter_source(name)
        if source is not None and source.name in ("COMMANDLINE", "ENVIRONMENT"):
            out.append(name)
    return out


def refuse_unread(
    ctx: typer.Context, offered: type, reads: Iterable[type | None], component: str
) -> None:
    """Exit 2 naming the first option of ``offered`` that the user gave but none of the
    classes in ``reads`` declares: ``component`` (e.g. ``"--method top1"``) ignores it."""
    unread = [name for name in given(ctx, declared(offered)) if name not in declared(*reads)]
    if unread:
        field = next(f for f in option_fields(offered) if f.name == unread[0])
        flag = flag_of(field)
        raise typer.BadParameter(
            f"{component} does not read {flag}; leave it out", param_hint=f"'{flag}'"
        )
