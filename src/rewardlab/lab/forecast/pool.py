"""The forecast's input: a candidate pool with its proxy, and gold on some prompts.

The pool is the file ``rewardlab bon`` reads (:func:`rewardlab.optimize.pool.read_pool`:
rows ``{prompt, response, …}`` grouped by prompt, the proxy from a model, a
row scorer or a score column). Gold is either

- a column (``gold_column``): a prompt is *labelled* when every one of its
  candidates has a finite number there, *unlabelled* when none has one (the
  key absent, ``null`` or an empty CSV cell); a prompt with gold on some
  candidates and not others is an error, since the unbiased best-of-n
  estimate needs the gold of every candidate; or
- a reward model (``gold_model``, e.g. a judge), called only on the prompts of
  the budget (:func:`label_with_model`).

The budget is ``gold_budget`` prompts drawn without replacement from the
labelled ones (:func:`choose_budget`, seeded). Every prompt needs at least two
candidates.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from rewardlab.data.errors import DataError
from rewardlab.data.io import read_rows
from rewardlab.optimize.pool import PromptPool, RowScorer, read_pool, score_texts
from rewardlab.protocols import RewardModel

ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class ForecastPool:
    """Prompt pools (gold set on labelled prompts only) and where each prompt starts.

    Attributes:
        pools: one per prompt, in order of first appearance.
        lines: line number of each prompt's first row.
        path: the file read.
    """

    pools: list[PromptPool]
    lines: list[int]
    path: str

    def labelled(self) -> list[int]:
        """Indices of the prompts with gold."""
        return [p for p, pool in enumerate(self.pools) if pool.gold is not None]


def _gold_value(row: dict[str, Any], column: str, path: str, line: int) -> float | None:
    value = row.get(column)
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            pass
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise DataError(f"expected a finite number or nothing, got {value!r}", path=path,
                        line=line, field=column)
    return float(value)


def _gold_by_prompt(
    rows: Sequence[tuple[int, dict[str, Any]]], column: str, path: str
) -> dict[str, np.ndarray | None]:
    """Each prompt's gold column, or ``None`` for an unlabelled prompt."""
    if not any(column in row for _, row in rows):
        columns = ", ".join(dict.fromkeys(key for _, row in rows for key in row))
        raise DataError(f"no row has the gold column; columns: {columns}", path=path,
                        field=column)
    values: dict[str, list[tuple[int, float | None]]] = {}
    for line, row in rows:
        values.setdefault(row["prompt"], []).append((line, _gold_value(row, column, path, line)))
    out: dict[str, np.ndarray | None] = {}
    for prompt, cells in values.items():
        given = [value is not None for _, value in cells]
        if all(given):
            out[prompt] = np.array([value for _, value in cells], dtype=np.float64)
        elif not any(given):
            out[prompt] = None
        else:
            line = next(line for (line, _), ok in zip(cells, given, strict=True) if not ok)
            raise DataError(
                "no gold here, but other candidates of this prompt have gold; label every "
                "candidate of a prompt or none", path=path, line=line, field=column,
            )
    return out


def read_forecast_pool(
    path: str | Path,
    *,
    model: RewardModel | None = None,
    score_column: str | None = None,
    row_scorer: RowScorer | None = None,
    gold_column: str | None = None,
    batch_size: int = 256,
    progress: ProgressCallback | None = None,
) -> ForecastPool:
    """Read and score the pool (exactly one proxy source), with gold from ``gold_column``."""
    where = str(path)
    pools = read_pool(
        path, model=model, score_column=score_column, row_scorer=row_scorer,
        batch_size=batch_size, progress=progress,
    )
    rows = list(read_rows(path))
    first_line: dict[str, int] = {}
    for line, row in rows:
        first_line.setdefault(row["prompt"], line)
    lines = [first_line[pool.prompt] for pool in pools]
    for pool, line in zip(pools, lines, strict=True):
        if len(pool) < 2:
            raise DataError(
                "this prompt has 1 candidate; best-of-n needs at least 2 per prompt",
                path=where, line=line, field="prompt",
            )
    if gold_column is not None:
        gold = _gold_by_prompt(rows, gold_column, where)
        pools = [replace(pool, gold=gold[pool.prompt]) for pool in pools]
    return ForecastPool(pools, lines, where)


def choose_budget(
    labelled: Sequence[int], budget: int, seed: int, where: str = "", kind: str = "labelled"
) -> list[int]:
    """``budget`` of the ``labelled`` prompt indices, drawn without replacement, sorted
    (``kind`` names them in the error: "labelled", or "" when every prompt may be)."""
    if budget < 2:
        raise ValueError(f"field 'gold_budget': the forecast needs at least 2 prompts, got "
                         f"{budget}")
    if budget > len(labelled):
        source = f" in {where}" if where else ""
        raise ValueError(
            f"field 'gold_budget': {budget} prompts asked for, but there are only "
            f"{len(labelled)} {kind + ' ' if kind else ''}prompts{source}"
        )
    rng = np.random.default_rng([seed, 29])
    return sorted(int(i) for i in rng.choice(np.asarray(labelled), size=budget, replace=False))


def label_with_model(
    pools: Sequence[PromptPool],
    rows: Sequence[int],
    gold_model: RewardModel,
    batch_size: int = 256,
    progress: ProgressCallback | None = None,
) -> list[PromptPool]:
    """The pools with gold from ``gold_model`` on the prompts ``rows`` (and only there)."""
    prompts = [pools[p].prompt for p in rows for _ in pools[p].responses]
    responses = [r for p in rows for r in pools[p].responses]
    scores, _ = score_texts(gold_model, prompts, responses, batch_size=batch_size,
                            progress=progress)
    if not np.all(np.isfinite(scores)):
        raise ValueError("field 'gold_model': the gold model returned a non-finite score")
    out = list(pools)
    start = 0
    for p in rows:
        stop = start + len(pools[p])
        out[p] = replace(pools[p], gold=scores[start:stop])
        start = stop
    return out
