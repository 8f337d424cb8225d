"""The CLI package only parses, calls and prints (issue 25): outside ``rewardlab.cli`` a
command module imports library verbs, option dataclasses, the registries and name lists
its help words (choices), and printing helpers — no training, splitting, fingerprinting,
loading or reward-model code.

Each imported name is classified by what it *is* once imported (a module of
``rewardlab.verbs``, a dataclass whose fields are declared options, a
:class:`~rewardlab.registry.Registry`, a tuple or frozenset of names), or is one of the
few named exceptions below, each with its reason. A new import of anything else (a
loader, a trainer, a splitter) fails here.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
from pathlib import Path

import pytest

from rewardlab.options import METADATA_KEY
from rewardlab.registry import Registry

CLI = Path(__file__).resolve().parents[1] / "src" / "rewardlab" / "cli"

FOUNDATION = {
    "rewardlab.options": "the option declarations and their errors",
    "rewardlab.registry": "registry types for did-you-mean errors",
    "rewardlab.atomic": "writing the command's own output file atomically",
    "rewardlab.data.errors": "the data error type the CLI turns into one line",
    "rewardlab.data.limits": "process-wide input limits set from the command line",
    "rewardlab.threads": "the process's torch thread count, set once from --threads",
}
"""Modules a command module may import anything from, and why."""

PRINTING_HELPERS = {
    "rewardlab.evaluate.held_out.held_out_summary": "terminal lines of held-out metrics",
    "rewardlab.lab.overopt.report.summary_rows": "rows of the lab's summary table",
    "rewardlab.lab.overopt.report_rl.rl_fit_rows": "rows of the RL fit table",
    "rewardlab.lab.agent.report.summary_rows": "rows of the agent lab's summary",
    "rewardlab.lab.agent.overopt_report.summary_rows": "rows of agent-overopt's summary",
    "rewardlab.lab.agent.options.reward_options": "the reward's options from its flags",
}
"""Functions outside the verbs a command may call: they format results or build options."""


def imported_names(path: Path) -> list[tuple[str, str | None]]:
    """``(module, name)`` of every ``rewardlab`` import outside the CLI package in ``path``
    (``name`` None for ``import module``); dynamic ``import_module`` calls included."""
    found: list[tuple[str, str | None]] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(
                "rewardlab"):
            found += [(node.module, alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [(alias.name, None) for alias in node.names
                      if alias.name.startswith("rewardlab")]
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "import_module"
              and node.args and isinstance(node.args[0], ast.Constant)):
            found.append((node.args[0].value, None))
    return [(module, name) for module, name in found
            if not (module + "." + (name or "")).startswith("rewardlab.cli")]


def is_options_dataclass(value: object) -> bool:
    return (isinstance(value, type) and dataclasses.is_dataclass(value)
            and any(METADATA_KEY in f.metadata for f in dataclasses.fields(value)))


def is_name_list(value: object) -> bool:
    return isinstance(value, (tuple, frozenset)) and all(isinstance(v, str) for v in value)


def allowed(module: str, name: str | None) -> str | None:
    """Why the import is allowed, or None."""
    if module == "rewardlab.verbs" or module.startswith("rewardlab.verbs."):
        return "a library verb"
    if module in FOUNDATION:
        return FOUNDATION[module]
    if name is None:
        return None
    if f"{module}.{name}" in PRINTING_HELPERS:
        return PRINTING_HELPERS[f"{module}.{name}"]
    value = getattr(importlib.import_module(module), name)
    if is_options_dataclass(value):
        return "an option dataclass"
    if isinstance(value, Registry) or is_name_list(value):
        return "the names a help text lists"
    if isinstance(value, str):
        return "a constant word of the command line"
    return None


MODULES = sorted(CLI.glob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=[p.name for p in MODULES])
def test_a_command_module_imports_only_verbs_options_and_printing(path):
    bad = [f"{module}{'.' + name if name else ''}" for module, name in imported_names(path)
           if allowed(module, name) is None]
    assert not bad, f"cli/{path.name} imports library code beyond verbs and options: {bad}"


def test_the_exceptions_are_still_imported():
    used = {f"{module}.{name}" for path in MODULES for module, name in imported_names(path)}
    modules = {module for path in MODULES for module, _ in imported_names(path)}
    assert set(PRINTING_HELPERS) <= used, set(PRINTING_HELPERS) - used
    assert set(FOUNDATION) <= modules, set(FOUNDATION) - modules


def test_a_loader_import_would_fail():
    assert allowed("rewardlab.load", "load_reward_model") is None
    assert allowed("rewardlab.models.training.loop", "run_epochs") is None
    assert allowed("rewardlab.verbs.train", "train") == "a library verb"
