"""The command class of every ``rewardlab`` command: old option spellings and help from registries.

**Old spellings.** An option renamed into the shared vocabulary (``--data``,
``--out``, ``--model``, ``--aggregate``, ``--n``, …) keeps its old spelling for
one release. :func:`command` registers a command with ``renamed={"--ns": "--n"}``;
before Click parses the arguments, :func:`rewrite_renamed` replaces each old
spelling by the new one and prints ONE line per old spelling to stderr,
``warning: --ns is deprecated; use --n``. An old list flag given more than once
(``--models A --models B``) becomes one comma list (``--model A,B``). The old and
the new spelling together are a usage error (exit 2, one line). The old
spellings are not options of the command, so ``--help``, ``docs/cli.md`` and the
documents checked by ``tests/test_readme.py`` know only the new ones.

**Finite numbers.** A number option given NaN or ±Inf is a bad option (exit 2,
one line naming it), whatever its range (:func:`refuse_non_finite`).

**Help as written.** Help texts are plain text: ``[gold]`` or ``[score columns]``
is shown as written, never read as Rich markup (:func:`literal_help`).

**Help from registries.** An option's help may name a registry with a
placeholder such as ``{losses}`` (:data:`rewardlab.cli.choices.PLACEHOLDERS`);
it is filled in when the help is shown (:func:`expand_help`), so the names, and
a loss's one-line summary, come from the registries, and importing the CLI
imports none of them (nor torch).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import typer
from typer.core import TyperCommand


def rewrite_renamed(args: Sequence[str], renamed: Mapping[str, str]) -> list[str]:
    """``args`` with every old spelling in ``renamed`` (old → new) replaced by the new one.

    Values given with an old spelling (``--ns 1,2`` or ``--ns=1,2``; several
    times: joined by commas) go to the new option. Prints one deprecation line per
    old spelling used; a bad option (exit 2) when the new spelling is given too.
    """
    kept: list[str] = []
    moved: dict[str, list[str]] = {}
    index = 0
    while index < len(args):
        token = args[index]
        if token == "--":
            kept += args[index:]
            break
        name, equals, value = token.partition("=")
        if name not in renamed:
            kept.append(token)
            index += 1
            continue
        if not equals:
            if index + 1 == len(args):  # no value: let Click report it under the new name
                kept.append(renamed[name])
                break
            value = args[index + 1]
            index += 1
        moved.setdefault(name, []).append(value)
        index += 1
    given = {token.partition("=")[0] for token in kept}
    for old, values in moved.items():
        new = renamed[old]
        if new in given:
            raise typer.BadParameter(
                f"{old} is the old spelling of {new}; give one of them", param_hint=f"'{new}'"
            )
        typer.echo(f"warning: {old} is deprecated; use {new}", err=True)
        kept[:0] = [new, ",".join(values)]
    return kept


def expand_help(params: Sequence[Any]) -> None:
    """Fill in the registry placeholders of each option's help (in place, once)."""
    from rewardlab.cli.choices import fill_placeholders

    for param in params:
        help_text = raw_help(param)
        if help_text and "{" in help_text:
            param.raw_help = help_text
            param.help = fill_placeholders(help_text)


def refuse_non_finite(ctx: typer.Context, params: Sequence[Any]) -> None:
    """No number option takes NaN or ±Inf (``--lr inf`` would train nothing, ``--l2 inf``
    flatten the head): a bad option naming the first one given so."""
    for param in params:
        value = ctx.params.get(param.name)
        if isinstance(value, float) and not math.isfinite(value):
            raise typer.BadParameter(
                f"expected a finite number, got {value}", param_hint=f"'{param.opts[0]}'"
            )


def raw_help(param: Any) -> str | None:
    """An option's help as written, placeholders included (before :func:`expand_help`)."""
    return getattr(param, "raw_help", None) or getattr(param, "help", None)


@contextlib.contextmanager
def literal_help(command: Any) -> Iterator[None]:
    """While ``command``'s help is rendered with Rich markup (typer's default), its help and
    its options' help are escaped, so a ``[word]`` in a help text shows as written."""
    if getattr(command, "rich_markup_mode", None) != "rich":
        yield
        return
    from rich.markup import escape

    texts = [(command, command.help)] + [(p, getattr(p, "help", None)) for p in command.params]
    for holder, text in texts:
        if text:
            holder.help = escape(text)
    try:
        yield
    finally:
        for holder, text in texts:
            holder.help = text


class RewardlabCommand(TyperCommand):
    """A command whose old option spellings (:attr:`renamed`) still work, with a
    deprecation line, and whose help is filled in from the registries."""

    renamed: Mapping[str, str] = {}

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        rest = super().parse_args(ctx, rewrite_renamed(args, self.renamed))
        refuse_non_finite(ctx, self.params)
        return rest

    def format_help(self, ctx: typer.Context, formatter: Any) -> None:
        expand_help(self.params)
        with literal_help(self):
            super().format_help(ctx, formatter)


def command(
    app: typer.Typer, name: str, renamed: Mapping[str, str] | None = None
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``app.command(name)`` with :class:`RewardlabCommand`; ``renamed`` maps each old
    spelling of an option to its new one."""
    cls = type(
        "RewardlabCommand", (RewardlabCommand,), {"renamed": dict(renamed or {})}
    )
    return app.command(name, cls=cls)
