"""Request validation for the native routes (``/score``, ``/compare``).

Bodies are checked by hand rather than by pydantic so that every rejection is
one JSON error that names the offending field (``{"error": ..., "field": ...}``)
and the bounds of :class:`~rewardlab.serve.settings.ServeSettings` apply:
at most ``max_items`` items per list, at most ``max_chars`` characters per text.

``/score`` takes ``{"prompts": [...], "responses": [...]}`` (or, for a process
reward model, ``"steps": [[step, ...], ...]`` instead of ``responses``; or, for
an image reward, ``"images": [...]``: each a base64 PNG, JPEG or WebP file,
optionally as a ``data:image/…;base64,`` URL, at most ``max_items`` of them in
a body of at most ``max_body_bytes``; a text limit does not apply) and an
optional ``"uncertainty": true`` and ``"ground_truth": [...]`` (one reference per
item, any JSON value, ``null`` for none: what a verifier or recipe checks the
response against); ``/compare`` takes
``{"prompts": [...], "first": [...], "second": [...]}``.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from rewardlab.serve.settings import ServeSettings


class RequestError(ValueError):
    """A bad request: HTTP ``status`` (4xx), a message and the field at fault."""

    def __init__(self, message: str, *, field: str | None = None, status: int = 400) -> None:
        super().__init__(f"field {field!r}: {message}" if field else message)
        self.field = field
        self.status = status

    def payload(self) -> dict[str, Any]:
        """The JSON body sent back to the client."""
        return {"error": str(self), "field": self.field}


@dataclass(frozen=True)
class ScoreRequest:
    """A validated ``/score`` body; exactly one of ``responses``/``steps`` is set."""

    prompts: list[str]
    responses: list[Any] | None
    steps: list[list[str]] | None
    uncertainty: bool
    references: list[Any] | None = None


@dataclass(frozen=True)
class CompareRequest:
    """A validated ``/compare`` body."""

    prompts: list[str]
    first: list[str]
    second: list[str]


def require_object(body: Any) -> Mapping[str, Any]:
    """The body must be a JSON object."""
    if not isinstance(body, Mapping):
        raise RequestError(f"the request body must be a JSON object, got {_kind(body)}")
    return body


def optional_text_list(
    body: Mapping[str, Any], field: str, settings: ServeSettings
) -> list[str] | None:
    """Like :func:`text_list`, but ``None`` when the field is absent or null."""
    return None if body.get(field) is None else text_list(body, field, settings)


def text_list(body: Mapping[str, Any], field: str, settings: ServeSettings) -> list[str]:
    """``body[field]`` as a non-empty list of at most ``max_items`` bounded strings."""
    value = body.get(field)
    if value is None:
        raise RequestError("is required", field=field)
    if not isinstance(value, list):
        raise RequestError(f"must be a list of strings, got {_kind(value)}", field=field)
    if not value:
        raise RequestError("must not be empty", field=field)
    if len(value) > settings.max_items:
        raise RequestError(
            f"has {len(value)} items; the limit is {settings.max_items}", field=field, status=413
        )
    for i, text in enumerate(value):
        check_text(text, f"{field}[{i}]", settings)
    return value


def check_text(text: Any, field: str, settings: ServeSettings) -> str:
    """One string of at most ``max_chars`` characters that UTF-8 can encode.

    JSON may escape a lone UTF-16 surrogate (``"\\ud800"``), which Python
    decodes into a string that no tokenizer can encode; it is refused here.
    """
    if not isinstance(text, str):
        raise RequestError(f"must be a string, got {_kind(text)}", field=field)
    if len(text) > settings.max_chars:
        raise RequestError(
            f"has {len(text)} characters; the limit is {settings.max_chars}",
            field=field,
            status=413,
        )
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as err:
            raise RequestError(
                f"has a lone surrogate {text[err.start]!r} at character {err.start}; "
                "send valid Unicode text",
                field=field,
            ) from None
    return text


def optional_values(
    body: Mapping[str, Any], field: str, reference: str, n: int
) -> list[Any] | None:
    """``body[field]`` as a list of ``n`` JSON values (like ``reference``), or ``None`` when absent."""
    value = body.get(field)
    if value is None:
        return None
    if not isinstance(value, list):
        raise RequestError(f"must be a list, got {_kind(value)}", field=field)
    same_length(reference, n, **{field: value})
    return value


def same_length(reference: str, n: int, **others: list[Any] | None) -> None:
    """Every list in ``others`` has ``n`` items, like ``reference``."""
    for name, seq in others.items():
        if seq is not None and len(seq) != n:
            raise RequestError(
                f"has {len(seq)} items but {reference!r} has {n}; they must match", field=name
            )


def flag(body: Mapping[str, Any], field: str, default: bool = False) -> bool:
    """An optional boolean field."""
    value = body.get(field, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise RequestError(f"must be true or false, got {_kind(value)}", field=field)
    return value


_DATA_URL = re.compile(r"data:image/[A-Za-z0-9.+-]+;base64,")


def image_list(
    body: Mapping[str, Any],
    field: str,
    settings: ServeSettings,
    decode: Callable[[bytes], Any] | None = None,
) -> list[Any]:
    """``body[field]``: a non-empty list of at most ``max_items`` base64 images (a
    ``data:image/…;base64,`` prefix allowed), each turned into its bytes and, with
    ``decode``, into the decoded image; a bad item is a 400 naming ``field[i]``."""
    value = body.get(field)
    if not isinstance(value, list) or not value:
        raise RequestError(f"must be a non-empty list of base64 images, got {_kind(value)}",
                           field=field)
    if len(value) > settings.max_items:
        raise RequestError(
            f"has {len(value)} items; the limit is {settings.max_items}", field=field, status=413
        )
    images = []
    for i, item in enumerate(value):
        where = f"{field}[{i}]"
        if not isinstance(item, str):
            raise RequestError(f"must be a base64 string, got {_kind(item)}", field=where)
        match = _DATA_URL.match(item)
        try:
            data = base64.b64decode(item[match.end():] if match else item, validate=True)
        except (binascii.Error, ValueError):
            raise RequestError("is not valid base64", field=where) from None
        if decode is not None:
            try:
                images.append(decode(data))
            except ValueError as err:
                raise RequestError(str(err), field=where) from None
        else:
            images.append(data)
    return images


def parse_score(
    body: Any, settings: ServeSettings, decode_image: Callable[[bytes], Any] | None = None
) -> ScoreRequest:
    """Validate a ``/score`` body; ``decode_image`` decodes each of its ``images``."""
    body = require_object(body)
    prompts = text_list(body, "prompts", settings)
    given = [name for name in ("responses", "steps", "images") if body.get(name) is not None]
    if len(given) != 1:
        raise RequestError("give exactly one of 'responses', 'steps' and 'images'",
                           field="responses")
    has_steps = given == ["steps"]
    if given == ["images"]:
        responses: list[Any] | None = image_list(body, "images", settings, decode_image)
    else:
        responses = optional_text_list(body, "responses", settings)
    steps = _steps(body["steps"], settings) if has_steps else None
    same_length("prompts", len(prompts), **{given[0]: steps if has_steps else responses})
    references = optional_values(body, "ground_truth", "prompts", len(prompts))
    return ScoreRequest(prompts, responses, steps, flag(body, "uncertainty"), references)


def parse_compare(body: Any, settings: ServeSettings) -> CompareRequest:
    """Validate a ``/compare`` body."""
    body = require_object(body)
    prompts = text_list(body, "prompts", settings)
    first = text_list(body, "first", settings)
    second = text_list(body, "second", settings)
    same_length("prompts", len(prompts), first=first, second=second)
    return CompareRequest(prompts, first, second)


def _steps(value: Any, settings: ServeSettings) -> list[list[str]]:
    if not isinstance(value, list) or not value:
        raise RequestError("must be a non-empty list of lists of strings", field="steps")
    if len(value) > settings.max_items:
        raise RequestError(
            f"has {len(value)} items; the limit is {settings.max_items}", field="steps", status=413
        )
    for i, item in enumerate(value):
        if not isinstance(item, list) or not item:
            raise RequestError(
                f"must be a non-empty list of strings, got {_kind(item)}", field=f"steps[{i}]"
            )
        if len(item) > settings.max_items:
            raise RequestError(
                f"has {len(item)} steps; the limit is {settings.max_items}",
                field=f"steps[{i}]",
                status=413,
            )
        for j, text in enumerate(item):
            check_text(text, f"steps[{i}][{j}]", settings)
    return value


def _kind(value: Any) -> str:
    """A JSON-flavoured name for the type of ``value``."""
    if value is None:
        return "null"
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string"}
    names.update({list: "a list", dict: "an object"})
    return names.get(type(value), type(value).__name__)
