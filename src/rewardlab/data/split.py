"""Prompt-level splits: every record of a prompt lands in the same split.

Splitting records at random lets the same prompt appear in train and test
(AlpacaEval gives 8 pairs per instruction), which inflates test accuracy.
Here records are grouped by ``key(record)``: the prompt string, or
``meta["instruction_id"]`` where a loader set one. The groups, in order of
first appearance, are shuffled by ``seed`` and each is assigned in turn to the
split with the largest deficit

    deficit_k = fractions_k · N − size_k     (N = number of records),

ties going to the earlier split. A split only receives a group while it is
short of its target, so with two splits each size is within one group of
``fractions_k · N``.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence

import numpy as np

from rewardlab.data.record import Comparison


def prompt_key(record: Comparison) -> Hashable:
    """``("instruction_id", id)`` when the record has one, else ``("prompt", prompt)``."""
    if "instruction_id" in record.meta:
        return ("instruction_id", record.meta["instruction_id"])
    return ("prompt", record.prompt)


def split_by_prompt(
    records: Sequence[Comparison],
    fractions: Sequence[float] = (0.8, 0.2),
    seed: int = 0,
    key: Callable[[Comparison], Hashable] = prompt_key,
) -> list[list[Comparison]]:
    """Split ``records`` into ``len(fractions)`` lists with no group in two of them.

    Records keep their input order inside each split.
    """
    shares = np.asarray(fractions, dtype=np.float64)
    if shares.ndim != 1 or len(shares) < 1 or np.any(shares < 0) or not np.isclose(shares.sum(), 1):
        raise ValueError(f"fractions must be non-negative and sum to 1, got {tuple(fractions)}")
    groups: dict[Hashable, list[int]] = {}
    for index, record in enumerate(records):
        groups.setdefault(key(record), []).append(index)
    members = list(groups.values())
    order = np.random.default_rng(seed).permutation(len(members))
    targets = shares * len(records)
    sizes = np.zeros(len(shares))
    assignment = np.empty(len(records), dtype=np.int64)
    for g in order:
        k = int(np.argmax(targets - sizes))
        assignment[members[g]] = k
        sizes[k] += len(members[g])
    return [
        [r for r, a in zip(records, assignment, strict=True) if a == k] for k in range(len(shares))
    ]
