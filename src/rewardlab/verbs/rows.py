"""Scoring the rows of a data file with a verifier or recipe: references from a column.

A verifier or recipe checks each response against its row's reference: the
column named by ``requested`` (``--reference-column``), else the first of
:data:`rewardlab.data.references.REFERENCE_COLUMNS` that a row has
(:func:`rewardlab.data.references.row_references`, one
:class:`~rewardlab.data.errors.DataError` naming the file, the line and the
column when a reward that requires references finds none). A recipe normalizing
by ``batch`` or ``group`` refuses rows that cannot form the batch or the prompt
groups (:func:`rewardlab.serve.model_ops.normalization_refusal`). Each
component's value is written as ``reward_<component>`` beside ``reward``
(:func:`component_fields`). :func:`pool_scorer` scores the rows of a candidate
pool (``bon``, ``build``, ``forecast``) the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rewardlab.data.errors import DataError
from rewardlab.data.references import row_references
from rewardlab.protocols import RewardModel, score_components


def score_rows(
    reward: RewardModel,
    rows: Sequence[Mapping[str, Any]],
    lines: Sequence[int],
    path: Path,
    requested: str | None = None,
    responses: Sequence[Any] | None = None,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``(total, {component: values})`` of rows with ``prompt``/``response`` (or the given
    ``responses``) and a reference."""
    from rewardlab.serve.model_ops import normalization_refusal

    refs, column = row_references(
        rows, lines, path, requested, bool(getattr(reward, "requires_reference", False))
    )
    prompts = [row["prompt"] for row in rows]
    responses = [row["response"] for row in rows] if responses is None else responses
    refusal = normalization_refusal(reward, prompts)
    if refusal is not None:  # a lone sample's z-score is 0 whatever its reward
        raise DataError(refusal, path=str(path))
    return score_components(reward, prompts, responses, refs, field=column)


def pool_scorer(reward: RewardModel, path: Path, requested: str | None = None,
                progress: Callable[[int, int], None] | None = None) -> Any:
    """A :data:`~rewardlab.optimize.pool.RowScorer` giving each pool row the total of
    :func:`score_rows` (references from ``requested`` or the default columns).

    The rows are scored in one call (a recipe normalizing by batch or group sees the whole
    pool; a verifier's warnings name each row's index in it): ``progress(0, rows)`` before
    it, ``progress(rows, rows)`` after."""

    def score(rows: Sequence[Mapping[str, Any]], lines: Sequence[int]) -> np.ndarray:
        if progress is not None:
            progress(0, len(rows))
        total = score_rows(reward, rows, lines, path, requested)[0]
        if progress is not None:
            progress(len(rows), len(rows))
        return total

    return score


def component_fields(
    rows: Sequence[Mapping[str, Any]], parts: Mapping[str, np.ndarray], path: Path
) -> dict[str, np.ndarray]:
    """``{"reward_<component>": values}``; a clash with an input column is a DataError."""
    fields = {f"reward_{name}": values for name, values in parts.items()}
    for row in rows:
        for name in fields:
            if name in row:
                raise DataError(
                    "the input already has this column, which would hold a component's reward",
                    path=str(path),
                    field=name,
                )
    return fields
