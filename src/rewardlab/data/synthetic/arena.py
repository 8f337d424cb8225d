"""The synthetic arena: prompts, candidate pools and noisy preference pairs with a known gold.

``generate_arena`` draws a fact table, ``n_prompts`` distinct prompts (the
kinds in equal shares, shuffled) and ``candidates_per_prompt`` candidates per
prompt from the base distribution of ``responses``; every candidate carries
its gold reward G. ``sample_candidates`` draws more candidates for a prompt,
so best-of-n pools can be as large as wanted.

``preference_pairs`` labels two candidates a, b of one prompt with the
Bradley–Terry model (Bradley & Terry, "Rank Analysis of Incomplete Block
Designs", 1952),

    P(a ≻ b) = σ(β·(G_a − G_b)),

then flips the label with probability ε = ``label_noise``, the synthetic
label-noise setup of Gao et al. (2023) and Coste et al., "Reward Model
Ensembles Help Mitigate Overoptimization" (ICLR 2024). A proxy reward model
trained on these pairs can then be over-optimized against G.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

import numpy as np
from scipy.special import expit

from rewardlab.data.record import Comparison
from rewardlab.data.synthetic.responses import Candidate, sample_responses
from rewardlab.data.synthetic.tasks import TASKS, PromptItem
from rewardlab.data.synthetic.world import Fact, make_facts
from rewardlab.registry import UnknownNameError

_MAX_DRAWS = 20  # draws per prompt before a repeated prompt text is accepted


@dataclass(frozen=True)
class ArenaConfig:
    """What ``generate_arena`` builds.

    Attributes:
        n_prompts: number of prompts.
        candidates_per_prompt: candidates drawn per prompt.
        length_correlation: ρ in [0, 1]; how much more correct responses explain
            (0: length independent of correctness).
        kinds: prompt kinds, in equal shares: "arithmetic", "factual",
            "refusal", "format".
        seed: seed of every random draw.
    """

    n_prompts: int = 400
    candidates_per_prompt: int = 8
    length_correlation: float = 0.5
    kinds: tuple[str, ...] = ("arithmetic", "factual", "refusal", "format")
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("n_prompts", "candidates_per_prompt"):
            value = getattr(self, name)
            if not isinstance(value, Integral) or isinstance(value, bool) or value < 1:
                raise ValueError(f"field {name!r}: expected a positive integer, got {value!r}")
        rho = self.length_correlation
        if not isinstance(rho, Real) or not 0.0 <= rho <= 1.0:
            raise ValueError(
                f"field 'length_correlation': expected a number in [0, 1], got {rho!r}"
            )
        if isinstance(self.kinds, str) or not self.kinds:
            raise ValueError(
                f"field 'kinds': expected a non-empty tuple of kinds, got {self.kinds!r}"
            )
        object.__setattr__(self, "kinds", tuple(self.kinds))
        if len(set(self.kinds)) != len(self.kinds):
            raise ValueError(f"field 'kinds': repeated kind in {self.kinds!r}")
        for kind in self.kinds:
            try:
                TASKS.get(kind)
            except UnknownNameError as err:
                raise ValueError(f"field 'kinds': {err}") from None
        if not isinstance(self.seed, Integral):
            raise ValueError(f"field 'seed': expected an integer, got {self.seed!r}")


@dataclass(frozen=True)
class Arena:
    """A generated arena: prompts (as items), their candidates and the fact table."""

    config: ArenaConfig
    items: list[PromptItem]
    candidates: list[list[Candidate]]
    facts: list[Fact]

    @property
    def prompts(self) -> list[str]:
        """The prompt texts, in order."""
        return [item.text for item in self.items]

    def kind_of(self, i: int) -> str:
        """The kind of prompt ``i``."""
        return self.items[i].kind


def generate_arena(
    config: ArenaConfig, progress: Callable[[int, int], None] | None = None
) -> Arena:
    """Build the arena ``config`` describes; ``progress(done, total)`` is called per prompt.

    Prompt texts are distinct while each kind has unused prompts left (after
    ``_MAX_DRAWS`` tries a repeat is kept: refusal prompts number 256 and
    bulleted-list prompts 96, so repeats appear beyond about 1,000 prompts).
    """
    prompt_seed, candidate_seed = np.random.SeedSequence(config.seed).spawn(2)
    rng = np.random.default_rng(prompt_seed)
    facts = make_facts(rng, max(8, math.ceil(config.n_prompts / 4)))
    shares = [config.kinds[i % len(config.kinds)] for i in range(config.n_prompts)]
    items: list[PromptItem] = []
    seen: set[str] = set()
    for j in rng.permutation(config.n_prompts).tolist():
        task = TASKS.get(shares[j])
        for _ in range(_MAX_DRAWS):
            item = task.make(rng, facts)
            if item.text not in seen:
                break
        seen.add(item.text)
        items.append(item)
    candidate_rng = np.random.default_rng(candidate_seed)
    candidates = []
    for i, item in enumerate(items):
        candidates.append(
            sample_responses(
                item, config.candidates_per_prompt, config.length_correlation, candidate_rng
            )
        )
        if progress is not None:
            progress(i + 1, len(items))
    return Arena(config, items, candidates, facts)


def sample_candidates(
    arena: Arena, prompt_index: int, n: int, rng: np.random.Generator
) -> list[Candidate]:
    """``n`` fresh candidates for prompt ``prompt_index``, from the arena's base distribution."""
    if not isinstance(prompt_index, Integral) or not 0 <= prompt_index < len(arena.items):
        raise ValueError(
            f"field 'prompt_index': {prompt_index!r} is not in [0, {len(arena.items)})"
        )
    if not isinstance(n, Integral) or isinstance(n, bool) or n < 1:
        raise ValueError(f"field 'n': expected a positive integer, got {n!r}")
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"field 'rng': expected a numpy Generator, got {type(rng).__name__}")
    item = arena.items[prompt_index]
    return sample_responses(item, int(n), arena.config.length_correlation, rng)


