"""Optional dependencies of the verifiers, imported when first used."""

from __future__ import annotations

from types import ModuleType


def _missing(package: str, err: ImportError) -> ImportError:
    return ImportError(
        f"{package} is needed for this verifier: pip install 'rewardlab[verify]' ({err})"
    )


def math_verify() -> ModuleType:
    """The ``math_verify`` package (extra ``verify``)."""
    try:
        import math_verify as module
    except ImportError as err:
        raise _missing("math-verify", err) from None
    return module


def jsonschema() -> ModuleType:
    """The ``jsonschema`` package (extra ``verify``)."""
    try:
        import jsonschema as module
    except ImportError as err:
        raise _missing("jsonschema", err) from None
    return module
