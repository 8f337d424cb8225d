"""The dataset-building methods by name: SFT rows and preference pairs from scored pools.

``SFT_METHODS`` (``rewardlab build sft --method``): rejection sampling
``top1`` (RAFT), ``topk``, ``quantile`` and ``sample`` (a softmax choice,
Bradley–Terry), :mod:`rewardlab.optimize.rejection`; conditional-training
``tags`` (Korbak et al. 2023) and PF-PPO ``filtration`` (Zhang et al. 2024),
:mod:`rewardlab.optimize.pairs`. ``PAIR_METHODS`` (``rewardlab build pairs
--method``): ``best-worst``, ``best-random``, ``reward-augmented`` (Zhang et
al. 2024) and SPO ``degrees`` (Li et al. 2024).

Each entry is a :class:`BuildMethod`: the function ``(pools, options) -> Built``
and the options dataclass it reads, declared beside the formula. A new method
is one function, one options class and one ``add`` line here; the command's
flags, and the refusal of an option the chosen method does not declare
(:func:`method_options`), follow from the declaration.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rewardlab.optimize.pairs import (
    BestRandomOptions,
    BestWorstOptions,
    Built,
    DegreesOptions,
    FiltrationOptions,
    RewardAugmentedOptions,
    TagsOptions,
    best_vs_worst,
    conditional_tags,
    policy_filtration,
    preference_degrees,
    reward_augmented,
)
from rewardlab.optimize.pool import PromptPool
from rewardlab.optimize.rejection import (
    QuantileOptions,
    RejectionConfig,
    SampleOptions,
    Top1Options,
    TopkOptions,
    rejection_sample,
)
from rewardlab.options import OptionError, check, declared, flag_of, option_fields, union
from rewardlab.registry import Registry


@dataclass(frozen=True)
class BuildMethod:
    """A dataset-building method: ``build(pools, options)`` and its options dataclass."""

    build: Callable[[Sequence[PromptPool], Any], Built]
    options: type


SFT_METHODS: Registry[BuildMethod] = Registry("sft method")
PAIR_METHODS: Registry[BuildMethod] = Registry("pairs method")


def _rejection(method: str) -> Callable[[Sequence[PromptPool], Any], Built]:
    def build(pools: Sequence[PromptPool], options: Any) -> Built:
        config = RejectionConfig(method=method, **dataclasses.asdict(options))
        return Built(rejection_sample(pools, config))

    return build


for _method, _options in (("top1", Top1Options), ("topk", TopkOptions),
                          ("quantile", QuantileOptions), ("sample", SampleOptions)):
    SFT_METHODS.add(_method, BuildMethod(_rejection(_method), _options))
SFT_METHODS.add("tags", BuildMethod(
    lambda pools, o: conditional_tags(pools, threshold=o.threshold, quantile=o.quantile),
    TagsOptions))
SFT_METHODS.add("filtration", BuildMethod(
    lambda pools, o: policy_filtration(pools, strategy=o.strategy, seed=o.seed),
    FiltrationOptions))
PAIR_METHODS.add("best-worst", BuildMethod(
    lambda pools, o: best_vs_worst(pools, rejected="worst"), BestWorstOptions))
PAIR_METHODS.add("best-random", BuildMethod(
    lambda pools, o: best_vs_worst(pools, rejected="random", seed=o.seed), BestRandomOptions))
PAIR_METHODS.add("reward-augmented", BuildMethod(
    lambda pools, o: reward_augmented(pools, template=o.template), RewardAugmentedOptions))
PAIR_METHODS.add("degrees", BuildMethod(
    lambda pools, o: preference_degrees(pools, pairs_per_prompt=o.pairs_per_prompt),
    DegreesOptions))


def _flag(cls: type, name: str) -> str:
    return next(flag_of(f) for f in option_fields(cls) if f.name == name)


def method_options(registry: Registry[BuildMethod], method: str,
                   given: Mapping[str, Any], family: type) -> Any:
    """The options of ``method`` from the ``given`` ones (field name → value), its defaults
    filling the rest. An option it does not declare, or one that the values given leave
    unread (``unread()``: ``--quantile`` beside ``--threshold`` for ``tags``), is an
    :class:`~rewardlab.options.OptionError` naming the flag (``family``: the union of the
    methods' options, for the flags and for names no method declares)."""
    entry = registry.get(method)
    reads = declared(entry.options)
    known = declared(family)
    for name in given:
        if name not in known:
            raise OptionError(f"unknown {registry.kind} option {name!r} (known: "
                              f"{', '.join(sorted(known))})")
    unread = [name for name in given if name not in reads]
    if unread:
        def users(name: str) -> str:
            found = [m for m in registry.names() if name in declared(registry.get(m).options)]
            return f"read by: {', '.join(found)}"

        first, *others = unread
        more = "".join(f"; neither is {_flag(family, name)} ({users(name)})" for name in others)
        raise OptionError(f"{_flag(family, first)}: not read by --method {method} "
                          f"({users(first)}){more}; leave {'them' if others else 'it'} out")
    options = check(entry.options(**given))
    unread = getattr(options, "unread", dict)()
    for name, why in unread.items():
        if name in given:
            raise OptionError(f"{_flag(family, name)}: not read by --method {method} when "
                              f"{why}; leave it out")
    return options


SFT_OPTIONS = union("SftMethodOptions", [SFT_METHODS.get(m).options for m in SFT_METHODS])
"""Every option of the SFT methods, once (``rewardlab build sft``'s method flags)."""
PAIR_OPTIONS = union("PairMethodOptions",
                        [PAIR_METHODS.get(m).options for m in PAIR_METHODS])
"""Every option of the pair methods, once (``rewardlab build pairs``'s method flags)."""
