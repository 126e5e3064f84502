"""BFCL's single-turn call matching (its "AST checker"), reimplemented without its dependencies.

BFCL judges a single-turn answer by comparing the calls a model made with a list of acceptable
values per parameter (``possible_answer``). Its checker module imports model configurations and
tree-sitter packages, so the rules are rewritten here, for Python-typed functions, following
``bfcl_eval/eval_checker/ast_eval/ast_checker.py`` (bfcl-eval 2026.3.23):

* **simple**: exactly one call, of the one function offered.
* **multiple**: as many calls as answers (one), checked against the answer's function.
* **parallel** (and parallel-multiple): as many calls as answers, matched without regard to
  order: each answer, in turn, takes the first still-unmatched call that satisfies it (BFCL's
  greedy matching, kept as is).
* **one call against one answer**: the name must be the answer's function; every required
  parameter present; no parameter the function or the answer does not know; a parameter left
  out only if its acceptable values include ``""``; each value of the right Python type
  (``integer`` is ``int`` and not ``bool``; an ``int`` is accepted for ``float``; ``any`` means
  a string; arrays check their items' type one level deep; a value whose type is that of the
  acceptable values rather than the declared one is a "variable" and compared as is), then
  equal to one acceptable value. Strings, strings inside lists and strings inside dicts are
  compared after BFCL's normalisation: spaces and ``,./-_*^`` removed, lower case, ``'`` as
  ``"``. Dicts compare key by key one level deep; lists of dicts element by element.

Differences from BFCL: names are compared exactly (BFCL also accepts ``.`` written as ``_`` for
model APIs that forbid dots; this project's protocol allows them); a function doc lacking a
``required`` list or an array lacking ``items`` is read as "none" instead of crashing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["CallVerdict", "Mode", "check_calls", "mode_for", "normalise_string"]

Mode = Literal["simple", "multiple", "parallel"]

_PY_TYPES: dict[str, type] = {
    "string": str,
    "integer": int,
    "float": float,
    "boolean": bool,
    "array": list,
    "tuple": list,
    "dict": dict,
    "any": str,
}
_NESTED = ("array", "tuple")
_STRIP = re.compile(r"[ ,./\-_*^]")


@dataclass(frozen=True)
class CallVerdict:
    passed: bool
    detail: str = ""


class _Mismatch(Exception):
    """One call does not satisfy one answer (the message says why)."""


def mode_for(category: str) -> Mode:
    """BFCL's dispatch: ``parallel`` first, then ``multiple``, else ``simple``."""
    if "parallel" in category:
        return "parallel"
    if "multiple" in category:
        return "multiple"
    return "simple"


def normalise_string(text: str) -> str:
    """BFCL's string normalisation before comparing values."""
    return _STRIP.sub("", text).lower().replace("'", '"')


def _answer_type(acceptable: Sequence[Any]) -> type | None:
    for value in acceptable:
        if value != "":
            return type(value)
    return None


def _check_type(
    param: str, value: Any, acceptable: Any, expected: type, nested: type | None
) -> bool:
    """Raise on a type error; return whether the value is a "variable" (compared as is)."""
    answer_type = _answer_type(acceptable) if isinstance(acceptable, (list, tuple)) else None
    variable = answer_type is not None and answer_type is not expected
    if type(value) is expected:
        if nested is None:
            return variable
        for option in acceptable:
            if type(option) is list and not all(
                _type_ok(param, item, option, nested) for item in value
            ):
                continue
            return variable
        raise _Mismatch(f"parameter {param!r}: items of {value!r} are not all {nested.__name__}")
    if answer_type is not None and type(value) is answer_type:
        return True
    raise _Mismatch(
        f"parameter {param!r}: expected {expected.__name__}, got {type(value).__name__} ({value!r})"
    )


def _type_ok(param: str, value: Any, acceptable: Any, expected: type) -> bool:
    try:
        _check_type(param, value, acceptable, expected, None)
    except _Mismatch:
        return False
    return True


def _norm(value: Any) -> Any:
    return normalise_string(value) if type(value) is str else value


def _check_dict(param: str, value: dict[str, Any], acceptable: Sequence[Any]) -> None:
    last = f"parameter {param!r}: no acceptable dict"
    for option in acceptable:
        if option == "":
            continue
        problem = None
        for key, item in value.items():
            if key not in option:
                problem = f"parameter {param!r}: unexpected key {key!r}"
                break
            if _norm(item) not in [_norm(v) for v in option[key]]:
                problem = f"parameter {param!r}: {key}={item!r} not one of {option[key]!r}"
                break
        if problem is None:
            for key, values in option.items():
                if key not in value and "" not in values:
                    problem = f"parameter {param!r}: missing key {key!r}"
                    break
        if problem is None:
            return
        last = problem
    raise _Mismatch(last)


