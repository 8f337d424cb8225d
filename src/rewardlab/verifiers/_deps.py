"""Optional dependencies of the verifiers, imported when first used.

A verifier whose package is missing must stop the command that makes it, not
give every sample the failure reward: a verifier class declares the importers
of the packages its rule needs (``needs = (math_verify,)``, beside its rule),
:func:`check_verifier` calls them when the verifier is made
(:func:`rewardlab.verifiers.registry.make_verifier`), and a missing one is a
:class:`MissingExtra` whose one line names the extra to install.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import ModuleType


class MissingExtra(ImportError):
    """An optional package is not installed; the message names the extra to install."""


def _missing(package: str, err: ImportError) -> MissingExtra:
    return MissingExtra(
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


def check_verifier(name: str, needs: Sequence[Callable[[], ModuleType]]) -> None:
    """Import the optional packages verifier ``name`` needs (its class's ``needs``);
    :class:`MissingExtra` naming the verifier if one is absent."""
    for need in needs:
        try:
            need()
        except MissingExtra as err:
            raise MissingExtra(f"verifier {name!r}: {err}") from None
