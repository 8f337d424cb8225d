"""The documentation matches the command line.

Every ``rewardlab …`` command line in README.md, every page of the docs site
(docs/**/*.md) and benchmarks/README.md (fenced ``bash`` blocks and inline code, tables included)
is checked against the real Typer/Click parser with ``make_context``, which
parses without running the command; every ``benchmarks/*.py`` command line
against that script's ``build_parser()``. Notation of the table forms:

- ``[--opt VALUE]`` is optional: its option names are checked, and it is left
  out of the parse;
- ``a|b`` (``a\\|b`` in a table) and ``(--x X|--y Y)`` are alternatives: the
  names of all are checked, the first is parsed;
- a form starting or ending with ``…`` elides arguments (``… --loss L`` belongs
  to the command of the row above): only its option names are checked;
  a ``…`` between arguments (``--model A,B,…``) is dropped before the parse;
- an upper-case or Greek placeholder (``S``, ``N``, ``λ``) given to a numeric
  option is parsed as ``1``;
- inline code that gives none of the command's required options is a mention
  (``rewardlab lab overopt``, ``rewardlab train --test-fraction``): the command
  and the option names are checked, not the parse. Code-block lines are always
  parsed.

A renamed option, a list written the wrong way or a missing required option
fails here. ``docs/cli.md`` must equal what ``rewardlab.cli.reference``
generates from the live CLI. The names a document gives to a registry-backed
option (``--loss bt|scaled-bt``, ``--head gpm``, ``--aggregate uwo``,
``--probes length,attack``, ``--method topk``, ``--backbone encoder:PATH``,
``--format trl``, ``--suite pairs``) must be registered: a renamed or removed
component fails here, while a new one needs no edit of the documents (the full
lists are generated into ``--help`` and ``docs/cli.md``).
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import shlex
import typing
from dataclasses import dataclass
from pathlib import Path

import pytest

from rewardlab.cli.reference import REGENERATE, cli_commands, global_options, render_reference

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "docs" / "cli.md"
DOCUMENTS = sorted(
    [ROOT / "README.md", ROOT / "benchmarks" / "README.md", *(ROOT / "docs").rglob("*.md")]
)
SCANNED = [path for path in DOCUMENTS if path != REFERENCE]
COMMANDS = cli_commands()
GROUPS = {path[:-1] for path in COMMANDS if len(path) > 1}
PLACEHOLDER = re.compile(r"^(?:[A-Z][A-Z0-9_]*|[α-ω]+)$")
BENCHMARK = re.compile(r"^benchmarks/(\w+)\.py$")
ENVIRONMENT = re.compile(r"^[A-Z_][A-Z0-9_]*=")  # HF_HUB_OFFLINE=1 rewardlab …
# Options of other programs that the documents quote (accelerate, torchrun, OpenRLHF, …).
EXTERNAL_OPTIONS = {
    "--cpu", "--machine_rank", "--main_process_ip", "--main_process_port", "--mixed_precision",
    "--multi_gpu", "--nproc_per_node", "--num_machines", "--num_processes",
    "--remote_rm_url", "--reward.remote_url", "--data.apply_chat_template", "--data.label_key",
    "--strict",  # mkdocs build --strict
}


@dataclass(frozen=True)
class CommandLine:
    """One documented command: where it is, its text, and whether it came from a code block."""

    where: str
    text: str
    block: bool


def join_continuations(lines: list[str]) -> list[tuple[int, str]]:
    """``(first line number, command)`` with backslash-continued lines joined."""
    joined: list[tuple[int, str]] = []
    pending = ""
    start = 0
    for number, line in lines:
        if not pending:
            start = number
        stripped = line.rstrip()
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        joined.append((start, pending + stripped))
        pending = ""
    return joined


def documented_lines(path: Path) -> list[CommandLine]:
    """Command lines of ``bash``/``sh`` code blocks and every inline code span (a span
    may run over several lines of a paragraph)."""
    found: list[CommandLine] = []
    block: list[tuple[int, str]] | None = None
    prose: list[tuple[int, str]] = []
    language = ""
    for number, line in [*enumerate(path.read_text(encoding="utf-8").splitlines(), 1), (0, "")]:
        fence = line.lstrip().startswith("```")
        if block is None and (fence or not line.strip()) and prose:
            found += inline_spans(path, prose)
            prose = []
        if fence:
            if block is None:
                block, language = [], line.strip().strip("`").strip()
            else:
                if language in ("bash", "sh", "shell", "console"):
                    found += [
                        CommandLine(f"{path.relative_to(ROOT)}:{n}", without_comment(text), True)
                        for n, text in join_continuations(block)
                    ]
                block = None
        elif block is not None:
            block.append((number, line))
        elif line.strip():
            prose.append((number, line))
    return found


def without_comment(line: str) -> str:
    """A shell line without its trailing ``# comment`` (a ``#`` that starts a word outside
    quotes), stripped."""
    quote = ""
    for index, char in enumerate(line):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or line[index - 1].isspace()):
            return line[:index].strip()
    return line.strip()


def inline_spans(path: Path, paragraph: list[tuple[int, str]]) -> list[CommandLine]:
    """The inline code spans of one paragraph (or table), each at its starting line."""
    text = "\n".join(line for _, line in paragraph)
    return [
        CommandLine(
            f"{path.relative_to(ROOT)}:{paragraph[0][0] + text.count(chr(10), 0, m.start())}",
            " ".join(m.group(1).replace("\\|", "|").split()),
            False,
        )
        for m in re.finditer(r"`([^`]+)`", text)
    ]


def first_alternatives(text: str) -> str:
    """``(--x X|--y Y)`` → ``--x X``; ``a|b`` tokens → ``a``; ``[…]`` groups removed."""
    text = re.sub(r"(?<!\S)\[[^\[\]]*\]", " ", text)
    text = re.sub(r"(?<!\S)\(([^()]*)\)", lambda m: m.group(1).split("|")[0], text)
    return " ".join(token.split("|")[0] for token in text.split())


def option_names(text: str) -> set[str]:
    return {token.split("=")[0] for token in re.findall(r"(?<![\w-])--[\w.][\w.-]*", text)}


@dataclass
class Invocation:
    """A documented call: the program (a command path or a script) and its argument text."""

    where: str
    program: tuple[str, ...] | str
    arguments: str
    elided: bool
    block: bool


def invocations() -> list[Invocation]:
    """Every ``rewardlab …`` and ``benchmarks/*.py`` call in the scanned documents."""
    calls: list[Invocation] = []
    for document in SCANNED:
        previous: tuple[str, ...] | None = None
        for line in documented_lines(document):
            text = line.text
            elided_start = text.startswith("…")
            if elided_start and previous is not None and text[1:].lstrip().startswith("--"):
                calls.append(Invocation(line.where, previous, text[1:], True, line.block))
                continue
            words = text.split()
            start = next((i for i, w in enumerate(words) if not ENVIRONMENT.match(w)), 0)
            for index, word in enumerate(words):
                script = BENCHMARK.match(word)
                if script and index > 0 and words[index - 1].startswith("python"):
                    rest = " ".join(words[index + 1 :])
                    calls.append(
                        Invocation(line.where, script.group(1), rest, rest.endswith("…"), line.block)
                    )
                    break
                module_call = word == "rewardlab.cli.main" and index > 0 and words[index - 1] == "-m"
                if (word == "rewardlab" and index == start) or module_call:
                    paths, used = command_paths(words[index + 1 :])
                    arguments = " ".join(words[index + 1 + used :])
                    for path in paths:
                        previous = path
                        calls.append(
                            Invocation(
                                line.where, path, arguments, arguments.endswith("…"), line.block
                            )
                        )
                    break
    return calls


def command_paths(words: list[str]) -> tuple[list[tuple[str, ...]], int]:
    """The command path(s) that ``words`` start with (``build sft|pairs`` gives two),
    and how many words they take."""
    if not words or not re.match(r"^[a-z][\w|-]*$", words[0]):
        return [], 0
    heads = words[0].split("|")
    if any((head,) in GROUPS for head in heads) and len(words) > 1:
        return [(head, sub) for head in heads for sub in words[1].split("|")], 2
    return [(head,) for head in heads], 1


INVOCATIONS = invocations()


def test_documents_have_command_lines():
    """The scan finds the README's commands (a broken scanner would pass everything)."""
    programs = {call.program for call in INVOCATIONS}
    assert {("train",), ("eval",), ("compare",), ("bon",), ("lab", "overopt")} <= programs
    assert {"noisy_labels", "held_out_pairs", "alpaca_eval_pool"} <= programs
    assert sum(1 for call in INVOCATIONS if not call.elided) >= 20


def numeric(option) -> bool:
    annotation = option.type_descriptor.annotation
    if typing.get_origin(annotation) is list:
        (annotation,) = typing.get_args(annotation)
    return annotation in (int, float)


def concrete_argv(command, arguments: str) -> list[str]:
    """The argument vector of the first alternative, placeholders of numeric options as 1
    and of named options (``--loss L``, checked against a registry) as the option's default."""
    by_name = {name: p for p in command.params for name in (*p.opts, *p.secondary_opts)}
    argv = [token for token in shlex.split(first_alternatives(arguments)) if token != "…"]
    for index in range(1, len(argv)):
        option = by_name.get(argv[index - 1])
        if option is None or not PLACEHOLDER.match(argv[index]):
            continue
        if numeric(option):
            argv[index] = "1"
        elif isinstance(option.default, str):
            argv[index] = option.default
    return argv


@pytest.mark.parametrize(
    "call",
    [c for c in INVOCATIONS if isinstance(c.program, tuple)],
    ids=lambda c: f"{c.where} rewardlab {' '.join(c.program)}",
)
def test_rewardlab_command_line_parses(call: Invocation):
    assert call.program in COMMANDS, f"{call.where}: no command 'rewardlab {' '.join(call.program)}'"
    command = COMMANDS[call.program]
    known = {name for p in command.params for name in (*p.opts, *p.secondary_opts)}
    unknown = option_names(call.arguments) - known - {"--help"}
    assert not unknown, f"{call.where}: {sorted(unknown)} not options of {call.program}"
    required = {p.opts[0] for p in command.params if p.required}
    given = option_names(call.arguments)
    if call.elided or not given or not (call.block or given & required):
        return  # a form with arguments left out, or a mention of the command or an option
    argv = concrete_argv(command, call.arguments)
    try:
        command.make_context(" ".join(call.program), list(argv))
    except Exception as err:  # the parser's own usage errors
        pytest.fail(f"{call.where}: rewardlab {' '.join(call.program)} {shlex.join(argv)}: {err}")


def load_script_parser(name: str) -> argparse.ArgumentParser | None:
    """``build_parser()`` of ``benchmarks/<name>.py``, imported without running it
    (None when the script has none)."""
    spec = importlib.util.spec_from_file_location(
        f"benchmark_{name}", ROOT / "benchmarks" / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    build = getattr(module, "build_parser", None)
    return None if build is None else build()


def script_parser(name: str) -> argparse.ArgumentParser:
    """The parser of ``benchmarks/<name>.py``, raising :class:`ParseError` on errors."""
    parser = load_script_parser(name)
    if parser is None:
        pytest.skip(f"benchmarks/{name}.py has no build_parser() to check its command line against")
    parser.error = _raise
    return parser


class ParseError(Exception):
    pass


def _raise(message: str) -> typing.NoReturn:
    raise ParseError(message)


@pytest.mark.parametrize(
    "call",
    [c for c in INVOCATIONS if isinstance(c.program, str)],
    ids=lambda c: f"{c.where} benchmarks/{c.program}.py",
)
def test_benchmark_command_line_parses(call: Invocation):
    parser = script_parser(call.program)
    known = {name for action in parser._actions for name in action.option_strings}
    unknown = option_names(call.arguments) - known
    assert not unknown, f"{call.where}: {sorted(unknown)} not options of {call.program}.py"
    if call.elided:
        return
    argv = [token for token in shlex.split(first_alternatives(call.arguments)) if token != "…"]
    try:
        parser.parse_args(argv)
    except ParseError as err:
        pytest.fail(f"{call.where}: benchmarks/{call.program}.py {shlex.join(argv)}: {err}")


def all_option_names() -> tuple[set[str], list[str]]:
    """Every option of the CLI and of the documented scripts, and the scripts whose
    options cannot be known (no ``build_parser()``)."""
    commands = [*COMMANDS.values(), global_options()]
    names = {name for c in commands for p in c.params
             for name in (*p.opts, *p.secondary_opts)}
    unknown_scripts = []
    for script in sorted({c.program for c in INVOCATIONS if isinstance(c.program, str)}):
        parser = load_script_parser(script)
        if parser is None:
            unknown_scripts.append(f"benchmarks/{script}.py")
        else:
            names |= {name for action in parser._actions for name in action.option_strings}
    return names, unknown_scripts


def test_every_quoted_option_exists():
    """An ``--option`` quoted in prose (``--ensemble 5``) is an option of some command."""
    names, unknown_scripts = all_option_names()
    known = names | EXTERNAL_OPTIONS
    quoted = {
        (line.where, name)
        for document in SCANNED
        for line in documented_lines(document)
        for name in option_names(line.text)
    }
    unknown = sorted(f"{where}: {name}" for where, name in quoted if name not in known)
    assert not unknown, (
        f"{unknown} are options of no command"
        + (f" (these scripts have no build_parser(): {unknown_scripts})" if unknown_scripts else "")
    )


def test_markup_rules_by_hand():
    """The notation rules on hand-written forms."""
    assert first_alternatives("--x a|b [--y 1] (--m M|--s S) --n 1,2,…") == "--x a --m M --n 1,2,…"
    assert option_names("[--flip-lowest 0.2|--margins] --a=b") == {"--flip-lowest", "--margins", "--a"}
    train = COMMANDS[("train",)]
    assert concrete_argv(train, "--seed S --out DIR --data PATH") == [
        "--seed", "1", "--out", "DIR", "--data", "PATH",
    ]
    assert command_paths(["build", "sft|pairs", "…"]) == ([("build", "sft"), ("build", "pairs")], 2)
    assert without_comment("rewardlab train --out a  # writes a/") == "rewardlab train --out a"
    assert without_comment("x --template '#1 {score}' # c") == "x --template '#1 {score}'"
    assert without_comment("x --tag=a#b") == "x --tag=a#b"


def test_wrong_command_lines_fail():
    """The parse catches the three kinds of error the README has had."""
    compare = COMMANDS[("compare",)]
    train = COMMANDS[("train",)]
    with pytest.raises(Exception, match="extra argument"):  # a space-separated list
        compare.make_context("compare", ["--model", "A", "B", "--data", "x", "--out", "o"])
    with pytest.raises(Exception, match="No such option"):  # a renamed option
        train.make_context("train", ["--data", "x", "--out", "o", "--test-frac", "0.2"])
    with pytest.raises(ParseError, match="--out"):  # a missing required option
        script_parser("noisy_labels").parse_args(["--data", "x", "--backbone", "hashing", "--seeds", "0,1,2"])


def test_cli_reference_is_current():
    """docs/cli.md lists every command and option of the live CLI."""
    assert REFERENCE.is_file(), f"docs/cli.md is missing; run `{REGENERATE}`"
    assert REFERENCE.read_text(encoding="utf-8") == render_reference(), (
        f"docs/cli.md is out of date with the CLI; run `{REGENERATE}`"
    )


def test_cli_reference_covers_every_option():
    """Each option of each command appears in its section of the reference."""
    text = render_reference()
    sections = dict(re.findall(r"## `rewardlab ([^`]+)`\n(.*?)(?=\n## |\Z)", text, re.S))
    for path, command in COMMANDS.items():
        section = sections[" ".join(path)]
        for option in command.params:
            assert f"`{option.opts[0]}`" in section, (path, option.opts[0])


def test_readme_links_the_reference():
    assert "docs/cli.md" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_coste_et_al_is_cited_as_2024():
    """"Reward Model Ensembles Help Mitigate Overoptimization" is ICLR 2024 everywhere."""
    wrong = []
    for path in [*ROOT.glob("src/rewardlab/**/*.py"), *ROOT.glob("benchmarks/*.py"), *DOCUMENTS]:
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"Coste et al\.[^0-9]{0,80}?(\d{4})", text, re.S):
            if match.group(1) != "2024":
                wrong.append(f"{path.relative_to(ROOT)}: {match.group(0)!r}")
    assert not wrong, wrong


def test_reference_rows_by_hand(tmp_path):
    """Type, default and flag columns of known options; the writer writes the same text."""
    from rewardlab.cli.reference import main, render_command

    train = "\n".join(render_command(("train",), COMMANDS[("train",)]))
    assert "| `--data` | text | *required* |" in train
    assert "| `--seed` | integer | `0` |" in train
    assert "| `--overwrite` / `--no-overwrite` | flag | off |" in train
    assert "| `--bootstrap` / `--no-bootstrap` | flag | – |" in train  # the trainer's default
    assert "| `--epochs` | integer | – |" in train
    compare = "\n".join(render_command(("compare",), COMMANDS[("compare",)]))
    assert "| `--data` | text | *required* |" in compare
    assert "| `--model` | text | – |" in compare  # or --rewards
    main([str(tmp_path / "cli.md")])
    assert (tmp_path / "cli.md").read_text(encoding="utf-8") == render_reference()


def registered_names() -> dict[str, set[str]]:
    """The names each registry-backed option accepts, from the registries themselves."""
    import rewardlab.evaluate.probes  # noqa: F401  (each probe registers itself)
    from rewardlab.cli.choices import head_names
    from rewardlab.data.formats import FORMATS
    from rewardlab.evaluate.probes.base import PROBES
    from rewardlab.evaluate.suite import SUITES
    from rewardlab.features.backbones import BACKBONES, FINE_TUNED
    from rewardlab.lab.forecast.methods import FORECAST_METHODS
    from rewardlab.models.losses import LOSSES
    from rewardlab.optimize.methods import PAIR_METHODS, SFT_METHODS
    from rewardlab.robust.aggregate import AGGREGATIONS
    from rewardlab.verbs.evaluate import PRMBENCH_GROUPS

    return {
        "--loss": set(LOSSES.names()),
        "--head": set(head_names()),
        "--aggregate": set(AGGREGATIONS.names()),
        "--probes": set(PROBES.names()),
        "--suite": set(SUITES),
        "--method": {*SFT_METHODS.names(), *PAIR_METHODS.names(), *FORECAST_METHODS.names()},
        "--backbone": {*BACKBONES.names(), FINE_TUNED},
        "--format": {*FORMATS.names(), PRMBENCH_GROUPS},
    }


def documented_values(text: str, option: str) -> list[str]:
    """The names given to ``option`` in ``text``: alternatives (``a|b``) and list items
    (``a,b``); ``[…]`` suffixes, ``:ARGUMENT`` parts, ``…`` and placeholders dropped."""
    names = []
    for value in re.findall(rf"(?<![\w-]){re.escape(option)}[ =](\S+)", text):
        for name in re.split(r"[|,]", re.sub(r"\[[^\]]*\]|[()]", "", value)):
            name = name.split(":")[0].strip("…'\"`[]")
            if name and not PLACEHOLDER.match(name) and not name.startswith("-"):
                names.append(name)
    return names


def option_forms(document: Path) -> list[CommandLine]:
    """The command lines of ``document`` and its two-word spans ``--option value`` (not the
    quoted messages that begin with an option)."""
    return [
        line for line in documented_lines(document)
        if re.search(r"(^|\s|/)rewardlab\s|^…", line.text)
        or (line.text.startswith("--") and len(line.text.split()) == 2)
    ]


def test_documented_registry_names_are_registered():
    """``--loss L``, ``--head H``, … in the documents name registered components only."""
    registered = registered_names()
    wrong = []
    for document in SCANNED:
        for line in option_forms(document):
            for option, known in registered.items():
                wrong += [f"{line.where}: {option} {name}"
                          for name in documented_values(line.text, option) if name not in known]
    assert not wrong, f"{wrong}: not registered names"
    checked = {option: {name for document in SCANNED for line in option_forms(document)
                        for name in documented_values(line.text, option)}
               for option in registered}
    assert {"bt", "regression"} <= checked["--loss"]  # the scan finds them
    assert {"gpm", "prm", "linear"} <= checked["--head"]
    assert {"topk", "degrees"} <= checked["--method"]


def test_documented_values_by_hand():
    assert documented_values("--loss bt|scaled-bt [--x 1]", "--loss") == ["bt", "scaled-bt"]
    assert documented_values("--backbone hashing|encoder[:PATH]|transformer:PATH", "--backbone") == [
        "hashing", "encoder", "transformer"]
    assert documented_values("--probes length,attack --format …", "--probes") == ["length", "attack"]
    assert documented_values("--format …", "--format") == []
    assert documented_values("--loss L --head-params J", "--head") == []


README_JOBS = (
    "Train a reward model on my preference file",
    "Audit my Hugging Face reward model for length bias",
    "Serve a verifiable math reward to OpenRLHF",
    "See overoptimization curves for my proxy",
    "Build DPO pairs with best-of-n",
)


def test_readme_has_one_short_section_per_job():
    """Each job of the README is a section with one code block of one to five ``rewardlab``
    commands, every one of them parsed in full by ``test_rewardlab_command_line_parses``,
    and a link onward to the docs."""
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    assert len(text.splitlines()) < 300
    sections = dict(re.findall(r"^### (.+?)\n(.*?)(?=^##|\Z)", text, re.S | re.M))
    parsed = {call.where for call in INVOCATIONS
              if call.block and not call.elided and call.where.startswith("README.md:")}
    for job in README_JOBS:
        title = next((t for t in sections if t.startswith(job)), None)
        assert title is not None, f"README has no section '{job}'"
        body = sections[title]
        blocks = re.findall(r"```bash\n(.*?)```", body, re.S)
        assert len(blocks) == 1, title
        commands = [line for line in blocks[0].splitlines() if line.startswith("rewardlab ")]
        assert 1 <= len(commands) <= 5, title
        start = text.index(blocks[0])
        first = text.count("\n", 0, start) + 1
        lines = {f"README.md:{first + i}" for i, line in enumerate(blocks[0].splitlines())
                 if line.startswith("rewardlab ")}
        assert lines <= parsed, f"{title}: {sorted(lines - parsed)} not parsed"
        assert "](docs/" in body, f"{title}: no link to its guide"
