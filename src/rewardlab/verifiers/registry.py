"""The verifier registry: ``VERIFIERS.get("math")`` gives the class, with did-you-mean on a typo.

Each module of :mod:`rewardlab.verifiers` registers its verifiers
(``@VERIFIERS.register("name")`` above the class); the package imports every
module, so a new verifier is its module and its test."""

from __future__ import annotations

from typing import Any

from rewardlab.registry import Registry
from rewardlab.verifiers._deps import check_verifier
from rewardlab.verifiers.base import Verifier

VERIFIERS: Registry[type[Verifier]] = Registry("verifier")


def make_verifier(name: str, **params: Any) -> Verifier:
    """The verifier registered as ``name``, built with ``params`` (bad ones: ``ValueError``;
    its optional package missing: :class:`~rewardlab.verifiers._deps.MissingExtra`)."""
    cls = VERIFIERS.get(name)
    check_verifier(VERIFIERS.canonical(name), cls.needs)
    try:
        return cls(**params)
    except TypeError as err:
        raise ValueError(f"verifier {name!r}: bad parameters {sorted(params)}: {err}") from None