def _check_dict_list(param: str, value: list[Any], acceptable: Sequence[Any]) -> None:
    last = f"parameter {param!r}: no acceptable list of dicts"
    for option in acceptable:
        if len(value) != len(option):
            last = f"parameter {param!r}: {len(value)} dicts, expected {len(option)}"
            continue
        try:
            for got, want in zip(value, option):
                _check_dict(param, got, [want])
        except _Mismatch as exc:
            last = str(exc)
            continue
        return
    raise _Mismatch(last)


def _check_list(param: str, value: list[Any], acceptable: Sequence[Any]) -> None:
    got = [_norm(v) for v in value]
    options = [[_norm(v) for v in option] for option in acceptable]
    if got not in options:
        raise _Mismatch(f"parameter {param!r}: {value!r} not one of {list(acceptable)!r}")


def _check_string(param: str, value: str, acceptable: Sequence[Any]) -> None:
    if normalise_string(value) not in [normalise_string(v) for v in acceptable if type(v) is str]:
        raise _Mismatch(f"parameter {param!r}: {value!r} not one of {list(acceptable)!r}")


def _check_one(doc: Mapping[str, Any], name: str, args: Mapping[str, Any], answer: Mapping) -> None:
    """Raise :class:`_Mismatch` unless the call ``name(**args)`` satisfies ``answer``."""
    acceptable_by_param: Mapping[str, Sequence[Any]] = next(iter(answer.values()))
    expected_name = doc["name"]
    if name != expected_name:
        raise _Mismatch(f"called {name!r}, expected {expected_name!r}")
    properties: Mapping[str, Any] = doc["parameters"].get("properties", {})
    for param in doc["parameters"].get("required", []):
        if param not in args:
            raise _Mismatch(f"missing required parameter {param!r}")
    for param, value in args.items():
        if param not in properties or param not in acceptable_by_param:
            raise _Mismatch(f"unexpected parameter {param!r}")
        acceptable = acceptable_by_param[param]
        type_name = properties[param].get("type")
        if type_name not in _PY_TYPES:
            raise _Mismatch(f"parameter {param!r}: the doc's type {type_name!r} is not Python")
        expected = _PY_TYPES[type_name]
        nested = None
        if type_name in _NESTED:
            item_type = properties[param].get("items", {}).get("type")
            if item_type is not None:
                if item_type not in _PY_TYPES:
                    raise _Mismatch(f"parameter {param!r}: item type {item_type!r} unknown")
                nested = _PY_TYPES[item_type]
        if type_name == "float" and type(value) is int:
            value = float(value)
        if type_name == "tuple" and type(value) is tuple:
            value = list(value)
        variable = _check_type(param, value, acceptable, expected, nested)
        if not variable:
            if expected is dict:
                _check_dict(param, value, acceptable)
                continue
            if expected is list and nested is dict:
                _check_dict_list(param, value, acceptable)
                continue
            if expected is str:
                _check_string(param, value, acceptable)
                continue
            if expected is list:
                _check_list(param, value, acceptable)
                continue
        if value not in acceptable:
            raise _Mismatch(f"parameter {param!r}: {value!r} not one of {list(acceptable)!r}")
    for param, acceptable in acceptable_by_param.items():
        if param not in args and "" not in acceptable:
            raise _Mismatch(f"parameter {param!r} left out but not optional")


def _doc(functions: Sequence[Mapping[str, Any]], name: str) -> Mapping[str, Any]:
    for doc in functions:
        if doc["name"] == name:
            return doc
    raise _Mismatch(f"the answer's function {name!r} is not among the offered functions")


def check_calls(
    functions: Sequence[Mapping[str, Any]],
    calls: Sequence[tuple[str, Mapping[str, Any]]],
    answers: Sequence[Mapping[str, Mapping[str, Sequence[Any]]]],
    mode: Mode,
) -> CallVerdict:
    """Judge the calls a model made (name, arguments; in issue order) against BFCL's answers."""
    try:
        if mode == "simple":
            if len(calls) != 1:
                raise _Mismatch(f"{len(calls)} calls, expected 1")
            _check_one(functions[0], calls[0][0], calls[0][1], answers[0])
        elif mode == "multiple":
            if len(calls) != len(answers):
                raise _Mismatch(f"{len(calls)} calls, expected {len(answers)}")
            _check_one(_doc(functions, next(iter(answers[0]))), *calls[0], answers[0])
        else:
            if len(calls) != len(answers):
                raise _Mismatch(f"{len(calls)} calls, expected {len(answers)}")
            matched: set[int] = set()
            for index, answer in enumerate(answers):
                doc = _doc(functions, next(iter(answer)))
                reasons = []
                for i, (name, args) in enumerate(calls):
                    if i in matched:
                        continue
                    try:
                        _check_one(doc, name, args, answer)
                    except _Mismatch as exc:
                        reasons.append(f"call {i}: {exc}")
                        continue
                    matched.add(i)
                    break
                else:
                    raise _Mismatch(
                        f"no call matches answer {index} ({doc['name']}): " + "; ".join(reasons)
                    )
    except _Mismatch as exc:
        return CallVerdict(False, str(exc))
    return CallVerdict(True)
