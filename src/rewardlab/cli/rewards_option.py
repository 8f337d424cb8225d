"""Scoring file rows with ``--rewards`` (a verifier or recipe): references from a column.

A verifier or recipe (:func:`rewardlab.robust.recipe.load_rewards`) checks each
response against its row's reference: the column named by
``--reference-column``, else the first of :data:`FILE_REFERENCE_COLUMNS` that a
row has. A reward that requires references gets one
:class:`~rewardlab.data.errors.DataError` naming the file, the line and the
column when a row has none (``null``, absent, or a blank string). A recipe
normalizing by ``batch`` or ``group`` refuses rows that cannot form the batch or
the prompt groups (:func:`rewardlab.serve.model_ops.normalization_refusal`). Each component's value is written as
``reward_<component>`` beside ``reward``. :func:`rewards_option` and
:func:`reference_column_option` are the two options; :func:`pool_scorer` scores
the rows of a candidate pool (``bon``, ``build``) the same way.

``--unsafe-no-sandbox`` (:func:`unsafe_no_sandbox_option`, on every command
that takes ``--rewards``) lets the code verifier run programs without a
sandbox where none can be made; :func:`load_cli_rewards` loads ``--rewards``
with it applied to every component that has the setting.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import numpy as np
import typer

from rewardlab.data.errors import DataError
from rewardlab.optimize.pool import RowScorer
from rewardlab.protocols import (
    REFERENCE_COLUMNS,
    RewardModel,
    missing_reference,
    score_components,
)
from rewardlab.serve.model_ops import normalization_refusal

FILE_REFERENCE_COLUMNS = (*REFERENCE_COLUMNS, "labels")
"""Default reference columns of a data file, in order (``labels``: OpenRLHF's name)."""


def rewards_option(help: str = "Verifier name (math, choice, code, …) or recipe file.") -> Any:
    """The ``--rewards`` option (a verifier name or recipe file), defaulting to None."""
    return typer.Option(None, "--rewards", help=help)


_UNSAFE_NO_SANDBOX: ContextVar[bool] = ContextVar("rewardlab_unsafe_no_sandbox", default=False)


def _record_unsafe(value: bool) -> bool:
    _UNSAFE_NO_SANDBOX.set(bool(value))
    return value


def unsafe_no_sandbox_option() -> Any:
    """The ``--unsafe-no-sandbox`` flag (recorded for :func:`load_cli_rewards`)."""
    return typer.Option(
        False, "--unsafe-no-sandbox", callback=_record_unsafe,
        help="Where no sandbox can be made (bubblewrap missing), run the code reward's programs "
        "anyway, unisolated: they can read, write and connect wherever this process can.",
    )


def load_cli_rewards(spec: str) -> RewardModel:
    """``load_rewards(spec)``, with ``--unsafe-no-sandbox`` applied to the components that
    run code; one ``ValueError`` line, before anything runs, when such a component has no
    sandbox here and the flag is not given."""
    from rewardlab.robust.recipe import load_rewards
    from rewardlab.verifiers.sandbox import SandboxUnavailable, require_sandbox

    recipe = load_rewards(spec)
    for component in recipe.components.values():
        if hasattr(component, "unsafe_no_sandbox"):
            component.unsafe_no_sandbox = component.unsafe_no_sandbox or _UNSAFE_NO_SANDBOX.get()
            try:
                require_sandbox(component.unsafe_no_sandbox)
            except SandboxUnavailable as err:
                raise ValueError(str(err)) from None
    return recipe


def reference_column_option() -> Any:
    """The ``--reference-column`` option, defaulting to None (the first default column)."""
    return typer.Option(
        None, "--reference-column",
        help="Column with each row's reference for --rewards; default the first of "
        f"{', '.join(FILE_REFERENCE_COLUMNS)} present.",
    )


def row_references(
    rows: Sequence[Mapping[str, Any]],
    lines: Sequence[int],
    path: Path,
    requested: str | None,
    required: bool,
) -> tuple[list[Any] | None, str]:
    """Each row's reference (``None`` where it has none) and the column they come from."""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    if requested is not None:
        if requested not in columns:
            raise DataError(
                f"no such column (--reference-column); columns: {', '.join(columns)}",
                path=str(path),
                field=requested,
            )
        column: str | None = requested
    else:
        column = next((c for c in FILE_REFERENCE_COLUMNS if c in columns), None)
    if column is None:
        if required:
            raise DataError(
                "this reward checks each response against a reference, but no row has any of "
                f"the columns {', '.join(FILE_REFERENCE_COLUMNS)}; name one with "
                "--reference-column",
                path=str(path),
            )
        return None, "reference"
    references = [row.get(column) for row in rows]
    if required:
        for line, reference in zip(lines, references, strict=True):
            if missing_reference(reference):
                raise DataError("missing reference (ground truth)", path=str(path), line=line,
                                field=column)
    return references, column


def score_rows(
    reward: RewardModel,
    rows: Sequence[Mapping[str, Any]],
    lines: Sequence[int],
    path: Path,
    requested: str | None = None,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``(total, {component: values})`` of rows with ``prompt``/``response`` and a reference."""
    refs, column = row_references(
        rows, lines, path, requested, bool(getattr(reward, "requires_reference", False))
    )
    prompts = [row["prompt"] for row in rows]
    responses = [row["response"] for row in rows]
    refusal = normalization_refusal(reward, prompts)
    if refusal is not None:  # a lone sample's z-score is 0 whatever its reward
        raise DataError(refusal, path=str(path))
    return score_components(reward, prompts, responses, refs, field=column)


def pool_scorer(reward: RewardModel, path: Path, requested: str | None = None) -> RowScorer:
    """A :data:`~rewardlab.optimize.pool.RowScorer` giving each pool row the total of
    :func:`score_rows` (references from ``requested`` or the default columns)."""

    def score(rows: Sequence[Mapping[str, Any]], lines: Sequence[int]) -> np.ndarray:
        return score_rows(reward, rows, lines, path, requested)[0]

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
