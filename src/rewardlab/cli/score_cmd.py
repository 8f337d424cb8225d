"""``rewardlab score``: add a reward to every ``{prompt, response}`` line."""

from __future__ import annotations

from pathlib import Path

import typer

from rewardlab.cli.common import console, user_errors


def register(app: typer.Typer) -> None:
    app.command("score")(score)


def score(
    model: Path = typer.Option(..., help="A model directory written by `rewardlab train`."),
    input: Path = typer.Option(..., help="JSONL/JSON/CSV/Parquet with prompt and response."),
    output: Path = typer.Option(..., help="JSONL to write (input rows + reward)."),
    uncertainty: bool = typer.Option(False, help="Also write the spread across members."),
    aggregate: str = typer.Option(None, help="Aggregation for ensembles (mean, wco, uwo, …)."),
) -> None:
    """Score a file of responses; each output line gets ``reward`` (and ``uncertainty``)."""
    from rewardlab.cli.eval_cmd import load_for_scoring
    from rewardlab.data.errors import DataError
    from rewardlab.data.io import read_rows, write_jsonl

    with user_errors():
        reward_model = load_for_scoring(model, aggregate)
        rows = []
        for line, row in read_rows(input):
            for name in ("prompt", "response"):
                if not isinstance(row.get(name), str):
                    raise DataError("missing or not a string", path=str(input), line=line, field=name)
            rows.append(row)
        prompts = [r["prompt"] for r in rows]
        responses = [r["response"] for r in rows]
        if uncertainty:
            if not hasattr(reward_model, "score_with_uncertainty"):
                raise ValueError(f"{model}: this model reports no uncertainty")
            rewards, spread = reward_model.score_with_uncertainty(prompts, responses)
            for row, s in zip(rows, spread, strict=True):
                row["uncertainty"] = float(s)
        else:
            rewards = reward_model.score(prompts, responses)
        for row, r in zip(rows, rewards, strict=True):
            row["reward"] = float(r)
        write_jsonl(output, rows)
        console.print(f"scored {len(rows)} responses; wrote {output}")
