"""What ``lab overopt`` runs (:class:`OveroptConfig`) and what each of its components reads.

The fields are the options of ``rewardlab lab overopt`` (its flags are made from
them, :mod:`rewardlab.cli.flags`); this module imports no torch, so the CLI reads
it to build them. Components declare what they read: each pool source
(:data:`POOL_READS`) and each optimizer (:data:`OPTIMIZER_READS`) names the
config fields it uses; a field set away from its default that no chosen
component reads is refused (:func:`check_config`), never silently dropped.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from rewardlab.lab.overopt.pools import SyntheticPoolConfig
from rewardlab.lab.overopt.rl_curves import OPTIMIZERS, RLConfig
from rewardlab.models.training.config import SEED_MAX, LoopOptions, TrainConfig
from rewardlab.options import (
    OptionError,
    choice_list,
    comma_list,
    flag_of,
    json_object,
    json_text,
    list_text,
    option,
    redefault,
    refuse_unread,
)
from rewardlab.robust.aggregate import AGGREGATIONS, check_params

SOURCES = ("synthetic", "alpaca-eval")
FILE = "file"
PROXY_SIZES = {"synthetic": (1000, 4000), "alpaca-eval": (500, 2000, 4000), FILE: (500,)}
"""Training pairs per proxy when ``proxy_sizes`` is not given, by pool source."""
MAX_FLIP = 0.5
"""A label-flip rate above 1/2 inverts the preferences."""

POOL_READS: dict[str, tuple[str, ...]] = {
    "synthetic": ("synthetic",),
    "alpaca-eval": ("data", "max_test_prompts", "test_fraction", "val_fraction"),
    FILE: ("max_test_prompts", "test_fraction", "val_fraction"),
}
"""The config fields each pool source reads (``file``: a candidate file)."""
OPTIMIZER_READS: dict[str, tuple[str, ...]] = {
    "bon": ("ns",),
    "kl": ("ns", "rl.beta_high", "rl.beta_low", "rl.n_betas", "rl.kl_points"),
    "pg": ("rl.pg", "rl.kl_points"),
}
"""The config fields each optimizer reads (``kl`` compares exact best-of-n at ``ns``)."""


def pool_kind(pool: str) -> str:
    """The key of :data:`POOL_READS` for a ``pool`` value (a path is a candidate file)."""
    return pool if pool in SOURCES else FILE


def _pool(text: str) -> str:
    if text not in SOURCES and not Path(text).is_file():
        from rewardlab.data.io import not_a_file

        raise ValueError(f"expected {' or '.join(SOURCES)} or an existing candidate file, got "
                         f"{text!r}: {not_a_file(Path(text))}")
    return text


_optimizers = choice_list(lambda: OPTIMIZERS, "optimizer")
_aggregates = choice_list(lambda: AGGREGATIONS.names(), "aggregation", required=False)


def _backbones(text: str) -> tuple[str, ...]:
    from rewardlab.features.backbones import frozen_spec

    names = comma_list(str)(text)
    for name in names:
        frozen_spec(name)
    return names


@dataclass
class OveroptConfig:
    """What :func:`~rewardlab.lab.overopt.run_overopt` runs; the defaults are the measured
    synthetic setting. Each field's help says what it is; ``synthetic`` holds the arena's
    sizes, ``rl`` the ``kl`` and ``pg`` optimizers' settings, the head-training fields
    (``epochs`` … ``patience``) those of every proxy."""

    pool: str = option("synthetic", "synthetic | alpaca-eval | FILE (prompt, response, gold, "
                       "[logprob] rows).", parse=_pool)
    data: str | None = option(None, "alpaca-eval: the AlpacaEval folder.")
    proxy_sizes: tuple[int, ...] | None = option(
        None, "Training pairs per proxy, a comma list (default 1000,4000 synthetic, "
        "500,2000,4000 alpaca-eval, 500 a file).", parse=comma_list(int, 1),
        format=list_text)
    noises: tuple[float, ...] = option(
        (0.25,), "Label-flip rates in [0, 0.5], a comma list (e.g. 0,0.25).", flag="--label-noise",
        parse=comma_list(float, 0.0, MAX_FLIP), format=list_text)
    ensemble: int = option(5, "Members K per proxy.", min=1)
    aggregates: tuple[str, ...] = option(
        ("mean", "wco", "uwo"), "Ensemble readings to compare, a comma list of "
        "{aggregations} (each is its own proxy here; elsewhere --aggregate reduces one "
        "ensemble).", flag="--aggregate", parse=_aggregates, format=list_text)
    aggregate_params: dict[str, Any] = option(
        default_factory=dict, help="Parameters of the readings as JSON, by aggregation, e.g. "
        "'{\"uwo\": {\"lam\": 1.0}}' (default: each aggregation's own).",
        parse=json_object, format=json_text, metavar="JSON")
    backbones: tuple[str, ...] = option(
        ("hashing",), "Proxy backbones to compare, a comma list (e.g. hashing,encoder).",
        flag="--backbone", parse=_backbones, format=list_text)
    ns: tuple[int, ...] = option(
        (), "bon, kl: best-of-n sizes, a comma list (default 1,2,4,… up to the pool).",
        flag="--n", parse=comma_list(int, 1, required=False), format=list_text)
    optimizers: tuple[str, ...] = option(
        ("bon",), "bon | kl | pg, or a comma list (e.g. bon,kl,pg).", flag="--optimizer",
        parse=_optimizers, format=list_text)
    rl: RLConfig = option(default_factory=RLConfig, help="kl and pg settings.", cli=False)
    seed: int = option(0, "Seed of every draw (split, pairs, noise, pool, training, pg).",
                       min=0, max=SEED_MAX)
    synthetic: SyntheticPoolConfig = option(default_factory=SyntheticPoolConfig,
                                            help="synthetic: the arena's sizes.", cli=False)
    test_fraction: float = option(0.2, "alpaca-eval, file: share of prompts held out for "
                                  "the test pool.", min=0.0, max=0.99, cli=False)
    val_fraction: float = option(0.1, "alpaca-eval, file: share of prompts for early "
                                 "stopping.", min=0.0, max=0.99, cli=False)
    max_test_prompts: int | None = option(None, "alpaca-eval, file: cap on test prompts.",
                                          min=1)
    epochs: int = redefault(LoopOptions, "epochs", LoopOptions.epochs, cli=False)
    lr: float = redefault(LoopOptions, "lr", LoopOptions.lr, cli=False)
    batch_size: int = redefault(LoopOptions, "batch_size", LoopOptions.batch_size, cli=False)
    weight_decay: float = redefault(LoopOptions, "weight_decay", LoopOptions.weight_decay,
                                    cli=False)
    patience: int = redefault(LoopOptions, "patience", 2, cli=False)

    def __post_init__(self) -> None:
        if self.proxy_sizes is None:
            self.proxy_sizes = PROXY_SIZES[pool_kind(self.pool)]
        check_config(self)

    def train_config(self) -> TrainConfig:
        """The proxies' head training."""
        return TrainConfig(n_members=self.ensemble, epochs=self.epochs, lr=self.lr,
                           batch_size=self.batch_size, weight_decay=self.weight_decay,
                           patience=self.patience, seed=self.seed)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _named(name: str, text: str, parse: Any) -> None:
    """``parse`` (a field's command-line parser) applied to a library value, its
    ``ValueError`` an :class:`OptionError` naming the field's flag."""
    try:
        parse(text)
    except ValueError as err:
        raise OptionError(f"{_flag(name)}: {err}") from None


