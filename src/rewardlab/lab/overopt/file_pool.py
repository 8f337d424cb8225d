"""A candidate pool from a file, as a lab source (``--pool FILE``).

Rows ``{prompt, response, gold}`` (JSONL, JSON, CSV or Parquet; see
:func:`rewardlab.data.io.read_rows`), optionally with ``logprob``, the
generator's log-probability of the response (the base policy π₀ of the
KL-regularized optimizers). Prompts are split three ways by the seed, as for
AlpacaEval; the proxies train on pairs of two distinct candidates of a
training prompt, ``pairs_per_prompt`` drawn per prompt, the one with the
higher gold chosen (pairs with equal gold are skipped and counted); the test
prompts' candidates, with their gold and log-probabilities, are the pool.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from rewardlab.data.errors import DataError
from rewardlab.data.io import read_rows
from rewardlab.data.record import Comparison
from rewardlab.lab.overopt.pools import CandidatePool, LabData, three_way_split, words


def _value(row: dict[str, Any], name: str, path: str, line: int, number: bool) -> Any:
    value = row.get(name)
    if number:
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(
            value
        ):
            raise DataError(f"expected a finite number, got {value!r}", path=path, line=line,
                            field=name)
        return float(value)
    if not isinstance(value, str):
        raise DataError(f"expected a string, got {value!r}", path=path, line=line, field=name)
    return value


def file_data(
    path: str | Path,
    test_fraction: float,
    val_fraction: float,
    seed: int,
    pairs_per_prompt: int = 8,
    max_test_prompts: int | None = None,
) -> LabData:
    """The file's prompts split by ``seed``; gold-labelled training and validation pairs;
    the test prompts' candidates as the pool."""
    where = str(path)
    rows = list(read_rows(path))
    if not rows:
        raise DataError("the pool is empty", path=where)
    has_logprob = "logprob" in rows[0][1]
    by_prompt: dict[str, list[tuple[str, float, float]]] = {}
    for line, row in rows:
        prompt = _value(row, "prompt", where, line, number=False)
        response = _value(row, "response", where, line, number=False)
        gold = _value(row, "gold", where, line, number=True)
        logprob = _value(row, "logprob", where, line, number=True) if has_logprob else 0.0
        by_prompt.setdefault(prompt, []).append((response, gold, logprob))
    prompts = list(by_prompt)
    if not 0.0 < test_fraction < 1.0 or not 0.0 <= val_fraction < 1.0:
        raise ValueError(
            f"field 'test_fraction'/'val_fraction': need 0 < test < 1 and 0 <= val < 1, "
            f"got {test_fraction}, {val_fraction}"
        )
    train_idx, val_idx, test_idx = three_way_split(
        len(prompts), max(1, round(test_fraction * len(prompts))),
        round(val_fraction * len(prompts)), seed,
    )
    if max_test_prompts is not None:
        test_idx = test_idx[:max_test_prompts]
    rng = np.random.default_rng([seed, 4])
    skipped = 0

    def pairs(indices: list[int]) -> list[Comparison]:
        nonlocal skipped
        out = []
        for i in indices:
            cands = by_prompt[prompts[i]]
            if len(cands) < 2:
                continue
            for _ in range(pairs_per_prompt):
                a, b = rng.choice(len(cands), size=2, replace=False).tolist()
                if cands[a][1] == cands[b][1]:
                    skipped += 1
                    continue
                chosen, rejected = (a, b) if cands[a][1] > cands[b][1] else (b, a)
                out.append(Comparison(prompts[i], (cands[chosen][0], cands[rejected][0]), (0, 1),
                                      meta={"gold": (cands[chosen][1], cands[rejected][1])}))
        return out

    train = pairs(train_idx)
    train = [train[i] for i in rng.permutation(len(train))]
    val = pairs(val_idx)
    flat = [(prompts[i], *c) for i in test_idx for c in by_prompt[prompts[i]]]
    responses = [c[1] for c in flat]
    test = CandidatePool(
        [c[0] for c in flat],
        responses,
        np.array([c[2] for c in flat], dtype=np.float64),
        {"words": words(responses)},
        np.array([c[3] for c in flat], dtype=np.float64) if has_logprob else None,
    )
    info = {
        "source": "file",
        "file": where,
        "train_prompts": len(train_idx),
        "val_prompts": len(val_idx),
        "test_prompts": len(test_idx),
        "test_candidates": len(test),
        "available_train_pairs": len(train),
        "tied_pairs_skipped": skipped,
        "logprob": has_logprob,
    }
    return LabData("file", train, val, test, info)
