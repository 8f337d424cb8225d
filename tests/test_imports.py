"""Every module of the package imports: no undefined names or broken imports ship."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import rewardlab

MODULES = sorted(
    info.name for info in pkgutil.walk_packages(rewardlab.__path__, prefix="rewardlab.")
)


def test_the_package_has_its_layers():
    for layer in ("data", "features", "models", "robust", "evaluate", "optimize", "lab",
                  "serve", "scale", "cli"):
        assert f"rewardlab.{layer}" in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_module_imports(name):
    importlib.import_module(name)


def test_the_cli_starts_without_torch():
    """``rewardlab --help`` and option errors stay fast: the command modules import torch
    (and transformers) only when a command runs."""
    import subprocess
    import sys

    code = "import sys, rewardlab.cli.main; print(sorted({'torch', 'transformers'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
