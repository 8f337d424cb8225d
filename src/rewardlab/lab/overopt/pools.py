"""Data of the gold-vs-proxy experiment: proxy training pairs and a held-out candidate pool.

Both sources give the same three things, with prompts split three ways so the
proxy never sees a test prompt or any test gold:

- ``train``: labelled pairs from the training prompts, shuffled once by the
  seed; a proxy of size m trains on the first m (nested subsets, so data
  scaling changes only the amount of data);
- ``val``: labelled pairs from separate validation prompts (early stopping);
- ``test``: every candidate of every test prompt, with its gold score and
  per-candidate attributes, the pool best-of-n draws from.

Label noise (Gao et al. 2023, §3; Coste et al. 2024, §4.1) flips each pair's
label independently with probability ε (:func:`flip_labels`). The uniforms
are drawn once per seed, so the pairs flipped at ε = 0.1 are a subset of those
flipped at ε = 0.25.

Sources:

- ``synthetic`` (:mod:`rewardlab.data.synthetic`): gold G is known exactly;
  training pairs are labelled by Bradley–Terry on G (β = 1) before the flip;
  each test prompt gets ``pool_size`` fresh candidates from the base
  distribution (``sample_candidates``), so n can go to 1,000 and beyond;
- ``alpaca-eval`` (:func:`rewardlab.data.formats.load_alpaca_eval_pool`):
  805 instructions × 55–57 real outputs; gold = the GPT-4-turbo judge's
  preference in [1, 2]; training pairs are the loader's judge-labelled pairs
  (``load_comparisons``) of the training instructions. Instructions are split
  by id.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from rewardlab.data.fingerprint import fingerprint
from rewardlab.data.record import Comparison
from rewardlab.data.synthetic import Arena, ArenaConfig, generate_arena, preference_pairs
from rewardlab.data.synthetic.arena import sample_candidates
from rewardlab.options import option

ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class SyntheticPoolConfig:
    """Sizes of the synthetic arena used by the lab: its prompts (split into train / val
    / test), the test prompts whose pools best-of-n draws from, the validation prompts
    whose pairs drive early stopping, the candidates per training prompt that pairs are
    drawn from, the candidates per test prompt (the largest n), the validation pairs, and
    the arena's ρ (how much more correct answers explain)."""

    n_prompts: int = option(1200, "Synthetic arena: prompts (train + val + test).", min=1)
    test_prompts: int = option(64, "Synthetic arena: test prompts.", min=1)
    val_prompts: int = option(100, "Synthetic arena: validation prompts.", min=1)
    candidates_per_prompt: int = option(8, "Synthetic arena: candidates per training prompt.",
                                        min=2, cli=False)
    pool_size: int = option(1024, "Synthetic arena: candidates per test prompt (>= 2).", min=2)
    n_val_pairs: int = option(500, "Synthetic arena: validation pairs.", min=1, cli=False)
    length_correlation: float = option(
        0.8, "Synthetic arena: ρ, how much more correct answers explain.", min=-1.0, max=1.0)


@dataclass
class CandidatePool:
    """Flat test candidates: one entry per (prompt, response) with gold and attributes;
    ``logprob`` is the generator's log-probability of each response, when known (the
    base policy π₀ of the KL-regularized optimizers; uniform over the pool without it)."""

    prompts: list[str]
    responses: list[str]
    gold: np.ndarray
    attributes: dict[str, np.ndarray] = field(default_factory=dict)
    logprob: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.responses)

    def pool_sizes(self) -> list[int]:
        """Candidates per prompt, in order of first appearance."""
        counts: dict[str, int] = {}
        for prompt in self.prompts:
            counts[prompt] = counts.get(prompt, 0) + 1
        return list(counts.values())

    def fingerprint(self) -> str:
        """First 16 hex characters of sha256 over (prompt, response, gold) lines."""
        digest = hashlib.sha256()
        for prompt, response, gold in zip(self.prompts, self.responses, self.gold, strict=True):
            digest.update(f"{prompt}\x1f{response}\x1f{gold:.6f}\n".encode())
        return digest.hexdigest()[:16]


@dataclass
class LabData:
    """Everything a run needs from a source; ``info`` describes the split for the JSON."""

    source: str
    train: list[Comparison]
    val: list[Comparison]
    test: CandidatePool
    info: dict[str, Any]


def flip_labels(records: Sequence[Comparison], rate: float, seed: int) -> list[Comparison]:
    """Each pair's ranking reversed with probability ``rate`` (one uniform per record)."""
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"field 'noise': expected a rate in [0, 1], got {rate!r}")
    flips = np.random.default_rng(seed).random(len(records)) < rate
    return [
        replace(record, ranking=tuple(reversed(record.ranking))) if flip else record
        for record, flip in zip(records, flips.tolist(), strict=True)
    ]


def words(responses: Sequence[str]) -> np.ndarray:
    """Whitespace word count of each response."""
    return np.array([len(r.split()) for r in responses], dtype=np.float64)


