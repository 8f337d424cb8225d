"""TRL preference datasets: standard, conversational and implicit-prompt.

Format of Hugging Face TRL's ``RewardTrainer``/``DPOTrainer``
(https://huggingface.co/docs/trl/dataset_formats, "preference"):

- standard: ``{prompt, chosen, rejected}``, all strings;
- conversational: the three are lists of ``{role, content}`` messages;
  ``chosen``/``rejected`` hold the assistant turn(s);
- implicit prompt: ``{chosen, rejected}`` only, two whole transcripts (strings
  or message lists) sharing a prefix: prompt = the shared prefix up to the
  start of the last assistant turn, responses = the remainders.

Conversations are flattened to text in the HH-RLHF style,
``"\\n\\nHuman: …\\n\\nAssistant: …"`` (roles user/human → Human, assistant →
Assistant, system → System); a flattened prompt ends with ``\\n\\nAssistant:``
so it matches HH-RLHF prompts. A response list renders its first (assistant)
message's content, then any further turns in the same style.

Optional columns: ``margin``/``strength`` → strength, ``subset``/``category``
→ category, ``annotator``/``annotator_id`` → annotator, ``id`` → ``meta["id"]``.
"""

from __future__ import annotations

from typing import Any

from rewardlab.data.errors import DataError
from rewardlab.data.formats._base import (
    FORMATS,
    Rows,
    detected_by,
    has_keys,
    optional_number,
    optional_str,
    require,
)
from rewardlab.data.formats.hh_rlhf import ASSISTANT, split_transcripts
from rewardlab.data.record import Comparison

ROLE_NAMES = {"user": "Human", "human": "Human", "assistant": "Assistant", "system": "System"}

Message = tuple[str, str]  # (display role, content)


def _messages(value: list[Any], path: str, line: int, field: str) -> list[Message]:
    messages = []
    for i, message in enumerate(value):
        where = f"{field}[{i}]"
        if not isinstance(message, dict):
            raise DataError(
                f"expected a {{role, content}} message, got {type(message).__name__}",
                path=path,
                line=line,
                field=where,
            )
        role, content = message.get("role"), message.get("content")
        if not isinstance(role, str) or role.lower() not in ROLE_NAMES:
            raise DataError(
                f"role {role!r} is not one of {', '.join(ROLE_NAMES)}",
                path=path,
                line=line,
                field=f"{where}.role",
            )
        if not isinstance(content, str):
            raise DataError(
                f"expected a string, got {type(content).__name__}",
                path=path,
                line=line,
                field=f"{where}.content",
            )
        messages.append((ROLE_NAMES[role.lower()], content))
    return messages


def _text_or_messages(row: dict[str, Any], name: str, path: str, line: int) -> str | list[Message]:
    value = require(row, name, path, line)
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple):
        if not value:
            raise DataError("empty message list", path=path, line=line, field=name)
        return _messages(list(value), path, line, name)
    raise DataError(
        f"expected a string or a list of messages, got {type(value).__name__}",
        path=path,
        line=line,
        field=name,
    )


def flatten(messages: list[Message]) -> str:
    """``"\\n\\nHuman: …\\n\\nAssistant: …"`` for a list of (role, content)."""
    return "".join(f"\n\n{role}: {content}" for role, content in messages)


def _prompt_text(messages: list[Message]) -> str:
    text = flatten(messages)
    return text if messages[-1][0] == "Assistant" else text + ASSISTANT


def _response_text(messages: list[Message], path: str, line: int, field: str) -> str:
    (role, content), rest = messages[0], messages[1:]
    if role != "Assistant":
        raise DataError(
            f"must start with an assistant message, not {role}", path=path, line=line, field=field
        )
    return content + flatten(rest)


def _split_conversations(
    chosen: list[Message], rejected: list[Message], path: str, line: int
) -> tuple[str, str, str]:
    shared = 0
    while shared < min(len(chosen), len(rejected)) and chosen[shared] == rejected[shared]:
        shared += 1
    for start in range(min(shared, len(chosen) - 1, len(rejected) - 1), 0, -1):
        if chosen[start][0] == "Assistant" and rejected[start][0] == "Assistant":
            return (
                _prompt_text(chosen[:start]),
                _response_text(chosen[start:], path, line, "chosen"),
                _response_text(rejected[start:], path, line, "rejected"),
            )
    raise DataError(
        "shares no prompt with 'chosen': the conversations must agree up to an assistant turn",
        path=path,
        line=line,
        field="rejected",
    )


def _pair(row: dict[str, Any], path: str, line: int) -> tuple[str, str, str]:
    chosen = _text_or_messages(row, "chosen", path, line)
    rejected = _text_or_messages(row, "rejected", path, line)
    if row.get("prompt") is None:
        if isinstance(chosen, str) != isinstance(rejected, str):
            raise DataError(
                "must be the same kind (text or messages) as 'chosen'",
                path=path,
                line=line,
                field="rejected",
            )
        if isinstance(chosen, list) and isinstance(rejected, list):
            return _split_conversations(chosen, rejected, path, line)
        return split_transcripts(str(chosen), str(rejected), path, line)
    prompt = _text_or_messages(row, "prompt", path, line)
    return (
        prompt if isinstance(prompt, str) else _prompt_text(prompt),
        chosen if isinstance(chosen, str) else _response_text(chosen, path, line, "chosen"),
        rejected if isinstance(rejected, str) else _response_text(rejected, path, line, "rejected"),
    )


@FORMATS.register("trl")
@detected_by(50, has_keys("chosen", "rejected"))  # any pair the rules above leave
def load_trl(rows: Rows, path: str) -> list[Comparison]:
    """One pair per row: chosen at index 0, ``ranking=(0, 1)``."""
    records = []
    for line, row in rows:
        prompt, chosen, rejected = _pair(row, path, line)
        row_id = optional_str(row, ("id",), path, line)
        records.append(
            Comparison(
                prompt,
                (chosen, rejected),
                ranking=(0, 1),
                strength=optional_number(row, ("margin", "strength"), path, line),
                annotator=optional_str(row, ("annotator", "annotator_id"), path, line),
                category=optional_str(row, ("subset", "category"), path, line),
                source=f"{path}:{line}",
                meta={} if row_id is None else {"id": row_id},
            )
        )
    return records
