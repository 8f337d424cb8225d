"""The command-line reference (``docs/cli.md``), generated from the Typer app.

Every command and sub-command of ``rewardlab`` gets a section with its help
text and a table of its options: name (and the ``--no-`` form of a flag),
type, default (or *required*) and help. Where ``--help`` lists the names a
registry holds (heads, losses, aggregations, …) or each family's default, the
reference says so in words (:data:`rewardlab.cli.choices.IN_REFERENCE`), so
registering a component never makes it stale. Nothing is written by hand.

Regenerate it from the repository root with::

    python -m rewardlab.cli.reference docs/cli.md

(without a path the Markdown goes to standard output).
``tests/test_readme.py`` fails when ``docs/cli.md`` differs from
:func:`render_reference`.
"""

from __future__ import annotations

import sys
import typing
from collections.abc import Iterator
from pathlib import Path, PurePath
from typing import Any

import typer

REGENERATE = "python -m rewardlab.cli.reference docs/cli.md"

TYPE_NAMES = {str: "text", int: "integer", float: "number", bool: "flag"}


def iter_commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """``(path, command)`` for every leaf command under ``command``, in ``--help`` order."""
    subcommands = getattr(command, "commands", None)
    if subcommands is None:
        yield path, command
        return
    for name, sub in subcommands.items():
        if not sub.hidden:
            yield from iter_commands(sub, (*path, name))


def cli_commands() -> dict[tuple[str, ...], Any]:
    """Every leaf command of the ``rewardlab`` app by its path, e.g. ``("build", "sft")``."""
    from rewardlab.cli.main import app

    return dict(iter_commands(typer.main.get_command(app)))


def type_name(annotation: Any) -> str:
    """A reader's name for an option's annotation: ``text``, ``integer``, ``path``, …"""
    if typing.get_origin(annotation) is list:
        (inner,) = typing.get_args(annotation)
        return f"{type_name(inner)} (repeatable)"
    if isinstance(annotation, type) and issubclass(annotation, PurePath):
        return "path"
    return TYPE_NAMES.get(annotation, getattr(annotation, "__name__", str(annotation)))


def default_text(option: Any) -> str:
    """The default as it would be typed, *required*, or a dash for none."""
    if option.required:
        return "*required*"
    value = option.default
    if value is None or value == "" or value == []:
        return "–"
    if isinstance(value, bool):
        return "on" if value else "off"
    text = str(value).replace("\n", "\\n")
    return f"`{text}`"


def cell(text: str) -> str:
    """One Markdown table cell: a single line, ``|`` escaped, ``<`` and ``>`` as entities."""
    text = " ".join(text.split()).replace("|", "\\|")
    return text.replace("<", "&lt;").replace(">", "&gt;")


def option_names(option: Any) -> str:
    return " / ".join(f"`{name}`" for name in (*option.opts, *option.secondary_opts))


def reference_help(option: Any) -> str:
    """The option's help with registry placeholders worded generically (see
    :data:`rewardlab.cli.choices.IN_REFERENCE`)."""
    from rewardlab.cli.choices import fill_placeholders
    from rewardlab.cli.command import raw_help

    return fill_placeholders(raw_help(option) or "", reference=True)


def render_command(path: tuple[str, ...], command: Any) -> list[str]:
    """The Markdown section of one command."""
    lines = [f"## `rewardlab {' '.join(path)}`", ""]
    if command.help:
        lines += [" ".join(paragraph.split()) for paragraph in command.help.split("\n\n")]
        lines.append("")
    options = [p for p in command.params if not getattr(p, "hidden", False)]
    if not options:
        return [*lines, "No options.", ""]
    lines += ["| option | type | default | help |", "|---|---|---|---|"]
    for option in options:
        lines.append(
            f"| {option_names(option)} | {type_name(option.type_descriptor.annotation)} "
            f"| {cell(default_text(option))} | {cell(reference_help(option))} |"
        )
    return [*lines, ""]


def global_options() -> Any:
    """The ``rewardlab`` group itself, whose options go before the command name."""
    from rewardlab.cli.main import app

    return typer.main.get_command(app)


def render_global_options() -> list[str]:
    """The section of the options every command takes (``rewardlab --debug train …``)."""
    lines = [
        "## Global options",
        "",
        "Given before the command name, e.g. `rewardlab --debug train …`; each applies to that",
        "run only.",
        "",
        "| option | type | default | help |",
        "|---|---|---|---|",
    ]
    for option in global_options().params:
        if getattr(option, "hidden", False):
            continue
        lines.append(
            f"| {option_names(option)} | {type_name(option.type_descriptor.annotation)} "
            f"| {cell(default_text(option))} | {cell(reference_help(option))} |"
        )
    return [*lines, ""]


def render_renamed(commands: dict[tuple[str, ...], Any]) -> list[str]:
    """The section of old option spellings that still work for one release, with a
    deprecation line (:mod:`rewardlab.cli.command`)."""
    rows = [
        f"| `rewardlab {' '.join(path)}` | `{old}` | `{new}` |"
        for path, command in commands.items()
        for old, new in getattr(command, "renamed", {}).items()
    ]
    return [
        "## Old spellings",
        "",
        "These options were renamed to the shared vocabulary. The old spelling still works",
        "until the next release and prints `warning: OLD is deprecated; use NEW` on stderr;",
        "giving both is refused.",
        "",
        "| command | old | new |",
        "|---|---|---|",
        *rows,
        "",
    ]


def render_reference() -> str:
    """The whole reference: an index, the global options, one section per command, then
    the old option spellings."""
    commands = cli_commands()
    lines = [
        "# Command-line reference",
        "",
        "Every `rewardlab` command and option, generated from the CLI itself; do not edit by",
        f"hand. Regenerate with `{REGENERATE}`. `rewardlab COMMAND --help`",
        "prints the same, and also lists the names each registry holds where this page says",
        "\"any registered …\" (how to add one: [extending.md](extending.md)). Lists are",
        "comma-separated (`--n 1,2,4`).",
        "",
    ]
    lines.append("- [Global options](#global-options)")
    lines += [f"- [`rewardlab {' '.join(p)}`](#{anchor(p)})" for p in commands]
    lines += ["- [Old spellings](#old-spellings)", ""]
    lines += render_global_options()
    for path, command in commands.items():
        lines += render_command(path, command)
    lines += render_renamed(commands)
    return "\n".join(lines).rstrip("\n") + "\n"


def anchor(path: tuple[str, ...]) -> str:
    """GitHub's heading anchor of ``## `rewardlab <path>` ``."""
    return "-".join(("rewardlab", *path))


def main(argv: list[str] | None = None) -> None:
    """Write the reference to the path given, atomically, or to standard output."""
    args = sys.argv[1:] if argv is None else argv
    text = render_reference()
    if not args:
        sys.stdout.write(text)
        return
    from rewardlab.atomic import write_text_atomic

    write_text_atomic(Path(args[0]), text)


if __name__ == "__main__":
    main()