def _flag(name: str) -> str:
    return next(flag_of(f) for f in fields(OveroptConfig) if f.name == name)


def check_config(config: OveroptConfig) -> None:
    """Every value, name and combination of ``config``, and what its components read: an
    :class:`~rewardlab.options.OptionError` naming the flag, before anything is read."""
    _named("pool", config.pool, _pool)
    _named("optimizers", ",".join(config.optimizers), _optimizers)
    _named("aggregates", ",".join(config.aggregates) or ",", _aggregates)
    _named("backbones", ",".join(config.backbones), _backbones)
    if config.pool == "alpaca-eval" and not config.data:
        raise OptionError("--data: the alpaca-eval pool needs the AlpacaEval folder")
    for name, low, high in (("proxy_sizes", 1, math.inf), ("noises", 0.0, MAX_FLIP),
                            ("ns", 1, math.inf)):
        values = getattr(config, name)
        if any(not (math.isfinite(v) and low <= v <= high) for v in values):
            raise OptionError(f"{_flag(name)}: expected values in [{low:g}, {high:g}], got "
                              f"{values}")
        if name != "ns" and not values:
            raise OptionError(f"{_flag(name)}: give at least one")
    if config.ns and (sorted(set(config.ns)) != list(config.ns) or config.ns[0] != 1):
        raise OptionError(f"--n: expected increasing values starting at 1, got {config.ns}")
    if config.aggregates and config.ensemble < 2:
        raise OptionError(f"--aggregate: aggregating {', '.join(config.aggregates)} needs "
                          f"--ensemble >= 2, got {config.ensemble}")
    for name, params in config.aggregate_params.items():
        if name not in config.aggregates:
            raise OptionError(f"--aggregate-params: {name!r} is not a reading compared here "
                              f"(--aggregate {','.join(config.aggregates)})")
        if not isinstance(params, dict):
            raise OptionError(f"--aggregate-params: {name!r} must map to a JSON object, got "
                              f"{params!r}")
        check_params(name, params)
    refuse_unread(config, POOL_READS, [pool_kind(config.pool)], f"--pool {config.pool}")
    refuse_unread(config, OPTIMIZER_READS, config.optimizers,
                  f"--optimizer {','.join(config.optimizers)}")
