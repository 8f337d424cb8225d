"""The registries behind named options, looked up by kind, and the checks of a given name.

An option that names a component (``--aggregate uwo``, ``--loss davidson``,
``--method top1``) is looked up here, lazily, so that the CLI starts without
importing the registries (and torch): :func:`registry` imports the one asked
for. A name that is not registered is an :class:`~rewardlab.options.OptionError`
naming the option, with the registry's did-you-mean.
"""

from __future__ import annotations

import importlib

from rewardlab.options import OptionError
from rewardlab.registry import Registry, UnknownNameError

REGISTRIES: dict[str, tuple[str, str]] = {
    "aggregation": ("rewardlab.robust.aggregate", "AGGREGATIONS"),
    "probe": ("rewardlab.evaluate.probes", "PROBES"),
    "format": ("rewardlab.data.formats", "FORMATS"),
    "sft method": ("rewardlab.optimize.methods", "SFT_METHODS"),
    "pairs method": ("rewardlab.optimize.methods", "PAIR_METHODS"),
    "backbone": ("rewardlab.features.backbones", "BACKBONES"),
    "forecast method": ("rewardlab.lab.forecast.methods", "FORECAST_METHODS"),
    "head": ("rewardlab.models.heads", "HEADS"),
    "loss": ("rewardlab.models.losses", "LOSSES"),
    "structured model": ("rewardlab.models.structured", "STRUCTURED"),
    "verifier": ("rewardlab.verifiers", "VERIFIERS"),
    "step reduction": ("rewardlab.protocols", "STEP_REDUCTIONS"),
    "query strategy": ("rewardlab.lab.agent.queries", "QUERY_STRATEGIES"),
    "routing criterion": ("rewardlab.robust.routing", "ROUTING_CRITERIA"),
    "image reward kind": ("rewardlab.models.image.specs", "IMAGE_REWARDS"),
}
"""Option kind → (module, attribute) of its registry; the module registers every entry."""


def registry(kind: str) -> Registry:
    """The registry of ``kind`` (imported on first use)."""
    try:
        module, attribute = REGISTRIES[kind]
    except KeyError:
        raise ValueError(f"no registry for option kind {kind!r}") from None
    return getattr(importlib.import_module(module), attribute)


def check_choice(kind: str, name: str, flag: str) -> str:
    """``name`` if ``kind``'s registry holds it (an alias too), else an :class:`OptionError`
    naming ``flag``. An option field's ``choices=lambda: registry(kind)`` accepts the
    registry's aliases the same way, while its help lists the names only."""
    try:
        registry(kind).get(name)
    except UnknownNameError as err:
        raise OptionError(f"{flag}: {err}") from None
    return name


def check_backbone(spec: str, flag: str) -> str:
    """``spec`` when every comma-separated backbone in it names a known kind (or is
    ``transformer:PATH``); else an :class:`OptionError` naming ``flag``."""
    from rewardlab.features.backbones import parse_spec

    parts = [part.strip() for part in spec.split(",") if part.strip()]
    if not parts:
        raise OptionError(f"{flag}: name at least one, got {spec!r}")
    for part in parts:
        try:
            parse_spec(part)
        except ValueError as err:
            raise OptionError(f"{flag}: {err}") from None
    return spec
