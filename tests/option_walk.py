"""The option walk of a lab command (issue 25), shared by ``tests/test_option_walk_labs.py``
and ``tests/test_option_walk_agents.py``.

A :class:`Lab` names the command, the option classes its flags are made from, its
components (an optimizer, a query strategy, a variant: each with the tiny arguments of its
run), what each component reads, and a value away from the tiny run's of every option.
:func:`walk_case` runs one (component, option): an option the component reads must change
the results (against the component's run without it); one it does not read must be refused
(exit 2, one line naming the flag) with the experiment stubbed out, so provably before it
starts. :func:`every_option_is_walked` checks that the walk covers every declared flag.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from rewardlab.cli.main import app
from rewardlab.options import flag_of, option_fields, spec_of

runner = CliRunner()
RUN_FACTS = {"config", "rewardlab_version", "versions", "timing", "key", "from_cache",
             "torch_threads"}
"""What a lab's results echo or measure of the run rather than compute (the options, the
versions, the clock): left out of the comparison, as are keys ending in ``seconds``."""


def flags(*classes: type) -> set[str]:
    """The command-line flags the option classes declare."""
    return {flag_of(f) for cls in classes for f in option_fields(cls) if spec_of(f).cli}


def command_flags(*name: str) -> set[str]:
    """The flags the command offers (what ``--help`` lists), read from Click."""
    import typer.main

    command = typer.main.get_command(app)
    for part in name:
        command = command.commands[part]
    return {p.opts[0] for p in command.params if p.param_type_name == "option"} - {"--help"}


def computed(value: Any) -> Any:
    """``value`` without :data:`RUN_FACTS` and timings, at any depth."""
    if isinstance(value, dict):
        return {k: computed(v) for k, v in value.items()
                if k not in RUN_FACTS and not k.endswith("seconds")}
    if isinstance(value, list):
        return [computed(v) for v in value]
    return value


@dataclass
class Lab:
    """One lab command's walk (see the module doc)."""

    command: tuple[str, ...]
    classes: tuple[type, ...]
    components: dict[str, list[str]]
    """Component → the tiny arguments of its run (selecting it)."""
    reads: dict[str, set[str]]
    """Component → the flags it reads."""
    values: dict[str, list[str]]
    """Flag → the arguments giving it a value away from the tiny run's."""
    selectors: dict[str, str]
    """Flags that select a component, or say where results go: walked over, not along."""
    by_design: dict[str, str] = field(default_factory=dict)
    """Flags read that cannot change the results at this size by design, and where they are
    checked instead."""
    needs: dict[str, list[str]] = field(default_factory=dict)
    """Flag → arguments it is read under (the baseline has them too)."""
    skip: dict[tuple[str, str], str] = field(default_factory=dict)
    """(component, flag) → why the walk cannot change it there (read, checked elsewhere)."""
    slow: set[str] = field(default_factory=set)
    """Flags whose runs are all kept out of the default suite (another environment's)."""
    starts: tuple[str, str] = ("", "")
    """(module, function) of the experiment, stubbed out when an option must be refused."""
    results: str = "results.json"
    """The results file under ``--out`` (empty: ``--out`` is the results file)."""

    def cases(self) -> list:
        """``pytest.param(component, flag)`` of every pair walked. The default suite runs each
        option on the first component that reads it (the components' order) and every
        refusal (nothing runs); the runs on the other readers, and those of :attr:`slow`,
        are marked slow."""
        out = []
        first = {option: next((c for c in self.components if option in self.reads[c]), None)
                 for option in self.values}
        for component in self.components:
            for option in sorted(self.values):
                slow = option in self.reads[component] and (first[option] != component
                                                            or option in self.slow)
                marks = [pytest.mark.slow] if slow else []
                out.append(pytest.param(component, option, marks=marks,
                                        id=f"{component} {option}"))
        return out


def run_lab(lab: Lab, args: list[str], out: Path) -> Any:
    """The computed results of one run (it must succeed)."""
    result = runner.invoke(app, [*lab.command, "--out", str(out), *args])
    assert result.exit_code == 0, result.output
    path = out / lab.results if lab.results else out
    return computed(json.loads(path.read_text()))


def every_option_is_walked(lab: Lab) -> None:
    declared = flags(*lab.classes)
    assert command_flags(*lab.command) == declared
    assert set(lab.values) | set(lab.selectors) | set(lab.by_design) == declared
    assert not set(lab.values) & (set(lab.selectors) | set(lab.by_design))
    for component, reads in lab.reads.items():
        assert reads <= set(lab.values) | set(lab.by_design), component
    assert set(lab.values) <= set().union(*lab.reads.values())  # each read by a component


def walk_case(lab: Lab, component: str, option: str, baselines: dict, tmp_path: Path,
              monkeypatch: pytest.MonkeyPatch) -> None:
    """One (component, option) of the walk (see the module doc)."""
    base = lab.components[component]
    if option in lab.reads[component]:
        if (component, option) in lab.skip:
            pytest.skip(lab.skip[(component, option)])
        needs = lab.needs.get(option, [])
        key = (lab.command, component, tuple(needs))
        if key not in baselines:
            baselines[key] = run_lab(lab, [*base, *needs], tmp_path / "base")
        changed = run_lab(lab, [*base, *needs, *lab.values[option]], tmp_path / "given")
        assert changed != baselines[key], f"{option} changed nothing for {component}"
        return
    module, name = lab.starts

    def started(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("the experiment started before its options were checked")

    monkeypatch.setattr(f"{module}.{name}", started)
    out = tmp_path / "refused"
    result = runner.invoke(app, [*lab.command, "--out", str(out), *base, *lab.values[option]])
    assert result.exit_code == 2, result.output
    (line,) = [x for x in result.output.splitlines() if x.startswith("error:")]
    assert line.startswith(f"error: Invalid value for '{option}': "), line
    assert not out.exists()
