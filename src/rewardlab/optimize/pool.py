"""Candidate pools: many responses per prompt, each with a reward.

Best-of-n, adaptive sampling, rejection sampling and the pair builders all
consume the same thing: for each prompt, N candidate responses y_1 … y_N with
a proxy reward r_i = R(x, y_i) (from any :class:`~rewardlab.protocols.RewardModel`
or a precomputed column), optionally a gold score g_i that the proxy never sees
(a judge's preference, a human label) and a per-sample spread s_i (the
uncertainty of an ensemble or of dropout passes).

This module turns flat rows ``{prompt, response, …}`` (any file
:func:`rewardlab.data.io.read_rows` reads) into one :class:`PromptPool` per
prompt, in order of first appearance, scoring them in batches. Built datasets
are written with :func:`rewardlab.data.io.write_jsonl`, which is atomic (a
temporary file, then ``os.replace``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rewardlab.data.errors import DataError
from rewardlab.data.io import read_rows
from rewardlab.options import option
from rewardlab.protocols import RewardModel, check_lengths

RowScorer = Callable[[Sequence[dict[str, Any]], Sequence[int]], np.ndarray]
"""Rewards of whole pool rows, given the rows and their line numbers."""


@dataclass(frozen=True)
class GoldReading:
    """What reads a gold score from each candidate's row."""

    gold_column: str | None = option(None, "Column with each candidate's gold score (a "
                                     "reward the proxy never sees).")


@dataclass(frozen=True, eq=False)
class PromptPool:
    """One prompt, its candidate responses and their rewards.

    Attributes:
        prompt: the prompt text.
        responses: the N candidates.
        scores: proxy reward of each candidate, float array of shape (N,).
        gold: optional gold score of each candidate, shape (N,).
        spread: optional uncertainty of each proxy reward, shape (N,).
    """

    prompt: str
    responses: tuple[str, ...]
    scores: np.ndarray
    gold: np.ndarray | None = None
    spread: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.responses)
        if n == 0:
            raise ValueError("field 'responses': a pool needs at least one candidate")
        for name in ("scores", "gold", "spread"):
            value = getattr(self, name)
            if value is None:
                continue
            array = np.asarray(value, dtype=np.float64)
            if array.shape != (n,):
                raise ValueError(
                    f"field {name!r}: shape {array.shape} does not match {n} responses"
                )
            object.__setattr__(self, name, array)

    def __len__(self) -> int:
        return len(self.responses)


