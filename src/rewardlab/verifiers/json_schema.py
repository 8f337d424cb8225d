"""JSON validity and JSON-Schema conformance.

The JSON text of a response is its last fenced ```` ```json ```` (or plain
```` ``` ````) block when it has one, else the whole response, stripped.

- ``json``: 1.0 when that text parses as JSON (``json.loads``), else 0.0.
- ``json_schema``: 1.0 when it parses and conforms to the schema (the
  ``jsonschema`` package, the draft the schema declares, default Draft 2020-12),
  else 0.0. The schema is the ``schema`` parameter, or the per-sample reference
  (a dict or its JSON text) when no parameter is given. An invalid schema is a
  failure (failure reward, logged).
"""

from __future__ import annotations

import json
import re
from typing import Any

from rewardlab.verifiers._deps import jsonschema
from rewardlab.verifiers.base import Example, Verifier
from rewardlab.verifiers.registry import VERIFIERS

_FENCE = re.compile(r"```(?:json)?\s*\n(.*?)```", re.DOTALL)


def json_text(response: str) -> str:
    """The last fenced block of ``response``, else the whole response, stripped."""
    blocks = _FENCE.findall(response)
    return (blocks[-1] if blocks else response).strip()


def _load(response: str) -> tuple[bool, Any]:
    try:
        return True, json.loads(json_text(response))
    except ValueError:
        return False, None


_AGE = {"type": "object", "properties": {"age": {"type": "integer"}}}


@VERIFIERS.register("json")
class JsonValid(Verifier):
    """1.0 when the response's JSON text parses."""

    name = "json"
    requires_reference = False
    default_timeout = None  # json.loads: linear in the text
    examples = (Example('{"a": [1]}', None, 1.0), Example("{a: 1}", None, 0.0))

    def check(self, prompt: str, response: str, reference: Any) -> float:
        return 1.0 if _load(response)[0] else 0.0


@VERIFIERS.register("json-schema", aliases=("json_schema",))
class JsonSchemaVerifier(Verifier):
    """1.0 when the response's JSON conforms to the schema (parameter, else the reference)."""

    name = "json-schema"
    preload = ("jsonschema",)
    needs = (jsonschema,)
    examples = (Example('{"age": 3}', _AGE, 1.0), Example('{"age": "3"}', _AGE, 0.0),
                Example('{"age": 3}', {"type": "no-such-type"}, None))  # not a schema

    def __init__(
        self,
        schema: dict[str, Any] | None = None,
        failure_reward: float = 0.0,
        timeout: float | None = None,
    ) -> None:
        super().__init__(failure_reward, timeout)
        self.schema = schema
        self.requires_reference = schema is None
        if schema is not None:
            self._validator(schema)

    @staticmethod
    def _validator(schema: dict[str, Any]) -> Any:
        module = jsonschema()
        cls = module.validators.validator_for(schema, default=module.Draft202012Validator)
        try:
            cls.check_schema(schema)
        except module.exceptions.SchemaError as err:
            raise ValueError(f"schema: {err.message}") from None
        return cls(schema)

    def check(self, prompt: str, response: str, reference: Any) -> float:
        schema = self.schema
        if schema is None:
            schema = json.loads(reference) if isinstance(reference, str) else reference
        validator = self._validator(schema)
        ok, value = _load(response)
        return 1.0 if ok and validator.is_valid(value) else 0.0
