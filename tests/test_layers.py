"""The layer rule of ``../shared/DESIGN.md``, read from the source with the AST.

Imports point down: a package may import the packages below it and the
foundation modules, never one above it. ``serve/`` imports nothing of
rewardlab but ``protocols`` (so any ``RewardModel`` can be served), and the
foundation modules import no package. A lazy import inside a function counts
like one at the top of a module.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from rewardlab.data.limits import Limits
from rewardlab.serve.settings import ServeSettings

SOURCE = Path(__file__).resolve().parents[1] / "src" / "rewardlab"

LAYERS = (
    "cli",
    "integrations",
    "serve",
    "scale",
    "lab",
    "optimize",
    "evaluate",
    "robust",
    "verifiers",
    "models",
    "features",
    "data",
)
"""Top to bottom: each package may import only those after it."""

FOUNDATION = {"protocols", "registry", "atomic", "strict_json"}
"""Modules every layer may import; they import no package of rewardlab."""


def rewardlab_imports(path: Path) -> set[str]:
    """The first component after ``rewardlab.`` of every import in ``path``."""
    targets = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        targets |= {name.split(".")[1] for name in names if name.startswith("rewardlab.")}
    return targets


def owner(path: Path) -> str:
    """The layer (package) or foundation module that ``path`` belongs to."""
    first = path.relative_to(SOURCE).parts[0]
    return first.removesuffix(".py")


def violations(path: Path) -> list[str]:
    """``importer -> imported`` for each import of ``path`` that breaks the rule."""
    here = owner(path)
    if here == "__init__":
        return []
    bad = []
    for target in sorted(rewardlab_imports(path)):
        if target == here:
            continue
        if here in FOUNDATION:
            allowed = target in FOUNDATION
        elif here == "serve":
            allowed = target == "protocols"
        else:
            below = LAYERS[LAYERS.index(here) + 1 :]
            allowed = target in FOUNDATION or target in below
        if not allowed:
            bad.append(f"{path.relative_to(SOURCE)} -> rewardlab.{target}")
    return bad


def test_every_module_belongs_to_a_known_layer():
    known = set(LAYERS) | FOUNDATION | {"__init__"}
    owners = {owner(path) for path in SOURCE.rglob("*.py")}
    assert owners <= known, f"add {sorted(owners - known)} to LAYERS or FOUNDATION"


def test_imports_point_down():
    bad = [line for path in sorted(SOURCE.rglob("*.py")) for line in violations(path)]
    assert not bad, f"imports that point up or sideways: {bad}"


def test_the_checker_catches_an_upward_import(tmp_path, monkeypatch):
    """A data module importing the CLI, and serve importing a model, are both caught."""
    fake = tmp_path / "rewardlab"
    (fake / "data").mkdir(parents=True)
    (fake / "serve").mkdir()
    (fake / "data" / "bad.py").write_text("def f():\n    from rewardlab.cli.common import fail\n")
    (fake / "serve" / "bad.py").write_text("import rewardlab.models.io\nimport rewardlab.protocols\n")
    monkeypatch.setattr(sys.modules[__name__], "SOURCE", fake)
    assert violations(fake / "data" / "bad.py") == ["data/bad.py -> rewardlab.cli"]
    assert violations(fake / "serve" / "bad.py") == ["serve/bad.py -> rewardlab.models"]


@pytest.mark.parametrize(
    ("record_limit", "server_limit"),
    [
        ("max_chars", "max_chars"),
        ("max_line_bytes", "max_body_bytes"),
        ("max_items", "max_items"),
        ("max_depth", "max_json_depth"),
    ],
)
def test_input_limits_equal_the_servers(record_limit, server_limit):
    """``data.limits`` repeats the server's defaults (it may not import ``serve``)."""
    assert getattr(Limits(), record_limit) == getattr(ServeSettings, server_limit)