def preference_pairs(
    arena: Arena, n_pairs: int, label_noise: float = 0.1, seed: int = 0, beta: float = 1.0
) -> list[Comparison]:
    """``n_pairs`` labelled pairs of two distinct candidates of a uniformly drawn prompt.

    The label follows Bradley–Terry on the gold rewards, then is flipped with
    probability ``label_noise``. The chosen response is at index 0 with
    ``ranking=(0, 1)``; ``category`` is the prompt kind; ``meta`` holds
    ``gold`` = (gold of chosen, gold of rejected), ``flipped`` (the noise
    flipped the label) and ``prompt_index``.
    """
    if not isinstance(n_pairs, Integral) or isinstance(n_pairs, bool) or n_pairs < 1:
        raise ValueError(f"field 'n_pairs': expected a positive integer, got {n_pairs!r}")
    if not isinstance(label_noise, Real) or not 0.0 <= label_noise <= 1.0:
        raise ValueError(f"field 'label_noise': expected a number in [0, 1], got {label_noise!r}")
    if not isinstance(beta, Real) or not 0.0 <= beta < math.inf:
        raise ValueError(f"field 'beta': expected a finite number >= 0, got {beta!r}")
    sizes = np.array([len(c) for c in arena.candidates])
    if sizes.min() < 2:
        raise ValueError("field 'candidates_per_prompt': pairs need two candidates per prompt")
    rng = np.random.default_rng(seed)
    prompt = rng.integers(0, len(sizes), size=n_pairs)
    first = rng.integers(0, sizes[prompt])
    second = rng.integers(0, sizes[prompt] - 1)
    second += second >= first
    gold = [np.array([c.gold for c in row]) for row in arena.candidates]
    gold_first = np.array([gold[p][a] for p, a in zip(prompt, first, strict=True)])
    gold_second = np.array([gold[p][b] for p, b in zip(prompt, second, strict=True)])
    first_preferred = rng.random(n_pairs) < expit(beta * (gold_first - gold_second))
    flipped = rng.random(n_pairs) < label_noise
    first_chosen = first_preferred ^ flipped

    pairs = []
    for p, a, b, a_wins, flip in zip(
        prompt.tolist(),
        first.tolist(),
        second.tolist(),
        first_chosen.tolist(),
        flipped.tolist(),
        strict=True,
    ):
        chosen, rejected = (a, b) if a_wins else (b, a)
        row = arena.candidates[p]
        meta: dict[str, Any] = {
            "gold": (row[chosen].gold, row[rejected].gold),
            "flipped": flip,
            "prompt_index": p,
        }
        pairs.append(
            Comparison(
                prompt=arena.items[p].text,
                responses=(row[chosen].text, row[rejected].text),
                ranking=(0, 1),
                category=arena.items[p].kind,
                meta=meta,
            )
        )
    return pairs


def pool_records(arena: Arena) -> list[dict[str, Any]]:
    """One ``{prompt, response, gold, kind}`` row per candidate (the best-of-n pool format)."""
    return [
        {"prompt": item.text, "response": c.text, "gold": c.gold, "kind": item.kind}
        for item, row in zip(arena.items, arena.candidates, strict=True)
        for c in row
    ]