def score_texts(
    model: RewardModel,
    prompts: Sequence[str],
    responses: Sequence[str],
    *,
    batch_size: int = 256,
    with_spread: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Score (prompt, response) pairs in batches of ``batch_size``.

    Returns ``(scores, spread)``; ``spread`` comes from ``score_with_uncertainty``
    when ``with_spread`` is true (the model must have it), else it is ``None``.
    ``progress(done, total)`` is called with ``done`` 0 before the first batch (so a bar
    shows while it runs) and after every batch.
    """
    n = check_lengths(prompts, responses)
    if batch_size < 1:
        raise ValueError(f"field 'batch_size': must be at least 1, got {batch_size}")
    if with_spread and not hasattr(model, "score_with_uncertainty"):
        raise ValueError(
            f"field 'model': {type(model).__name__} has no score_with_uncertainty, so no spread"
        )
    scores = np.empty(n, dtype=np.float64)
    spread = np.empty(n, dtype=np.float64) if with_spread else None
    if progress is not None:
        progress(0, n)
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        p, r = list(prompts[start:stop]), list(responses[start:stop])
        if spread is not None:
            value, unc = model.score_with_uncertainty(p, r)  # type: ignore[attr-defined]
            spread[start:stop] = np.asarray(unc, dtype=np.float64).reshape(-1)
        else:
            value = model.score(p, r)
        value = np.asarray(value, dtype=np.float64).reshape(-1)
        if value.shape != (stop - start,):
            raise ValueError(
                f"field 'model': {type(model).__name__}.score returned {value.shape[0]} "
                f"rewards for {stop - start} inputs"
            )
        scores[start:stop] = value
        if progress is not None:
            progress(stop, n)
    return scores, spread


def group_by_prompt(
    prompts: Sequence[str],
    responses: Sequence[str],
    scores: np.ndarray,
    *,
    gold: np.ndarray | None = None,
    spread: np.ndarray | None = None,
) -> list[PromptPool]:
    """Group flat per-candidate arrays into one :class:`PromptPool` per prompt
    (prompts in order of first appearance, candidates in input order)."""
    check_lengths(prompts, responses, scores, *(a for a in (gold, spread) if a is not None))
    index: dict[str, list[int]] = {}
    for i, prompt in enumerate(prompts):
        index.setdefault(prompt, []).append(i)
    scores = np.asarray(scores, dtype=np.float64)
    pools = []
    for prompt, rows in index.items():
        idx = np.asarray(rows)
        pools.append(
            PromptPool(
                prompt=prompt,
                responses=tuple(responses[i] for i in rows),
                scores=scores[idx],
                gold=None if gold is None else np.asarray(gold, dtype=np.float64)[idx],
                spread=None if spread is None else np.asarray(spread, dtype=np.float64)[idx],
            )
        )
    return pools


def _column(
    rows: Sequence[tuple[int, dict[str, Any]]], name: str, path: str, *, number: bool
) -> list:
    """One field of every numbered row, checked to be a string or a finite number."""
    values = []
    for line_no, row in rows:
        value = row.get(name)
        if number:
            if isinstance(value, str):  # CSV cells
                try:
                    value = float(value)
                except ValueError:
                    pass
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            if not ok or not math.isfinite(value):
                raise DataError(
                    f"expected a finite number, got {value!r}",
                    path=path,
                    line=line_no,
                    field=name,
                )
        elif not isinstance(value, str):
            raise DataError(
                f"expected a string, got {value!r}", path=path, line=line_no, field=name
            )
        values.append(value)
    return values


def read_pool(
    path: str | Path,
    *,
    model: RewardModel | None = None,
    score_column: str | None = None,
    gold_column: str | None = None,
    spread_column: str | None = None,
    batch_size: int = 256,
    progress: Callable[[int, int], None] | None = None,
    row_scorer: RowScorer | None = None,
) -> list[PromptPool]:
    """Read pool lines ``{prompt, response, [gold], [scores…]}`` and group them by prompt.

    Rewards come from exactly one of ``model`` (scored in batches; the spread is
    taken from ``score_with_uncertainty`` when the model has it and no
    ``spread_column`` is given), ``score_column`` (precomputed) or
    ``row_scorer(rows, lines)`` (whole rows, e.g. a verifier reading each row's
    reference). ``progress(done, total)`` follows the model's scoring.
    """
    sources = (model, score_column, row_scorer)
    if sum(source is not None for source in sources) != 1:
        raise ValueError("give exactly one of 'model', 'score_column' and 'row_scorer'")
    rows = list(read_rows(path))
    if not rows:
        raise DataError("the pool is empty", path=str(path))
    where = str(path)
    prompts = _column(rows, "prompt", where, number=False)
    responses = _column(rows, "response", where, number=False)
    gold = None if gold_column is None else np.array(_column(rows, gold_column, where, number=True))
    spread = (
        None
        if spread_column is None
        else np.array(_column(rows, spread_column, where, number=True))
    )
    if model is not None:
        with_spread = spread is None and hasattr(model, "score_with_uncertainty")
        scores, model_spread = score_texts(
            model,
            prompts,
            responses,
            batch_size=batch_size,
            with_spread=with_spread,
            progress=progress,
        )
        spread = spread if model_spread is None else model_spread
    elif row_scorer is not None:
        lines = [line_no for line_no, _ in rows]
        scores = np.asarray(row_scorer([row for _, row in rows], lines), dtype=np.float64)
    else:
        scores = np.array(_column(rows, score_column, where, number=True), dtype=np.float64)
    return group_by_prompt(prompts, responses, scores, gold=gold, spread=spread)
