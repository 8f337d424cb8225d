"""AlpacaEval: many generators' outputs per instruction, each scored by a judge.

Li et al., "AlpacaEval: An Automatic Evaluator of Instruction-following
Models", 2023 (https://github.com/tatsu-lab/alpaca_eval). The folder holds
``instructions.jsonl`` ``{id, instruction, dataset, baseline_generator,
baseline_output}`` and ``outputs.jsonl.gz`` ``{id, generator, output,
preference}``, where ``preference`` ∈ [1, 2] is 1 + the judge's probability
that the output beats the baseline's.

Candidates: every output row, plus the baseline's own output with preference
1.5 (the judge's indifference point, baseline against itself) for each
instruction whose outputs have no row of the baseline generator. (The shipped
``outputs.jsonl.gz`` already has a ``gpt4_1106_preview`` row at 1.5 for every
instruction, so nothing is added there and nothing is counted twice.)

Pairs: for an instruction with candidates of judge scores p, every pair
(a, b) with |p_a − p_b| ≥ ``min_gap`` is eligible; ``pairs_per_prompt`` of
them are drawn without replacement by a generator seeded with
(``seed``, crc32(instruction id)), so a draw does not depend on the other
instructions. The higher-scored output is chosen (index 0, ``ranking=(0,
1)``); both judge scores stay as ratings ``({"judge": p_a}, {"judge": p_b})``.
A pair's ``source`` names both rows: ``"file:12 vs file:57"``.

Ties: with ``ties_below_gap`` every pair is eligible, and a pair whose gap is
below ``min_gap`` is kept as a tie (``tie=True``) instead of being skipped, for
losses that model ties (``davidson``, ``rao-kupper``); other losses skip tie
records and count them. Without it, only a zero gap (possible with
``min_gap=0``) is a tie.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rewardlab.data.errors import DataError
from rewardlab.data.formats._base import (
    FORMATS,
    Rows,
    as_number,
    detected_by,
    has_keys,
    require,
    require_str,
)
from rewardlab.data.io import read_rows
from rewardlab.data.record import Comparison
from rewardlab.options import option

BASELINE_PREFERENCE = 1.5
INSTRUCTION_FILES = ("instructions.jsonl", "instructions.jsonl.gz")
OUTPUT_FILES = ("outputs.jsonl.gz", "outputs.jsonl")
OUTPUT_KEYS = frozenset({"id", "generator", "output", "preference"})


@dataclass(frozen=True)
class Candidate:
    """One generator's output on one instruction, with its judge score (``gold``)."""

    instruction_id: int | str
    generator: str
    response: str
    gold: float
    source: str


@dataclass(frozen=True)
class _Instruction:
    prompt: str
    category: str
    baseline_generator: str
    baseline_output: str
    source: str


def alpaca_eval_files(folder: str | Path) -> tuple[Path, Path] | None:
    """``(instructions file, outputs file)`` when ``folder`` has the AlpacaEval layout."""
    folder = Path(folder)
    instructions = next((folder / n for n in INSTRUCTION_FILES if (folder / n).is_file()), None)
    outputs = next((folder / n for n in OUTPUT_FILES if (folder / n).is_file()), None)
    return None if instructions is None or outputs is None else (instructions, outputs)


def _instruction_id(row: dict[str, Any], path: str, line: int) -> int | str:
    value = require(row, "id", path, line)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise DataError(
            f"expected an integer or string id, got {type(value).__name__}",
            path=path,
            line=line,
            field="id",
        )
    return value


def _read_instructions(path: Path) -> dict[int | str, _Instruction]:
    name = str(path)
    instructions: dict[int | str, _Instruction] = {}
    for line, row in read_rows(path):
        key = _instruction_id(row, name, line)
        if key in instructions:
            raise DataError(f"duplicate instruction id {key!r}", path=name, line=line, field="id")
        instructions[key] = _Instruction(
            prompt=require_str(row, "instruction", name, line),
            category=require_str(row, "dataset", name, line),
            baseline_generator=require_str(row, "baseline_generator", name, line),
            baseline_output=require_str(row, "baseline_output", name, line),
            source=f"{name}:{line}",
        )
    return instructions


def _candidates(
    rows: Rows, path: str, instructions: dict[int | str, _Instruction]
) -> dict[int | str, list[Candidate]]:
    """Candidates per instruction id, in instruction-file order, baselines added."""
    found: dict[int | str, dict[str, Candidate]] = {key: {} for key in instructions}
    for line, row in rows:
        key = _instruction_id(row, path, line)
        if key not in instructions:
            raise DataError(f"unknown instruction id {key!r}", path=path, line=line, field="id")
        generator = require_str(row, "generator", path, line)
        if generator in found[key]:
            raise DataError(
                f"second output of {generator!r} for instruction {key!r}",
                path=path,
                line=line,
                field="generator",
            )
        preference = as_number(require(row, "preference", path, line))
        if preference is None or not 1.0 <= preference <= 2.0:
            raise DataError(
                f"expected a number in [1, 2], got {row['preference']!r}",
                path=path,
                line=line,
                field="preference",
            )
        found[key][generator] = Candidate(
            key, generator, require_str(row, "output", path, line), preference, f"{path}:{line}"
        )
    for key, info in instructions.items():
        if info.baseline_generator not in found[key]:
            found[key][info.baseline_generator] = Candidate(
                key, info.baseline_generator, info.baseline_output, BASELINE_PREFERENCE, info.source
            )
    return {key: list(by_generator.values()) for key, by_generator in found.items()}


