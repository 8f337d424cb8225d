"""``score``: a reward for every ``{prompt, response}`` row of a file, as ``rewardlab score``.

::

    from rewardlab.verbs import ScoreSpec, score
    result = score(ScoreSpec(model="runs/rm", data="in.jsonl", out="out.jsonl"))
    [row["reward"] for row in result.rows]

The reward is ``model`` (any spec, or a comma list as one ensemble reduced by
the aggregation) or ``rewards`` (a verifier or recipe, whose references come
from ``reference_column`` or the default columns: :mod:`rewardlab.verbs.rows`).
Refused before the data is read (:class:`~rewardlab.options.OptionError`): a
``reference_column`` without ``rewards``; ``uncertainty`` or ``attributes``
with ``rewards``; ``uncertainty`` for a model that gives no spread (one
member, no dropout: every row would get 0); ``attributes`` for a model
without named outputs.

Image responses come from an image column (``image_column``, or ``image`` when
the rows have no ``response``): a path relative to the data file, a base64
image or image bytes (:mod:`rewardlab.data.image_cells`); a cell that does not
decode is one error naming the file, line and column; ``image_column`` given to a reward
that scores no images is refused before anything is loaded. The output keeps a path
as written and replaces bytes or base64 with ``{"sha256": pixel digest}``. The
output is strict JSON: a non-finite number, in a copied input column or a
reward, is written as ``null``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rewardlab.options import OptionError, check, option
from rewardlab.verbs.loading import RewardSource


@dataclass(frozen=True, kw_only=True)
class ScoreSpec(RewardSource):
    """Everything ``score`` needs."""

    data: Path = option(help="JSONL/JSON/CSV/Parquet with prompt and response.")
    out: Path = option(help="JSONL to write (input rows + reward).")
    reference_column: str | None = option(
        None, "Column with each row's reference for --rewards; default the first of "
        "solution, answer, ground_truth, labels present.")
    image_column: str | None = option(
        None, "Column of image responses (a path relative to the data file, base64, or bytes "
        "in Parquet); default 'image' when the rows have no 'response'.")
    uncertainty: bool = option(False, "Also write the spread across members (or MC-dropout "
                               "passes).")
    attributes: bool = option(
        False, "Also write each output of a multi-output model as its own column (names from "
        "the model's id2label).")


@dataclass
class ScoreResult:
    """The rows as written to ``out`` (input columns, ``reward`` and what was asked for)."""

    rows: list[dict[str, Any]]
    out: Path


def check_spec(spec: ScoreSpec) -> None:
    """Validate ``spec`` before any model or data is read."""
    from rewardlab.verbs.loading import exactly_one
    from rewardlab.verbs.outputs import check_out_file

    check(spec)
    exactly_one({"--model": spec.model, "--rewards": spec.rewards})
    if spec.rewards is not None:
        for flag, value in (("--uncertainty", spec.uncertainty),
                            ("--attributes", spec.attributes)):
            if value:
                raise OptionError(f"{flag}: not read by --rewards {spec.rewards} (a verifier or "
                                  "recipe); leave it out")
    elif spec.reference_column is not None:
        raise OptionError("--reference-column: read with --rewards only (a model checks no "
                          "reference); leave it out")
    check_image_column(spec)
    check_out_file(spec.out)


def check_image_column(spec: ScoreSpec) -> None:
    """:class:`OptionError` for an ``image_column`` given to a reward that scores no images
    (a text model, a verifier), told from the spec before anything is loaded or read."""
    from rewardlab.load.kinds import modalities
    from rewardlab.load.rewards import rewards_modalities

    if spec.image_column is None:
        return
    flag, value = ("--rewards", spec.rewards) if spec.rewards is not None else ("--model",
                                                                                 spec.model)
    found = rewards_modalities(value) if spec.rewards is not None else modalities(value)
    if found is not None and "image" not in found:
        raise OptionError(f"--image-column: not read by {flag} {value} (it scores "
                          f"{' and '.join(sorted(found))} responses); leave it out")


def no_spread(model: Any) -> str | None:
    """Why ``model`` gives no spread to report (None when it does): it has no
    ``score_with_uncertainty``, or one member without dropout (its spread is 0 for every
    response); two or more members, or MC-dropout passes of one, give one."""
    from rewardlab.verbs.loading import member_count

    if not hasattr(model, "score_with_uncertainty"):
        return "it reports no uncertainty"
    count = member_count(model)
    dropout = getattr(getattr(model, "members", model), "has_dropout", lambda: False)()
    if count == 1 and not dropout:
        return "one member, no dropout: every row would get 0"
    return None


def attribute_scorer(model: Any) -> Any:
    """``score_attributes`` of ``model`` or, aggregated, of its members; None without."""
    return getattr(model, "score_attributes", None) or getattr(
        getattr(model, "members", None), "score_attributes", None)


def load_reward(spec: ScoreSpec,
                progress: Callable[[str, int, int], None] | None = None) -> Any:
    """The reward of ``spec``, refused before the data when it cannot give what is asked;
    its loading goes to ``progress`` (:func:`~rewardlab.verbs.loading.load_source`)."""
    from rewardlab.load import require_score
    from rewardlab.verbs.loading import load_source

    model = load_source(spec, ("score",), progress)
    if spec.rewards is not None:
        if spec.reference_column is not None and not getattr(model, "requires_reference", False):
            raise OptionError(f"--reference-column: not read by --rewards {spec.rewards} (it "
                              "checks no reference); leave it out")
        return model
    require_score(model, spec.model)
    reason = no_spread(model) if spec.uncertainty else None
    if reason is not None:
        raise OptionError(f"--uncertainty: --model {spec.model} gives no spread ({reason}); "
                          "leave it out")
    if spec.attributes and attribute_scorer(model) is None:
        raise OptionError(f"--attributes: model {spec.model!r} has no named outputs (a "
                          "multi-output Hugging Face classifier has them)")
    return model


def read_rows(spec: ScoreSpec) -> tuple[list[dict], list[int], list[Any]]:
    """The rows, their line numbers and each row's response (text or decoded image)."""
    from rewardlab.data.errors import DataError
    from rewardlab.data.io import read_rows as read

    data = Path(spec.data)
    rows, lines, responses = [], [], []
    for line, row in read(data):
        column = spec.image_column or ("image" if "response" not in row and "image" in row
                                       else None)
        for name in ("prompt",) if column else ("prompt", "response"):
            if not isinstance(row.get(name), str):
                raise DataError("missing or not a string", path=str(data), line=line, field=name)
        responses.append(image_response(row, column, data, line) if column else row["response"])
        rows.append(row)
        lines.append(line)
    if not rows:
        raise DataError("no rows to score", path=str(data))
    return rows, lines, responses


