"""A GBNF grammar of the actions a model may write, built from its tools' JSON Schemas.

Why: small models often write a tool name that does not exist, an argument the tool does not
take, a number as a string, or a tag the parser cannot read; each costs a ``<protocol_error>``
or an ``invalid_arguments`` result and another generation. llama.cpp can constrain sampling to
a grammar (GBNF, its BNF dialect), so a model decoding under this grammar can only write one
canonical action: ``<tool_call id="N">`` with ``"name"`` one of the known tools and
``"arguments"`` matching that tool's schema, ``<remove id="N"/>``, ``<pause/>`` or
``<answer>…</answer>``, optionally after a ``<think>…</think>`` block. Every text the grammar
accepts parses (:func:`~specagent.protocol.parse_output`) with no tolerance noted but
``no_think``. It is used when ``SessionConfig.constrain_calls`` is on (docs/protocol.md,
"Constrained decoding").

What the grammar deliberately leaves out: prose before the action, untagged answers and the
other tolerated forms (the grammar keeps the model on the canonical form); ``<`` in think and
answer text (so ``</think>`` and ``</answer>`` are the only way out of them); an answer of
nothing but whitespace. It bounds runs of whitespace and digits, so a constrained model
cannot loop on them, but not strings.

JSON Schema support is what tool schemas use (pydantic's output, the assistant tools, MCP
servers' simple schemas): ``type`` (one or a list), ``properties`` with ``required`` (present
properties appear in their declared order; optional ones may be left out),
``additionalProperties`` (``false``; a schema for a map with no declared properties),
``items``, ``enum``, ``const``, ``anyOf``, a one-element ``allOf``, and local ``$ref`` to
``$defs``/``definitions``; annotations (``description``, ``default``, ``title``, ...) are
ignored. A tool whose schema uses anything else (``pattern``, ``minimum``, ``format``,
``oneOf``, ...) is not refused: its arguments fall back to any JSON object, and
:attr:`CallGrammar.fallbacks` says which tools did and why. Every value the grammar admits is
valid for the supported schemas (it may admit fewer: only declared properties, in order).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["CallGrammar", "call_grammar", "gbnf_literal"]

_ANNOTATIONS = frozenset(
    {
        "title",
        "description",
        "default",
        "examples",
        "$schema",
        "$id",
        "$comment",
        "deprecated",
        "readOnly",
        "writeOnly",
    }
)
_HANDLED = frozenset(
    {
        "type",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "enum",
        "const",
        "anyOf",
        "allOf",
        "$ref",
        "$defs",
        "definitions",
    }
)
_PRIMITIVES = {
    "string": "string",
    "integer": "integer",
    "number": "number",
    "boolean": "boolean",
    "null": "null",
}

# The protocol's action forms and JSON's building blocks. ``ws`` is bounded so a constrained
# model cannot loop on whitespace; numbers are bounded for the same reason.
_BASE_RULES = r"""
root ::= think? action
think ::= "<think>" [^<]* "</think>" [ \n]{0,2}
id ::= [1-9] [0-9]{0,5}
depends ::= " depends=\"" id ("," id)* "\""
remove ::= "<remove id=\"" id "\"/>"
pause ::= "<pause/>"
answer ::= "<answer>" [ \t\n]{0,4} [^< \t\n] [^<]* "</answer>"
ws ::= [ \t\n]{0,8}
string ::= "\"" char* "\""
char ::= [^"\\\x00-\x1f] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F]{4})
integer ::= "-"? ("0" | [1-9] [0-9]{0,15})
number ::= integer ("." [0-9]{1,16})? ([eE] [-+]? [0-9]{1,3})?
boolean ::= "true" | "false"
null ::= "null"
value ::= object | array | string | number | boolean | null
object ::= "{" ws (member (ws "," ws member)*)? ws "}"
member ::= string ws ":" ws value
array ::= "[" ws (value (ws "," ws value)*)? ws "]"
"""


@dataclass(frozen=True)
class CallGrammar:
    """The grammar for one toolset. ``text`` is GBNF with its start rule named ``root``."""

    text: str
    tools: tuple[str, ...]
    fallbacks: tuple[tuple[str, str], ...] = ()
    """(tool, why) for each tool whose arguments are any JSON object: its schema uses a
    feature the generator does not support."""


class _Unsupported(Exception):
    """A schema feature this generator does not turn into grammar (the tool falls back)."""


def gbnf_literal(text: str) -> str:
    """``text`` as a GBNF string literal (quotes, backslashes and control characters escaped;
    other characters, non-ASCII included, as they are)."""
    out = ['"']
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02X}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _json_literal(value: Any) -> str:
    """A JSON value written as canonically as the protocol renders arguments."""
    return gbnf_literal(json.dumps(value, ensure_ascii=False))


class _SchemaRules:
    """Turns one tool's argument schema into rules named ``<prefix>-<n>``."""

    def __init__(self, root: Mapping[str, Any], prefix: str) -> None:
        self.root = root
        self.prefix = prefix
        self.rules: dict[str, str] = {}
        self._refs: dict[str, str] = {}

    def _rule(self, body: str) -> str:
        name = f"{self.prefix}-{len(self.rules) + 1}"
        self.rules[name] = body
        return name

    def arguments(self, schema: Any) -> str:
        """The rule for a tool's arguments: always a JSON object (the parser requires one)."""
        if not isinstance(schema, Mapping):
            raise _Unsupported("parameters are not a schema object")
        self._check_keywords(schema)
        kind = schema.get("type", "object")
        if kind != "object" or {"enum", "const", "anyOf", "allOf", "$ref"} & schema.keys():
            raise _Unsupported("parameters are not a plain object schema")
        return self._object(schema)

    def value(self, schema: Any) -> str:
        """A GBNF expression for the values ``schema`` admits."""
        if schema is True:
            return "value"
        if not isinstance(schema, Mapping):
            raise _Unsupported(f"schema {schema!r}")
        self._check_keywords(schema)
        assertions = set(schema) - _ANNOTATIONS - {"$defs", "definitions"}
        if not assertions:
            return "value"
        if "$ref" in schema:
            if assertions != {"$ref"}:
                raise _Unsupported("$ref beside other keywords")
            return self._ref(schema["$ref"])
        if "const" in schema:
            return _json_literal(schema["const"])
        if "enum" in schema:
            values = schema["enum"]
            if not isinstance(values, list) or not values:
                raise _Unsupported("enum that is not a non-empty list")
            return "(" + " | ".join(_json_literal(v) for v in values) + ")"
        if "anyOf" in schema or "allOf" in schema:
            return self._combined(schema, assertions)
        kind = schema.get("type")
        if isinstance(kind, list):
            if not kind:
                raise _Unsupported("empty type list")
            return "(" + " | ".join(self._typed(schema, k) for k in kind) + ")"
        if kind is None:
            kind = "object" if "properties" in schema else "array" if "items" in schema else None
            if kind is None:
                return "value"
        return self._typed(schema, kind)

    def _check_keywords(self, schema: Mapping[str, Any]) -> None:
        unknown = sorted(set(schema) - _HANDLED - _ANNOTATIONS)
        if unknown:
            raise _Unsupported(f"keyword {unknown[0]!r}")

    def _combined(self, schema: Mapping[str, Any], assertions: set[str]) -> str:
        if "anyOf" in schema:
            if assertions != {"anyOf"}:
                raise _Unsupported("anyOf beside other keywords")
            options = schema["anyOf"]
            if not isinstance(options, list) or not options:
                raise _Unsupported("anyOf that is not a non-empty list")
            return "(" + " | ".join(self.value(s) for s in options) + ")"
        options = schema["allOf"]
        if assertions != {"allOf"} or not isinstance(options, list) or len(options) != 1:
            raise _Unsupported("allOf of more than one schema")
        return self.value(options[0])

    def _typed(self, schema: Mapping[str, Any], kind: Any) -> str:
        if kind in _PRIMITIVES:
            return _PRIMITIVES[kind]
        if kind == "object":
            return self._object(schema)
        if kind == "array":
            items = schema.get("items", True)
            if isinstance(items, list):
                raise _Unsupported("items as a list (tuple arrays)")
            item = self.value(items)
            return self._rule(f'"[" ws ({item} (ws "," ws {item})*)? ws "]"')
        raise _Unsupported(f"type {kind!r}")

    def _object(self, schema: Mapping[str, Any]) -> str:
        properties = schema.get("properties", {})
        required = schema.get("required", [])
        extra = schema.get("additionalProperties", True)
        if not isinstance(properties, Mapping) or not isinstance(required, list):
            raise _Unsupported("properties or required of the wrong shape")
        missing = [name for name in required if name not in properties]
        if missing:
            raise _Unsupported(f"required property {missing[0]!r} is not declared")
        if not properties:
            if extra is False:
                return self._rule('"{" ws "}"')
            if extra is True:
                return "object"
            member = f'string ws ":" ws {self.value(extra)}'
            return self._rule(f'"{{" ws ({member} (ws "," ws {member})*)? ws "}}"')
        members = [
            (f'{_json_literal(name)} ws ":" ws {self.value(sub)}', name in required)
            for name, sub in properties.items()
        ]
        # Present members in declared order, separated by commas. ``rest[i]``: members i..
        # each preceded by a comma (after at least one member); ``first[i]``: members i.., the
        # first of them without one. Required members cannot be skipped.
        rest = ""
        first = ""
        for index in range(len(members) - 1, -1, -1):
            member, needed = members[index]
            tail = f" {rest}" if rest else ""
            if needed:
                first_body = f"{member}{tail}"
            elif first:
                first_body = f"{member}{tail} | {first}"
            else:
                first_body = f"({member}{tail})?"
            first = self._rule(first_body)
            if index:  # the first member is never preceded by a comma
                comma = f'ws "," ws {member}'
                rest = self._rule(f"{comma}{tail}" if needed else f"({comma})?{tail}")
        return self._rule(f'"{{" ws {first} ws "}}"')

    def _ref(self, ref: Any) -> str:
        match = (
            re.fullmatch(r"#/(\$defs|definitions)/([^/]+)", ref) if isinstance(ref, str) else None
        )
        if match is None:
            raise _Unsupported(f"$ref {ref!r} (only local #/$defs/NAME refs)")
        if ref not in self._refs:
            target = self.root.get(match.group(1), {}).get(match.group(2))
            if target is None:
                raise _Unsupported(f"$ref {ref!r} names nothing")
            name = self._refs[ref] = f"{self.prefix}-{len(self.rules) + 1}"
            self.rules[name] = ""  # reserved: a schema may refer to itself
            self.rules[name] = self.value(target)
        return self._refs[ref]


def _tool_parts(schema: Mapping[str, Any]) -> tuple[str, Any]:
    """(name, parameters) of an OpenAI-style function description, flat or nested."""
    if schema.get("type") == "function" and isinstance(schema.get("function"), Mapping):
        schema = schema["function"]
    name = schema.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError(f"a tool schema has no name: {schema!r}")
    return name, schema.get("parameters", {"type": "object"})


def call_grammar(tool_schemas: Sequence[Mapping[str, Any]]) -> CallGrammar:
    """The grammar of one action for these tools (as ``Toolset.schemas()`` lists them).

    Cached by the schemas' text: a toolset's grammar is built once per process.
    """
    return _build(json.dumps(list(tool_schemas), ensure_ascii=False, default=str))


@functools.lru_cache(maxsize=64)
def _build(schemas_json: str) -> CallGrammar:
    schemas = json.loads(schemas_json)
    rules: dict[str, str] = {}
    names: list[str] = []
    fallbacks: list[tuple[str, str]] = []
    choices: list[str] = []
    for index, schema in enumerate(schemas):
        name, parameters = _tool_parts(schema)
        prefix = f"tool{index}"
        compiler = _SchemaRules(parameters if isinstance(parameters, Mapping) else {}, prefix)
        try:
            arguments = compiler.arguments(parameters)
            rules.update(compiler.rules)
        except (_Unsupported, RecursionError) as exc:
            arguments = "object"
            fallbacks.append((name, str(exc) or type(exc).__name__))
        rules[prefix] = f'{_json_literal(name)} ws "," ws "\\"arguments\\"" ws ":" ws {arguments}'
        choices.append(prefix)
        names.append(name)
    actions = ["remove", "pause", "answer"]
    if choices:
        actions.insert(0, "call")
        rules["call"] = (
            '"<tool_call id=\\"" id "\\"" depends? ">" ws '
            '"{" ws "\\"name\\"" ws ":" ws tool ws "}" ws "</tool_call>"'
        )
        rules["tool"] = " | ".join(choices)
    rules["action"] = " | ".join(actions)
    text = _BASE_RULES.lstrip() + "".join(f"{name} ::= {body}\n" for name, body in rules.items())
    return CallGrammar(text=text, tools=tuple(names), fallbacks=tuple(fallbacks))