def three_way_split(n: int, n_test: int, n_val: int, seed: int) -> tuple[list, list, list]:
    """Indices 0..n−1 permuted by ``seed``: (train, val, test), each sorted."""
    if n_test < 1 or n_val < 0 or n_test + n_val >= n:
        raise ValueError(
            f"field 'test_prompts': {n_test} test + {n_val} validation prompts leave no "
            f"training prompts out of {n}"
        )
    order = np.random.default_rng([seed, 1]).permutation(n)
    test, val, train = order[:n_test], order[n_test : n_test + n_val], order[n_test + n_val :]
    return sorted(train.tolist()), sorted(val.tolist()), sorted(test.tolist())


def _sub_arena(arena: Arena, indices: Sequence[int]) -> Arena:
    return Arena(
        arena.config,
        [arena.items[i] for i in indices],
        [arena.candidates[i] for i in indices],
        arena.facts,
    )


def synthetic_data(
    config: SyntheticPoolConfig,
    n_train_pairs: int,
    seed: int,
    progress: ProgressCallback | None = None,
) -> LabData:
    """The synthetic arena split by prompt, ``n_train_pairs`` clean training pairs and
    a fresh pool of ``pool_size`` candidates per test prompt."""
    arena = generate_arena(
        ArenaConfig(
            n_prompts=config.n_prompts,
            candidates_per_prompt=config.candidates_per_prompt,
            length_correlation=config.length_correlation,
            seed=seed,
        )
    )
    train_ids, val_ids, test_ids = three_way_split(
        config.n_prompts, config.test_prompts, config.val_prompts, seed
    )
    train = preference_pairs(_sub_arena(arena, train_ids), n_train_pairs, 0.0, seed=seed)
    val = (
        preference_pairs(_sub_arena(arena, val_ids), config.n_val_pairs, 0.0, seed=seed + 1)
        if val_ids and config.n_val_pairs
        else []
    )
    rng = np.random.default_rng([seed, 2])
    prompts: list[str] = []
    responses: list[str] = []
    gold: list[float] = []
    attributes: dict[str, list[int]] = {}
    for done, index in enumerate(test_ids, 1):
        for candidate in sample_candidates(arena, index, config.pool_size, rng):
            prompts.append(arena.items[index].text)
            responses.append(candidate.text)
            gold.append(candidate.gold)
            for name, value in candidate.attributes.items():
                attributes.setdefault(name, []).append(int(value))
        if progress is not None:
            progress(done, len(test_ids))
    test = CandidatePool(
        prompts,
        responses,
        np.array(gold),
        {"words": words(responses), **{k: np.array(v, float) for k, v in attributes.items()}},
    )
    info = {
        "source": "synthetic",
        "arena": {**config.__dict__, "seed": seed},
        "train_prompts": len(train_ids),
        "val_prompts": len(val_ids),
        "test_prompts": len(test_ids),
        "test_candidates": len(test),
        "available_train_pairs": len(train),
    }
    return LabData("synthetic", train, val, test, info)


def alpaca_eval_data(
    folder: str | Path,
    test_fraction: float,
    val_fraction: float,
    seed: int,
    max_test_prompts: int | None = None,
) -> LabData:
    """AlpacaEval split by instruction id; all judge-labelled pairs of the training
    instructions (shuffled by ``seed``), the validation instructions' pairs, and
    every candidate of the test instructions (the first ``max_test_prompts`` of
    them when given)."""
    from rewardlab.data.formats import load_alpaca_eval_pool
    from rewardlab.data.load import load_comparisons

    if not 0.0 < test_fraction < 1.0 or not 0.0 <= val_fraction < 1.0:
        raise ValueError(
            f"field 'test_fraction'/'val_fraction': need 0 < test < 1 and 0 <= val < 1, "
            f"got {test_fraction}, {val_fraction}"
        )
    rows = load_alpaca_eval_pool(folder)
    ids = list(dict.fromkeys(row["instruction_id"] for row in rows))
    n_test = round(test_fraction * len(ids))
    train_idx, val_idx, test_idx = three_way_split(
        len(ids), n_test, round(val_fraction * len(ids)), seed
    )
    if max_test_prompts is not None:
        test_idx = test_idx[:max_test_prompts]
    train_ids = {ids[i] for i in train_idx}
    val_ids = {ids[i] for i in val_idx}
    test_ids = {ids[i] for i in test_idx}
    pairs = load_comparisons(folder, "alpaca-eval", seed=seed).records
    train = [p for p in pairs if p.meta["instruction_id"] in train_ids]
    train = [train[i] for i in np.random.default_rng([seed, 3]).permutation(len(train))]
    val = [p for p in pairs if p.meta["instruction_id"] in val_ids]
    test_rows = [row for row in rows if row["instruction_id"] in test_ids]
    responses = [row["response"] for row in test_rows]
    test = CandidatePool(
        [row["prompt"] for row in test_rows],
        responses,
        np.array([row["gold"] for row in test_rows], dtype=np.float64),
        {"words": words(responses)},
    )
    info = {
        "source": "alpaca-eval",
        "folder": str(folder),
        "train_prompts": len(train_ids),
        "val_prompts": len(val_ids),
        "test_prompts": len(test_ids),
        "test_candidates": len(test),
        "available_train_pairs": len(train),
        "val_pairs": len(val),
        "pairs_fingerprint": fingerprint(pairs),
    }
    return LabData("alpaca-eval", train, val, test, info)