def score(spec: ScoreSpec,
          progress: Callable[[str, int, int], None] | None = None) -> ScoreResult:
    """Check ``spec``, load the reward, read and score the rows, write ``out``; the loading
    and a language model's forward batches go to ``progress``
    (:func:`~rewardlab.verbs.loading.load_source`,
    :func:`~rewardlab.verbs.loading.report_batches`)."""
    from rewardlab.data.io import write_jsonl
    from rewardlab.verbs.loading import report_batches

    check_spec(spec)
    model = report_batches(load_reward(spec, progress), progress)
    rows, lines, responses = read_rows(spec)
    prompts = [row["prompt"] for row in rows]
    if spec.rewards is not None:
        from rewardlab.verbs.rows import component_fields, score_rows

        rewards, parts = score_rows(model, rows, lines, Path(spec.data), spec.reference_column,
                                    responses)
        for field, values in component_fields(rows, parts, Path(spec.data)).items():
            for row, value in zip(rows, values, strict=True):
                row[field] = float(value)
    elif spec.uncertainty:
        rewards, spread = model.score_with_uncertainty(prompts, responses)
        for row, value in zip(rows, spread, strict=True):
            row["uncertainty"] = float(value)
    else:
        rewards = model.score(prompts, responses)
    if spec.attributes:
        for name, values in attribute_scorer(model)(prompts, responses).items():
            field = f"reward_{name}" if name in rows[0] else name
            for row, value in zip(rows, values, strict=True):
                row[field] = float(value)
    for row, value in zip(rows, rewards, strict=True):
        row["reward"] = float(value)
    write_jsonl(Path(spec.out), rows)
    return ScoreResult(rows, Path(spec.out))


def image_response(row: dict, column: str, data: Path, line: int) -> object:
    """The decoded image of ``row[column]``; a cell that is not a path is replaced in the
    row by its pixel digest (JSON holds no bytes)."""
    from rewardlab.data.errors import DataError
    from rewardlab.data.image_cells import is_path_cell, read_image_cell
    from rewardlab.data.modality import jsonable_response

    if column not in row:
        raise DataError("missing image column", path=str(data), line=line, field=column)
    pixels = read_image_cell(row[column], data, line, column)
    if not is_path_cell(row[column]):
        row[column] = jsonable_response(pixels)
    return pixels
