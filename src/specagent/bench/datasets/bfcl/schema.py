"""BFCL function docs to JSON Schema, so the benchmark's functions become ordinary tools.

BFCL writes parameter types in its own vocabulary, shared with its checker: ``dict`` for an
object, ``float`` for a number, ``tuple`` for a fixed list and ``any`` for no constraint, beside
the JSON Schema names. :class:`~specagent.tools.Tool` validates arguments with JSON Schema, so
this module rewrites a doc's ``parameters`` into valid Draft 2020-12 JSON Schema. The raw doc is
kept unchanged elsewhere: the call checker needs BFCL's own type names.

The schema is what the model is shown. Arguments are *not* validated against it
(:class:`AnyArguments` accepts any JSON object): BFCL never validates a call before running or
judging it, its own answers break its docs in places (``'ticket_001'`` for an ``integer``
ticket id, ``True`` for a ``string`` enum of ``'True'``/``'False'``, values outside an
``enum``), and its checker or backend is what judges a wrong argument.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Mapping
from typing import Any

import jsonschema
import pydantic

from ....errors import SpecagentError

__all__ = ["AnyArguments", "BfclSchemaError", "to_json_schema"]


class AnyArguments(pydantic.BaseModel):
    """Tool arguments as BFCL takes them: any JSON object, judged later, never refused."""

    model_config = pydantic.ConfigDict(extra="allow")


_TYPE_NAMES: dict[str, str | None] = {
    "string": "string",
    "integer": "integer",
    "boolean": "boolean",
    "array": "array",
    "object": "object",
    "number": "number",
    "null": "null",
    "dict": "object",
    "float": "number",
    "tuple": "array",
    "any": None,  # no type constraint
}


class BfclSchemaError(SpecagentError, ValueError):
    """A BFCL function doc uses a type this adapter does not know."""

    def __init__(self, where: str, detail: str) -> None:
        self.where = where
        super().__init__(f"BFCL function doc {where}: {detail}")


def _convert(node: Any, where: str) -> Any:
    if not isinstance(node, Mapping):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "type":
            names = value if isinstance(value, list) else [value]
            mapped: list[str] = []
            for name in names:
                if not isinstance(name, str) or name not in _TYPE_NAMES:
                    raise BfclSchemaError(where, f"unknown type {name!r}")
                target = _TYPE_NAMES[name]
                if target is None:  # "any" anywhere in the list means anything goes
                    mapped = []
                    break
                if target not in mapped:
                    mapped.append(target)
            else:
                out["type"] = mapped[0] if len(mapped) == 1 else mapped
            continue
        if key == "properties" and isinstance(value, Mapping):
            out[key] = {p: _convert(v, f"{where}.{p}") for p, v in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, Mapping):
            out[key] = _convert(value, f"{where}[{key}]")
        elif key == "optional":
            continue  # BFCL's own marker; JSON Schema says the same with ``required``
        else:
            out[key] = value
    return out


def to_json_schema(parameters: Mapping[str, Any], *, function: str = "?") -> dict[str, Any]:
    """The JSON Schema equivalent of a BFCL ``parameters`` block (checked to be valid).

    Checking a schema costs milliseconds and every run builds its tools afresh, so results
    are cached by the block's content; each caller gets its own copy.
    """
    key = json.dumps(parameters, sort_keys=True, default=repr)
    return copy.deepcopy(_cached(key, function))


@functools.lru_cache(maxsize=8192)
def _cached(key: str, function: str) -> dict[str, Any]:
    schema = _convert(json.loads(key), function)
    if not isinstance(schema, dict):
        raise BfclSchemaError(function, "parameters is not an object")
    schema.setdefault("type", "object")
    schema.setdefault("properties", {})
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise BfclSchemaError(function, f"not valid JSON Schema after conversion: {exc.message}")
    return schema
