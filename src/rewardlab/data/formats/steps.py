"""Step-labelled reasoning traces for process reward models.

Process supervision labels each reasoning step correct (1) or not (0)
(Uesato et al., "Solving math word problems with process- and outcome-based
feedback", 2022; Lightman et al., "Let's Verify Step by Step", 2023). Both
formats here give the index of the *first* wrong step, and labels are built
from it:

    step_labels[k] = 1 if k < first_wrong else 0        (first_wrong = None: all 1)

so every step after the first mistake is labelled 0 as well: a step built on a
wrong step is not a valid continuation, whatever it says. Each record's
response is its steps joined by ``"\\n"`` (no step of either dataset contains a
newline) and ``steps``/``step_labels`` hold one entry per response.

``big-bench-mistake`` (Tyen et al., "LLMs cannot find reasoning errors, but can
correct them given the mistake location", 2024): a row ``{input, steps[],
target, answer, mistake_index}`` with a 0-based ``mistake_index``, null when no
step is wrong. One single-response record per row; ``category`` is the task
(the file's stem, e.g. ``word_sorting``) and ``meta`` keeps ``target``,
``answer`` and ``mistake_index``.

``prmbench`` (Song et al., "PRMBench: A Fine-grained and Challenging Benchmark
for Process-Level Reward Models", 2025): a row ``{original_question,
modified_question, original_process[], modified_process[], error_steps[],
classification, idx, …}`` where ``original_process`` is a PRM800K solution
whose steps are all correct and ``modified_process`` has errors injected at
``error_steps``, which are **1-based** (in the shipped files the first step
that differs between the two processes is ``min(modified_steps) − 1`` in 0-based
terms for 2,415 of 2,848 rows). The first wrong step is the smallest error
step inside the modified process; error steps past its end (43 rows list one)
are ignored and kept in ``meta["ignored_error_steps"]``. When the two
questions agree the row is one pair ``(original, modified)`` with
``ranking=(0, 1)``; when the modified question differs (the
``missing_condition`` class edits the question), each process gets its own
single-response record with its own question. A row none of whose error steps
lies inside the modified process (4 shipped rows) keeps only the original
process, with the reason in ``meta["modified_skipped"]``. ``category`` is
``classification``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rewardlab.data.errors import DataError
from rewardlab.data.formats._base import FORMATS, Rows, detected_by, has_keys, require, require_str
from rewardlab.data.io import read_rows
from rewardlab.data.record import Comparison

STEP_SEPARATOR = "\n"


def labels_from_first_wrong(n_steps: int, first_wrong: int | None) -> tuple[int, ...]:
    """1 before the first wrong step, 0 from it on; all 1 when ``first_wrong`` is None."""
    end = n_steps if first_wrong is None else first_wrong
    return tuple(1 if k < end else 0 for k in range(n_steps))


def first_wrong_step(labels: Sequence[int]) -> int | None:
    """Index of the first 0 label, or None when every step is correct."""
    return next((k for k, label in enumerate(labels) if not label), None)


def _steps(row: dict[str, Any], name: str, path: str, line: int) -> tuple[str, ...]:
    value = require(row, name, path, line)
    if not isinstance(value, list) or not value:
        raise DataError("expected a non-empty list of strings", path=path, line=line, field=name)
    for step in value:
        if not isinstance(step, str):
            raise DataError(
                f"expected a string step, got {type(step).__name__}",
                path=path,
                line=line,
                field=name,
            )
        if STEP_SEPARATOR in step:
            raise DataError(
                "a step contains a newline, which separates steps", path=path, line=line, field=name
            )
    return tuple(value)


def _index(value: Any, path: str, line: int, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise DataError(f"expected an integer, got {value!r}", path=path, line=line, field=field)
    return value


def _step_record(
    prompt: str, steps: tuple[str, ...], first_wrong: int | None, **fields: Any
) -> Comparison:
    return Comparison(
        prompt,
        (STEP_SEPARATOR.join(steps),),
        steps=(steps,),
        step_labels=(labels_from_first_wrong(len(steps), first_wrong),),
        **fields,
    )


@FORMATS.register("big-bench-mistake")
@detected_by(70, has_keys("input", "steps", "mistake_index"))
def load_big_bench_mistake(rows: Rows, path: str) -> list[Comparison]:
    """One single-response, step-labelled record per trace."""
    task = Path(path).name.split(".")[0]
    records = []
    for line, row in rows:
        prompt = require_str(row, "input", path, line)
        steps = _steps(row, "steps", path, line)
        mistake = row.get("mistake_index")
        if mistake is not None:
            mistake = _index(mistake, path, line, "mistake_index")
            if not 0 <= mistake < len(steps):
                raise DataError(
                    f"{mistake} is not a step index of the {len(steps)} steps",
                    path=path,
                    line=line,
                    field="mistake_index",
                )
        meta = {"target": row.get("target"), "answer": row.get("answer"), "mistake_index": mistake}
        records.append(
            _step_record(prompt, steps, mistake, category=task, source=f"{path}:{line}", meta=meta)
        )
    return records


def _prmbench_first_wrong(
    row: dict[str, Any], n_steps: int, path: str, line: int
) -> tuple[int | None, list[int]]:
    """(0-based first wrong step or None, the 1-based error steps past the end)."""
    value = require(row, "error_steps", path, line)
    if not isinstance(value, list) or not value:
        raise DataError(
            "expected a non-empty list of step numbers", path=path, line=line, field="error_steps"
        )
    numbers = [_index(v, path, line, "error_steps") for v in value]
    if min(numbers) < 1:
        raise DataError(
            f"step numbers are 1-based, got {numbers}", path=path, line=line, field="error_steps"
        )
    inside = [n for n in numbers if n <= n_steps]
    return (min(inside) - 1 if inside else None), [n for n in numbers if n > n_steps]


@FORMATS.register("prmbench")
@detected_by(80, has_keys("question", "original_process", "modified_process"))
def load_prmbench(rows: Rows, path: str) -> list[Comparison]:
    """A pair (all-correct original, modified with errors) per row; see the module doc."""
    records = []
    for line, row in rows:
        question = require_str(row, "original_question", path, line)
        modified_question = require_str(row, "modified_question", path, line)
        original = _steps(row, "original_process", path, line)
        modified = _steps(row, "modified_process", path, line)
        first_wrong, ignored = _prmbench_first_wrong(row, len(modified), path, line)
        category = str(require(row, "classification", path, line))
        meta: dict[str, Any] = {"idx": row.get("idx"), "error_steps": row["error_steps"]}
        if ignored:
            meta["ignored_error_steps"] = ignored
        source = f"{path}:{line}"
        if first_wrong is None:
            meta["modified_skipped"] = (
                f"error_steps {row['error_steps']} all lie past the {len(modified)} modified steps"
            )
            records.append(
                _step_record(question, original, None, category=category, source=source, meta=meta)
            )
        elif question.strip() == modified_question.strip():
            records.append(
                Comparison(
                    question,
                    (STEP_SEPARATOR.join(original), STEP_SEPARATOR.join(modified)),
                    ranking=(0, 1),
                    steps=(original, modified),
                    step_labels=(
                        labels_from_first_wrong(len(original), None),
                        labels_from_first_wrong(len(modified), first_wrong),
                    ),
                    category=category,
                    source=source,
                    meta=meta,
                )
            )
        else:
            records.append(
                _step_record(question, original, None, category=category, source=source, meta=meta)
            )
            records.append(
                _step_record(
                    modified_question,
                    modified,
                    first_wrong,
                    category=category,
                    source=source,
                    meta=meta,
                )
            )
    return records


def load_step_folder(folder: str | Path, format: str, **options: Any) -> list[Comparison]:
    """Every ``*.jsonl[.gz]`` file of ``folder`` (sorted by name) read as ``format``.

    E.g. ``load_step_folder("../shared/data/big-bench-mistake", "big-bench-mistake")``
    for all five tasks; with ``auto`` each file's format is detected from its first
    row. ``options`` go to the loader of every file. Records are not validated here;
    :func:`rewardlab.data.load.load_comparisons` reads such a folder and validates.
    """
    folder = Path(folder)
    files = sorted(p for p in folder.iterdir() if p.name.endswith((".jsonl", ".jsonl.gz")))
    if not files:
        raise DataError(
            "a folder must have the AlpacaEval layout (instructions.jsonl and outputs.jsonl.gz) "
            "or hold .jsonl / .jsonl.gz files of one format (e.g. big-bench-mistake)",
            path=str(folder),
        )
    loader = FORMATS.get(format)
    return [record for file in files for record in loader(read_rows(file), str(file), **options)]
