"""Anthropic HH-RLHF: ``{chosen, rejected}`` whole transcripts.

Bai et al., "Training a Helpful and Harmless Assistant with Reinforcement
Learning from Human Feedback", 2022 (https://github.com/anthropic/hh-rlhf).
Each side is a transcript ``\\n\\nHuman: … \\n\\nAssistant: …``; the two share
every turn but the last assistant turn. The split is

    prompt   = transcript up to and including its last ``\\n\\nAssistant:``
    response = the text after it, stripped.

A few real records have a response that itself contains ``\\n\\nAssistant:``
(the model wrote a turn marker); there the shorter transcript's prompt is a
prefix of the other, and that shared prompt is used. Transcripts that share
no such prompt raise :class:`DataError` naming the line and the field.
"""

from __future__ import annotations

from rewardlab.data.errors import DataError
from rewardlab.data.formats._base import FORMATS, Rows, detected_by, require_str
from rewardlab.data.record import Comparison

ASSISTANT = "\n\nAssistant:"


def _prompt_of(text: str, path: str, line: int, field: str) -> str:
    end = text.rfind(ASSISTANT)
    if end < 0:
        raise DataError(
            "transcript has no '\\n\\nAssistant:' turn", path=path, line=line, field=field
        )
    return text[: end + len(ASSISTANT)]


def split_transcripts(
    chosen: str,
    rejected: str,
    path: str,
    line: int,
    fields: tuple[str, str] = ("chosen", "rejected"),
) -> tuple[str, str, str]:
    """``(prompt, chosen response, rejected response)`` of two transcripts sharing a prompt."""
    chosen_prompt = _prompt_of(chosen, path, line, fields[0])
    rejected_prompt = _prompt_of(rejected, path, line, fields[1])
    if chosen_prompt == rejected_prompt or chosen.startswith(rejected_prompt):
        prompt = rejected_prompt
    elif rejected.startswith(chosen_prompt):
        prompt = chosen_prompt
    else:
        raise DataError(
            f"does not share the prompt of {fields[0]!r}: the transcripts must differ "
            "only in the last assistant turn",
            path=path,
            line=line,
            field=fields[1],
        )
    return (
        prompt.rstrip(),
        chosen[len(prompt) :].strip(),
        rejected[len(prompt) :].strip(),
    )


def _transcript_rows(row: dict) -> bool:
    """``{chosen, rejected}`` without a prompt, both strings with ``\\n\\nHuman:``."""
    return {"chosen", "rejected"} <= row.keys() and row.get("prompt") is None and all(
        isinstance(row[k], str) and "\n\nHuman:" in row[k] for k in ("chosen", "rejected"))


@FORMATS.register("hh-rlhf")
@detected_by(42, _transcript_rows)
def load_hh_rlhf(rows: Rows, path: str) -> list[Comparison]:
    """One pair per row: chosen at index 0, ``ranking=(0, 1)``."""
    records = []
    for line, row in rows:
        prompt, chosen, rejected = split_transcripts(
            require_str(row, "chosen", path, line),
            require_str(row, "rejected", path, line),
            path,
            line,
        )
        records.append(
            Comparison(prompt, (chosen, rejected), ranking=(0, 1), source=f"{path}:{line}")
        )
    return records
