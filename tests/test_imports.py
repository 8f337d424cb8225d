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
