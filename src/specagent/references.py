"""Argument references: a call's argument may name part of an earlier call's result.

An argument value that is a string of the form ``$N`` or ``$N.path`` (path parts separated by
dots; a number indexes a list) stands for call N's result, or a part of it. Such a call
depends on N implicitly and runs once N's result exists, e.g.::

    <tool_call id="2" depends="1">{"name": "book_flight",
        "arguments": {"flight_id": "$1.flights.0.flight_id"}}</tool_call>
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .errors import SpecagentError

__all__ = ["find_references", "resolve_references", "ResultReferenceError"]

_REF_RE = re.compile(r"^\$(\d+)((?:\.[A-Za-z0-9_\-]+)*)$")


class ResultReferenceError(SpecagentError, ValueError):
    """A reference names a result, or a part of one, that does not exist."""


def _walk(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [s for v in value.values() for s in _walk(v)]
    if isinstance(value, list):
        return [s for v in value for s in _walk(v)]
    return []


def find_references(arguments: Mapping[str, Any]) -> set[int]:
    """The call ids an argument set refers to."""
    out = set()
    for text in _walk(dict(arguments)):
        m = _REF_RE.match(text)
        if m:
            out.add(int(m.group(1)))
    return out


def _lookup(call_id: int, path: str, results: Mapping[int, Any]) -> Any:
    if call_id not in results:
        raise ResultReferenceError(f"${call_id} has no result")
    value = results[call_id]
    for part in [p for p in path.split(".") if p]:
        if isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        elif isinstance(value, Mapping) and part in value:
            value = value[part]
        else:
            raise ResultReferenceError(
                f"${call_id}{path}: no {part!r} in the result of call {call_id}"
            )
    return value


def resolve_references(value: Any, results: Mapping[int, Any]) -> Any:
    """``value`` with every reference replaced by what it names."""
    if isinstance(value, str):
        m = _REF_RE.match(value)
        return _lookup(int(m.group(1)), m.group(2), results) if m else value
    if isinstance(value, Mapping):
        return {k: resolve_references(v, results) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_references(v, results) for v in value]
    return value
