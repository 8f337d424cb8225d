"""``rewardlab score``: add a reward to every ``{prompt, response}`` line.

``--model`` scores with any model spec (a rewardlab directory, a Hugging Face
folder, ``hf:ORG/NAME``, a judge, or a comma list of them as one ensemble;
:mod:`rewardlab.cli.model_options`); ``--rewards`` with a verifier or
recipe, whose references come from a column (:mod:`rewardlab.cli.rewards_option`).

Image responses come from an image column (``--image-column``, or ``image``
when the rows have no ``response``): a path relative to the data file, a base64
image or image bytes (:mod:`rewardlab.data.image_cells`); a cell that does not
decode is one error naming the file, line and column. The output keeps a path
as written and replaces bytes or base64 with ``{"sha256": pixel digest}``.
"""

from __future__ import annotations

from pathlib import Path

import typer

from rewardlab.cli.command import command
from rewardlab.cli.common import console, user_errors
from rewardlab.cli.model_options import (
    MODEL_HELP,
    ModelLoading,
    aggregate_option,
    load_model_option,
    model_option,
    require_score,
    with_model_loading,
)
from rewardlab.cli.rewards_option import (
    load_cli_rewards,
    reference_column_option,
    rewards_option,
    unsafe_no_sandbox_option,
)
from rewardlab.verbs.outputs import check_out_file


def register(app: typer.Typer) -> None:
    command(app, "score", renamed={"--input": "--data", "--output": "--out"})(score)


@with_model_loading
def score(
    model: str = model_option(required=False, help=MODEL_HELP + " Or give --rewards."),
    rewards: str = rewards_option(
        "Verifier name (math, choice, code, …) or recipe file, instead of --model."
    ),
    reference_column: str = reference_column_option(),
    unsafe_no_sandbox: bool = unsafe_no_sandbox_option(),
    data: Path = typer.Option(
        ..., "--data", help="JSONL/JSON/CSV/Parquet with prompt and response."
    ),
    out: Path = typer.Option(..., "--out", help="JSONL to write (input rows + reward)."),
    image_column: str = typer.Option(
        None, "--image-column",
        help="Column of image responses (a path relative to the data file, base64, or bytes "
        "in Parquet); default 'image' when the rows have no 'response'.",
    ),
    uncertainty: bool = typer.Option(False, help="Also write the spread across members."),
    attributes: bool = typer.Option(
        False, "--attributes",
        help="Also write each output of a multi-output model as its own column (names from "
        "the model's id2label).",
    ),
    aggregate: str = aggregate_option(),
    loading: ModelLoading = None,
) -> None:
    """Score a file of responses; each output line gets ``reward`` (and ``uncertainty``;
    with --rewards, ``reward_<component>`` for each component of the recipe).

    The output is strict JSON: a non-finite number, in a copied input column or a
    reward, is written as ``null``."""
    from rewardlab.data.errors import DataError
    from rewardlab.data.io import read_rows, write_jsonl

    if (model is None) == (rewards is None):
        raise typer.BadParameter("give exactly one of --model and --rewards", param_hint="--model")
    if rewards is not None and (uncertainty or aggregate or attributes):
        raise typer.BadParameter(
            "--rewards takes none of --uncertainty, --aggregate and --attributes"
        )
    with user_errors():
        check_out_file(out)
        if rewards is not None:
            reward_model = load_cli_rewards(rewards)
        else:
            reward_model = require_score(load_model_option(model, loading, aggregate), model)
        rows, lines, responses = [], [], []
        for line, row in read_rows(data):
            column = image_column or ("image" if "response" not in row and "image" in row
                                      else None)
            for name in ("prompt",) if column else ("prompt", "response"):
                if not isinstance(row.get(name), str):
                    raise DataError("missing or not a string", path=str(data), line=line, field=name)
            responses.append(image_response(row, column, data, line) if column
                             else row["response"])
            rows.append(row)
            lines.append(line)
        if not rows:
            raise DataError("no rows to score", path=str(data))
        prompts = [r["prompt"] for r in rows]
        if rewards is not None:
            from rewardlab.cli.rewards_option import component_fields, score_rows

            rewards_out, parts = score_rows(reward_model, rows, lines, data, reference_column)
            for field, values in component_fields(rows, parts, data).items():
                for row, v in zip(rows, values, strict=True):
                    row[field] = float(v)
        elif uncertainty:
            if not hasattr(reward_model, "score_with_uncertainty"):
                raise ValueError(f"{model}: this model reports no uncertainty")
            rewards_out, spread = reward_model.score_with_uncertainty(prompts, responses)
            for row, s in zip(rows, spread, strict=True):
                row["uncertainty"] = float(s)
        else:
            rewards_out = reward_model.score(prompts, responses)
        if attributes:
            write_attributes(reward_model, model, rows, prompts, responses)
        for row, r in zip(rows, rewards_out, strict=True):
            row["reward"] = float(r)
        write_jsonl(out, rows)
        console.print(f"scored {len(rows)} responses; wrote {out}")


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


def write_attributes(
    reward_model: object, spec: str, rows: list[dict], prompts: list[str], responses: list[str]
) -> None:
    """Add each named output of ``score_attributes`` (of the model or, aggregated, of its
    members) to ``rows``."""
    score_attributes = getattr(reward_model, "score_attributes", None) or getattr(
        getattr(reward_model, "members", None), "score_attributes", None
    )
    if score_attributes is None:
        raise ValueError(
            f"--attributes: model {spec!r} has no named outputs (a multi-output Hugging Face "
            "classifier has them)"
        )
    for name, values in score_attributes(prompts, responses).items():
        field = f"reward_{name}" if name in rows[0] else name
        for row, v in zip(rows, values, strict=True):
            row[field] = float(v)