def _instructions_beside(path: str | Path) -> Path:
    folder = Path(path) if Path(path).is_dir() else Path(path).parent
    found = next((folder / n for n in INSTRUCTION_FILES if (folder / n).is_file()), None)
    if found is None:
        raise DataError(
            f"no {' or '.join(INSTRUCTION_FILES)} beside the outputs; pass instructions_path=",
            path=str(path),
        )
    return found


def load_alpaca_eval_pool(folder: str | Path) -> list[dict[str, Any]]:
    """Every candidate of every instruction, for best-of-n and overoptimization work.

    Returns dicts ``{instruction_id, prompt, generator, response, gold,
    category, source}`` (``gold`` = the judge's preference in [1, 2]), in
    instruction order.
    """
    files = alpaca_eval_files(folder)
    if files is None:
        raise DataError(
            f"not an AlpacaEval folder: needs {INSTRUCTION_FILES[0]} and {OUTPUT_FILES[0]}",
            path=str(folder),
        )
    instructions = _read_instructions(files[0])
    pool = _candidates(read_rows(files[1]), str(files[1]), instructions)
    return [
        {
            "instruction_id": c.instruction_id,
            "prompt": instructions[key].prompt,
            "generator": c.generator,
            "response": c.response,
            "gold": c.gold,
            "category": instructions[key].category,
            "source": c.source,
        }
        for key, candidates in pool.items()
        for c in candidates
    ]


def _draw(
    candidates: list[Candidate], min_gap: float, pairs_per_prompt: int | None, seed: int
) -> list[tuple[Candidate, Candidate]]:
    """Drawn pairs (better, worse) with a gap of at least ``min_gap``."""
    ordered = sorted(candidates, key=lambda c: c.generator)
    gold = np.array([c.gold for c in ordered])
    first, second = np.triu_indices(len(ordered), k=1)
    eligible = np.flatnonzero(np.abs(gold[first] - gold[second]) >= min_gap)
    if pairs_per_prompt is not None and len(eligible) > pairs_per_prompt:
        key = zlib.crc32(str(ordered[0].instruction_id).encode("utf-8"))
        rng = np.random.default_rng([seed, key])
        eligible = np.sort(rng.choice(eligible, size=pairs_per_prompt, replace=False))
    pairs = []
    for index in eligible:
        a, b = ordered[first[index]], ordered[second[index]]
        pairs.append((a, b) if a.gold >= b.gold else (b, a))
    return pairs


@dataclass(frozen=True)
class AlpacaEvalReading:
    """How AlpacaEval judgments become pairs (the options of the ``alpaca-eval`` format)."""

    min_gap: float = option(0.1, "alpaca-eval: skip pairs with a smaller judge gap.", min=0.0)
    pairs_per_instruction: int = option(
        8, "alpaca-eval: pairs sampled per instruction when the data is read (not build "
        "pairs' --pairs-per-prompt, which keeps pairs of a scored pool).", min=1)
    ties_below_gap: bool = option(
        False, "alpaca-eval: keep pairs with a judge gap below --min-gap as ties (learned "
        "from by --loss davidson | rao-kupper; other losses skip them).")


@FORMATS.register("alpaca-eval")
@detected_by(10, has_keys(*OUTPUT_KEYS))  # an outputs file; a folder: load_comparisons
def load_alpaca_eval(
    rows: Rows,
    path: str,
    *,
    instructions_path: str | Path | None = None,
    min_gap: float = AlpacaEvalReading.min_gap,
    pairs_per_prompt: int | None = AlpacaEvalReading.pairs_per_instruction,
    seed: int = 0,
    ties_below_gap: bool = AlpacaEvalReading.ties_below_gap,
) -> list[Comparison]:
    """Judge-labelled pairs of two generators' outputs per instruction.

    ``rows`` are the outputs file's rows and ``path`` that file (or its
    folder); the instructions come from ``instructions_path`` or the file
    beside it. ``pairs_per_prompt=None`` keeps every eligible pair;
    ``ties_below_gap`` keeps pairs closer than ``min_gap`` as ties.
    """
    if min_gap < 0:
        raise ValueError(f"min_gap must be >= 0, got {min_gap}")
    if pairs_per_prompt is not None and pairs_per_prompt < 1:
        raise ValueError(f"pairs_per_prompt must be >= 1 or None, got {pairs_per_prompt}")
    instructions = _read_instructions(Path(instructions_path or _instructions_beside(path)))
    pool = _candidates(rows, path, instructions)
    records = []
    for key, candidates in pool.items():
        info = instructions[key]
        draw_gap = 0.0 if ties_below_gap else min_gap
        for better, worse in _draw(candidates, draw_gap, pairs_per_prompt, seed):
            records.append(
                Comparison(
                    info.prompt,
                    (better.response, worse.response),
                    ranking=(0, 1),
                    tie=better.gold == worse.gold
                    or (ties_below_gap and better.gold - worse.gold < min_gap),
                    ratings=({"judge": better.gold}, {"judge": worse.gold}),
                    category=info.category,
                    source=f"{better.source} vs {worse.source}",
                    meta={"instruction_id": key, "generators": (better.generator, worse.generator)},
                )
            )
    return records
