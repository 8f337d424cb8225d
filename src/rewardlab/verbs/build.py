"""``build``: SFT rows or preference pairs from a scored candidate pool, as ``rewardlab build``.

::

    from rewardlab.verbs.build import SftSpec, build
    result = build(SftSpec(data="pool.jsonl", scores_column="proxy", out="sft.jsonl",
                           method="topk", options={"k": 2}))
    result.rows[0]["completion"]

``build sft`` methods: rejection sampling (``top1`` = RAFT, ``topk``, ``quantile``,
``sample``), conditional-training ``tags`` (Korbak et al. 2023), PF-PPO
``filtration`` (Zhang et al. 2024); ``build pairs``: ``best-worst``,
``best-random``, ``reward-augmented`` (Zhang et al. 2024), SPO ``degrees`` (Li et
al. 2024) (:mod:`rewardlab.optimize.methods`). ``options`` holds the method's
options that were set (field names, e.g. ``{"k": 2}``); the rest take the method's
own defaults. An option the chosen method does not declare, or one its own values
leave unread (``quantile`` beside ``threshold`` for ``tags``), is refused
(:class:`~rewardlab.options.OptionError`, exit 2) before the pool is read; so is a
bad value. The rows are written atomically.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rewardlab.options import check, option
from rewardlab.verbs.pools import PoolSpec, Progress


def _sft_methods() -> list[str]:
    from rewardlab.verbs.names import registry

    return registry("sft method").names()


def _pair_methods() -> list[str]:
    from rewardlab.verbs.names import registry

    return registry("pairs method").names()


def _elsewhere(own: str, other: str, command: str) -> Any:
    """A ``--method`` parser: a name of the other family says which command takes it."""

    def parse(name: str) -> str:
        from rewardlab.verbs.names import registry

        if name not in registry(own) and name in registry(other):
            raise ValueError(f"{name!r} belongs to `{command}`")
        return name

    return parse


@dataclass(frozen=True, kw_only=True)
class BuildSpec(PoolSpec):
    """What every build reads: the pool and its source, the output, the method's options."""

    out: Path = option(help="JSONL file to write.")
    options: Mapping[str, Any] = option(default_factory=dict, cli=False,
                                        help="The method's options that were set.")
    method: str = ""

    KIND = ""
    """The registry of the methods (``sft method``, ``pairs method``)."""


@dataclass(frozen=True, kw_only=True)
class SftSpec(BuildSpec):
    """``build sft``."""

    method: str = option("top1", "{sft_methods}", choices=_sft_methods, kind="sft method",
                         parse=_elsewhere("sft method", "pairs method", "rewardlab build pairs"))

    KIND = "sft method"


@dataclass(frozen=True, kw_only=True)
class PairsSpec(BuildSpec):
    """``build pairs``."""

    method: str = option("best-worst", "{pair_methods}", choices=_pair_methods,
                         kind="pairs method",
                         parse=_elsewhere("pairs method", "sft method", "rewardlab build sft"))

    KIND = "pairs method"


@dataclass
class BuildResult:
    """The rows written, how many were left out, the method's statistics and the file."""

    rows: list[dict[str, Any]]
    skipped: int
    stats: dict[str, float]
    out: Path


def method_options(spec: BuildSpec) -> Any:
    """The chosen method's options (see the module doc); :class:`OptionError` on one the
    method does not read."""
    from rewardlab.optimize.methods import PAIR_OPTIONS, SFT_OPTIONS, method_options
    from rewardlab.verbs.names import check_choice, registry

    check_choice(spec.KIND, spec.method, "--method")
    family = SFT_OPTIONS if spec.KIND == "sft method" else PAIR_OPTIONS
    return method_options(registry(spec.KIND), spec.method, spec.options, family)


def check_spec(spec: BuildSpec) -> Any:
    """Validate ``spec`` before the pool is read; returns the method's options."""
    from rewardlab.verbs.outputs import check_out_file
    from rewardlab.verbs.pools import check_source

    check(spec)
    options = method_options(spec)
    check_source(spec)
    check_out_file(spec.out)
    return options


def build(spec: BuildSpec, progress: Progress | None = None) -> BuildResult:
    """Check ``spec``, score the pool, build the rows and write them."""
    from rewardlab.data.io import write_jsonl
    from rewardlab.optimize.pool import GoldReading
    from rewardlab.verbs.names import registry
    from rewardlab.verbs.pools import score_pool

    options = check_spec(spec)
    gold = options.gold_column if isinstance(options, GoldReading) else None
    pools = score_pool(spec, gold, progress)
    built = registry(spec.KIND).get(spec.method).build(pools, options)
    write_jsonl(spec.out, built.rows)
    return BuildResult(built.rows, built.skipped, built.stats, Path(spec.out))
