"""The dataset-building methods by name: SFT rows and preference pairs from scored pools.

``SFT_METHODS`` (``rewardlab build sft --method``): rejection sampling
``top1`` (RAFT), ``topk``, ``quantile`` and ``sample`` (a softmax choice,
Bradley–Terry), :mod:`rewardlab.optimize.rejection`; conditional-training
``tags`` (Korbak et al. 2023) and PF-PPO ``filtration`` (Zhang et al. 2024),
:mod:`rewardlab.optimize.pairs`. ``PAIR_METHODS`` (``rewardlab build pairs
--method``): ``best-worst``, ``best-random``, ``reward-augmented`` (Zhang et
al. 2024) and SPO ``degrees`` (Li et al. 2024). Each method is a
:data:`Builder`, ``(pools, options) -> Built``, reading the fields of
:class:`BuildOptions` it needs; a new method is one function and one
``add`` line here, plus its entry in :data:`READS`: :func:`check_options` refuses,
before the pool is scored, an option the method would ignore and a bad value.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields

from rewardlab.optimize.pairs import (
    FILTRATION_STRATEGIES,
    Built,
    best_vs_worst,
    check_template,
    conditional_tags,
    policy_filtration,
    preference_degrees,
    reward_augmented,
)
from rewardlab.optimize.pool import PromptPool
from rewardlab.optimize.rejection import RejectionConfig, rejection_sample
from rewardlab.registry import Registry


@dataclass(frozen=True)
class BuildOptions:
    """The knobs the build methods share (each method reads the ones it needs)."""

    k: int = 4
    quantile: float = 0.9
    threshold: float | None = None
    temperature: float = 1.0
    strategy: str = "best-worst"
    pairs_per_prompt: int = 3
    template: str = "Generate a response of score {score}:\n\n{prompt}"
    conversational: bool = False
    seed: int = 0


Builder = Callable[[Sequence[PromptPool], BuildOptions], Built]
SFT_METHODS: Registry[Builder] = Registry("sft method")
PAIR_METHODS: Registry[Builder] = Registry("pairs method")


def _rejection(method: str) -> Builder:
    def build(pools: Sequence[PromptPool], opts: BuildOptions) -> Built:
        config = RejectionConfig(
            method=method,
            k=opts.k,
            quantile=opts.quantile,
            temperature=opts.temperature,
            conversational=opts.conversational,
            seed=opts.seed,
        )
        return Built(rejection_sample(pools, config))

    return build


for _method in ("top1", "topk", "quantile", "sample"):
    SFT_METHODS.add(_method, _rejection(_method))
SFT_METHODS.add(
    "tags",
    lambda pools, o: conditional_tags(pools, threshold=o.threshold, quantile=o.quantile),
)
SFT_METHODS.add(
    "filtration",
    lambda pools, o: policy_filtration(pools, strategy=o.strategy, seed=o.seed),
)
PAIR_METHODS.add("best-worst", lambda pools, o: best_vs_worst(pools, rejected="worst", seed=o.seed))
PAIR_METHODS.add(
    "best-random", lambda pools, o: best_vs_worst(pools, rejected="random", seed=o.seed)
)
PAIR_METHODS.add(
    "reward-augmented",
    lambda pools, o: reward_augmented(pools, template=o.template, seed=o.seed),
)
PAIR_METHODS.add(
    "degrees", lambda pools, o: preference_degrees(pools, pairs_per_prompt=o.pairs_per_prompt)
)

READS: dict[str, tuple[str, ...]] = {
    "top1": ("conversational",),
    "topk": ("k", "conversational"),
    "quantile": ("quantile", "conversational"),
    "sample": ("temperature", "conversational"),
    "tags": ("threshold", "quantile"),
    "filtration": ("strategy",),
    "best-worst": (),
    "best-random": (),
    "reward-augmented": ("template",),
    "degrees": ("pairs_per_prompt",),
}
"""The :class:`BuildOptions` fields each method reads (``seed`` aside: harmless anywhere)."""


def check_options(method: str, opts: BuildOptions) -> None:
    """``ValueError`` naming the option (``--k``) when ``method`` ignores a field of ``opts``
    set away from its default, or a field it reads has a bad value."""
    defaults = BuildOptions()
    reads = READS[method]
    for field in fields(BuildOptions):
        name = field.name
        if name != "seed" and name not in reads and getattr(opts, name) != getattr(defaults, name):
            flag = "--" + name.replace("_", "-")
            used = [m for m, r in READS.items() if name in r]
            raise ValueError(f"{flag} has no effect with --method {method} (used by: "
                             f"{', '.join(used)}); leave it out")
    if method == "sample" and not opts.temperature > 0:
        raise ValueError(f"--temperature: must be > 0, got {opts.temperature}")
    if method == "filtration" and opts.strategy not in FILTRATION_STRATEGIES:
        raise ValueError(f"--strategy: {opts.strategy!r} is not one of "
                         f"{', '.join(FILTRATION_STRATEGIES)}")
    if method == "reward-augmented":
        try:
            check_template(opts.template)
        except ValueError as err:
            raise ValueError(str(err).replace("field 'template'", "--template", 1)) from None
