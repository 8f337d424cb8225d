"""The layer rule of ``../shared/DESIGN.md``, read from the source with the AST.

Imports point down: a package may import the packages below it and the
foundation modules, never one above it. ``serve/`` imports nothing of
rewardlab but ``protocols`` (so any ``RewardModel`` can be served) and
``registry`` (its route table is a registry; it imports nothing), and the
foundation modules import no package. A lazy import inside a function counts
like one at the top of a module. Inside ``models/`` the families are layers of
their own (``MODEL_LAYERS``), and no chain of imports, lazy ones included,
comes back to where it started.
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
    "verbs",
    "integrations",
    "serve",
    "scale",
    "lab",
    "optimize",
    "evaluate",
    "load",
    "robust",
    "verifiers",
    "models",
    "features",
    "data",
)
"""Top to bottom: each package may import only those after it."""

FOUNDATION = {"protocols", "registry", "options", "atomic", "strict_json", "threads"}
"""Modules every layer may import; they import no package of rewardlab."""

MODEL_LAYERS = (
    "image",
    "lm",
    "structured",
    "training",
    "io",
    "losses",
    "heads",
    "reward_model",
    "normalizer",
    "baselines",
)
"""``models/`` top to bottom: published image rewards reuse the LM loading options; LM
rewards and structured models build on the
training loop, which pairs heads with losses; the base modules come last."""


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
            allowed = target in ("protocols", "registry")
        else:
            below = LAYERS[LAYERS.index(here) + 1 :]
            allowed = target in FOUNDATION or target in below
        if not allowed:
            bad.append(f"{path.relative_to(SOURCE)} -> rewardlab.{target}")
    return bad


def module_name(path: Path, source: Path) -> str:
    """``rewardlab.a.b`` for ``a/b.py`` and ``a/b/__init__.py`` under ``source``."""
    parts = path.relative_to(source.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_edges(path: Path, source: Path, modules: set[str]) -> set[str]:
    """The rewardlab modules that ``path`` imports, at module level or inside a
    function (a lazy import still ties the two modules together); imports under
    ``if TYPE_CHECKING:`` never run and do not count."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    here = module_name(path, source)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    skipped = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for inner in ast.walk(node)
    }
    targets = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            targets |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                targets.add(sub if sub in modules else base)
    return {t for t in targets if t in modules and t != here}


def import_cycles(source: Path) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan, 1972)."""
    paths = {module_name(p, source): p for p in source.rglob("*.py")}
    graph = {m: import_edges(p, source, set(paths)) for m, p in paths.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                cycles.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def model_violations(path: Path) -> list[str]:
    """``models/`` imports that point up or sideways between its families."""
    parts = path.relative_to(SOURCE).parts
    if parts[0] != "models" or len(parts) < 2 or parts[1] == "__init__.py":
        return []
    here = parts[1].removesuffix(".py")
    bad = []
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        names = (
            [node.module] if isinstance(node, ast.ImportFrom) and node.module and node.level == 0
            else [a.name for a in node.names] if isinstance(node, ast.Import) else []
        )
        for name in names:
            bits = name.split(".")
            if bits[:2] != ["rewardlab", "models"] or len(bits) < 3 or bits[2] == here:
                continue
            target = bits[2]
            if target not in MODEL_LAYERS[MODEL_LAYERS.index(here) + 1 :]:
                bad.append(f"{path.relative_to(SOURCE)} -> {name}")
    return bad


def test_every_module_belongs_to_a_known_layer():
    known = set(LAYERS) | FOUNDATION | {"__init__"}
    owners = {owner(path) for path in SOURCE.rglob("*.py")}
    assert owners <= known, f"add {sorted(owners - known)} to LAYERS or FOUNDATION"


def test_imports_point_down():
    bad = [line for path in sorted(SOURCE.rglob("*.py")) for line in violations(path)]
    assert not bad, f"imports that point up or sideways: {bad}"


def test_models_families_import_down():
    known = set(MODEL_LAYERS) | {"__init__"}
    parts = {p.relative_to(SOURCE / "models").parts[0].removesuffix(".py")
             for p in (SOURCE / "models").rglob("*.py")}
    assert parts <= known, f"add {sorted(parts - known)} to MODEL_LAYERS"
    bad = [line for path in sorted(SOURCE.rglob("*.py")) for line in model_violations(path)]
    assert not bad, f"models/ imports that point up or sideways: {bad}"


def test_no_import_cycles():
    assert import_cycles(SOURCE) == []


def test_the_cycle_finder_finds_a_cycle(tmp_path):
    fake = tmp_path / "rewardlab"
    (fake / "features").mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "features" / "__init__.py").write_text("")
    (fake / "features" / "base.py").write_text(
        "def build():\n    from rewardlab.features.hashing import H\n"
        "from rewardlab.features import hashing\n"
    )
    (fake / "features" / "hashing.py").write_text("from rewardlab.features.base import build\n")
    (fake / "features" / "lazy.py").write_text("def f():\n    from rewardlab.features import base\n")
    assert import_cycles(fake) == [["rewardlab.features.base", "rewardlab.features.hashing"]]


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
