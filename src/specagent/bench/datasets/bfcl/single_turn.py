"""BFCL single-turn episodes: the offered functions as tools, judged by BFCL's call matching.

Single-turn categories (simple, multiple, parallel, parallel-multiple, live) offer function docs
with no implementation: BFCL only looks at the calls a model writes. Here each function becomes
a tool (its doc rewritten to JSON Schema by :mod:`.schema`, its effect class from
:mod:`.single_turn_effects`) whose call returns a small acknowledgement,
``{"status": "accepted", "function": NAME}``, so a policy sees every call finish. The
acknowledgement carries no information the model could use; the run is judged only by its
committed calls, against BFCL's acceptable values (:mod:`.ast_checker`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ....tools import Effect, Tool, Toolset
from ...episode import Check, EpisodeEnv, TurnRecord, committed_calls
from .ast_checker import Mode, check_calls
from .schema import AnyArguments, to_json_schema
from .single_turn_effects import single_turn_effect

__all__ = ["BfclSingleTurnEnv", "SingleTurnEntry", "acknowledgement", "first_choice_calls"]


@dataclass(frozen=True)
class SingleTurnEntry:
    """One BFCL single-turn entry, parsed."""

    id: str
    category: str
    question: str
    system: str
    functions: tuple[Mapping[str, Any], ...]
    answers: tuple[Mapping[str, Mapping[str, Sequence[Any]]], ...]
    mode: Mode


def acknowledgement(name: str) -> dict[str, str]:
    """What every single-turn tool returns: the call was taken, nothing more."""
    return {"status": "accepted", "function": name}


def _first(acceptable: Sequence[Any], *, required: bool = False) -> tuple[bool, Any]:
    """``(False, None)`` to leave a parameter out (``""`` is acceptable and it is not required),
    else ``(True, value)`` with the first acceptable value."""
    if "" in acceptable and not required:
        return False, None
    for value in acceptable:
        if value != "":
            return True, value
    return False, None


def _concrete(value: Any, schema: Mapping[str, Any]) -> Any:
    """Turn an acceptable value into an argument (dict answers list their keys' options)."""
    kind = schema.get("type")
    if kind == "dict" and isinstance(value, Mapping):
        out = {}
        for key, options in value.items():
            if isinstance(options, list):
                present, chosen = _first(options)
                if present:
                    out[key] = chosen
            else:
                out[key] = options
        return out
    items = schema.get("items", {})
    if kind == "array" and items.get("type") == "dict" and isinstance(value, list):
        return [_concrete(v, items) for v in value]
    return value


def first_choice_calls(entry: SingleTurnEntry) -> list[tuple[str, dict[str, Any]]]:
    """A correct answer: each answer's function, every parameter that may be left out left out
    (unless the doc requires it), the others with their first acceptable value."""
    docs = {doc["name"]: doc for doc in entry.functions}
    calls = []
    for answer in entry.answers:
        name, params = next(iter(answer.items()))
        parameters = docs[name]["parameters"] if name in docs else {}
        properties = parameters.get("properties", {})
        required = set(parameters.get("required", []))
        arguments = {}
        for param, acceptable in params.items():
            present, chosen = _first(acceptable, required=param in required)
            if present:
                arguments[param] = _concrete(chosen, properties.get(param, {}))
        calls.append((name, arguments))
    return calls


class BfclSingleTurnEnv(EpisodeEnv):
    """The entry's functions as acknowledging tools, and BFCL's call matching as checker."""

    def __init__(self, entry: SingleTurnEntry) -> None:
        self.entry = entry
        self._toolset = Toolset(self._make_tool(doc) for doc in entry.functions)

    @staticmethod
    def _make_tool(doc: Mapping[str, Any]) -> Tool:
        name = doc["name"]
        effect = single_turn_effect(name)  # read-only or irreversible; never sandboxable

        async def run(**arguments: Any) -> dict[str, str]:
            return acknowledgement(name)

        return Tool(  # the schema was checked once by to_json_schema
            name=name,
            description=doc.get("description", ""),
            parameters=to_json_schema(doc.get("parameters", {}), function=name),
            fn=run,
            args_model=AnyArguments,
            effect=effect,
        )

    @property
    def toolset(self) -> Toolset:
        return self._toolset

    def context(self) -> str:
        return self.entry.system

    def unrequested_calls(self, turns: Sequence[TurnRecord]) -> int | None:
        """Committed calls to state-changing functions that match no answer of BFCL's (each
        answer pairs with at most one call)."""
        free = list(self.entry.answers)
        extra = 0
        for call in committed_calls(turns):
            tool = self._toolset.get(call.name)
            if tool is None or tool.effect is Effect.READ_ONLY:
                continue
            match = next(
                (
                    a
                    for a in free
                    if check_calls(self.entry.functions, [(call.name, dict(call.arguments))], [a], "parallel").passed
                ),
                None,
            )
            if match is None:
                extra += 1
            else:
                free.remove(match)
        return extra

    def check(self, turns: Sequence[TurnRecord]) -> Check:
        calls = [(c.name, dict(c.arguments)) for c in committed_calls(turns)]
        verdict = check_calls(self.entry.functions, calls, self.entry.answers, self.entry.mode)
        if verdict.passed:
            return Check(True, f"{len(calls)} call(s) match BFCL's answer ({self.entry.mode})")
        return Check(False, verdict.detail)
