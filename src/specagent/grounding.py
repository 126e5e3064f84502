"""The grounding guard: an early call may only use values the session has already seen.

Before the user has finished, a model may call a tool on a guess ("What's the…" becomes a
weather lookup for a city nobody named). Such a call wastes a tool call and, worse, its result
steers the model's later decisions. The guard checks every string argument of a call made
before the final update against the evidence so far (the user's words and the tool results):
a value found in neither is *ungrounded*, and the call does not run.

Matching is deliberately loose (case-insensitive, ignoring punctuation, any word of the value
found counts), so that reformatted values ("paris" for "Paris,") pass; short strings are not
checked. Numbers are checked too (a model streaming "the roots of the equation where" wrote
``a=1, b=2, c=1`` before the user said the coefficients): a number is grounded when it was
said in digits or, up to twenty and in tens, in words ("a table for two").

The guard also reads a call *while it is being written* (:func:`values_written_so_far`), so a
session can stop a guess as soon as it appears instead of letting the model finish a call that
will be refused anyway.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass
from typing import Any

from .events import Event, ToolCallFinished, UserSpeech

__all__ = [
    "WrittenValue",
    "evidence_in",
    "grounded_prefix",
    "said_values_prefix",
    "schema_choices",
    "ungrounded_values",
    "values_written_so_far",
]

_WORD_RE = re.compile(r"[a-z0-9]+")
_MIN_CHECKED = 3  # shorter strings ("", "am", "2") are not evidence either way


def _words(text: str) -> set[str]:
    return set(_WORD_RE.findall(text.lower()))


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


_NUMBER_RE = re.compile(r"\d+(?:\.\d+)?")
_NUMBER_WORDS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty"
).split()
_TENS = {
    30: "thirty",
    40: "forty",
    50: "fifty",
    60: "sixty",
    70: "seventy",
    80: "eighty",
    90: "ninety",
    100: "hundred",
}


def _numbers(value: Any) -> Iterable[float]:
    if isinstance(value, bool):
        return
    if isinstance(value, (int, float)):
        yield float(value)
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from _numbers(v)
    elif isinstance(value, list):
        for v in value:
            yield from _numbers(v)


_SIGNED_NUMBER_RE = re.compile(r"(?<![a-z0-9])-?\d+(?:\.\d+)?|\d+(?:\.\d+)?", re.IGNORECASE)


def _said_numbers(evidence: str, words: set[str]) -> set[float]:
    """Numbers said in digits (with their sign: "x = -2" says -2, not 2) or in words."""
    said = {float(n) for n in _SIGNED_NUMBER_RE.findall(evidence)}
    said.update(float(i) for i, w in enumerate(_NUMBER_WORDS) if w in words)
    said.update(float(n) for n, w in _TENS.items() if w in words)
    return said


def evidence_in(events: Iterable[Event]) -> str:
    """What a session has seen, as evidence: the user's words and every tool result."""
    parts = []
    for event in events:
        if isinstance(event, UserSpeech):
            parts.append(event.text)
        elif isinstance(event, ToolCallFinished):
            parts.append(json.dumps(event.result, default=str))
    return " ".join(parts)


_QUOTED_RE = re.compile(r"'([^'\n]{2,60})'|\"([^\"\n]{2,60})\"")


def schema_choices(schema: Mapping[str, Any], description: str = "") -> set[str]:
    """The values a tool offers as fixed choices: ``enum``, ``const`` and a parameter's
    ``default`` in its JSON Schema, and values its descriptions quote ("the reason, either
    'no longer needed' or 'ordered by mistake'"). The model picks one of them, it does not
    invent it, so they need no evidence. (A default is what the tool would use anyway: a
    model that writes ``duration_minutes: 60`` for a parameter defaulting to 60 has not
    guessed; refusing it cost a right answer on the train split.)"""
    found: set[str] = set()

    def quoted(text: str) -> None:
        for single, double in _QUOTED_RE.findall(text):
            found.add(single or double)

    quoted(description)

    def visit(node: Any) -> None:
        if isinstance(node, Mapping):
            for choice in node.get("enum", ()) or ():
                found.add(str(choice))
            if "const" in node:
                found.add(str(node["const"]))
            default = node.get("default")
            if isinstance(default, (str, int, float)) and not isinstance(default, bool):
                found.add(f"{default:g}" if isinstance(default, float) else str(default))
            if isinstance(node.get("description"), str):
                quoted(node["description"])
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(schema)
    return found


def ungrounded_values(
    arguments: Mapping[str, Any], evidence: str, *, choices: Set[str] = frozenset()
) -> list[str]:
    """Argument values (strings, numbers) that do not occur in ``evidence``; a value among
    ``choices`` (see :func:`schema_choices`) is always grounded."""
    seen = _words(evidence)
    said = _said_numbers(evidence, seen)
    missing = [  # a negative value may have been said as "minus 5"
        f"{n:g}" for n in _numbers(dict(arguments)) if n not in said and not (n < 0 and -n in said)
    ]
    for value in _strings(dict(arguments)):
        words = [w for w in _WORD_RE.findall(value.lower()) if len(w) >= _MIN_CHECKED]
        if value.startswith("$") or not words or value in choices:
            continue  # a reference to an earlier result, nothing checkable, or a fixed choice
        if not any(w in seen for w in words):
            missing.append(value)
    return [m for m in missing if m not in choices]


_ARGUMENTS_KEY = '"arguments"'
_NUMBER_END = frozenset(",}] \n\t")


@dataclass(frozen=True)
class WrittenValue:
    """An argument value found complete in a half-written call."""

    value: Any
    item_start: int
    """Index in the call text where the top-level argument holding it begins (just after
    the ``{`` or ``,`` before its key): cutting there keeps only the arguments before it."""


def _scan_written(partial_call: str) -> list[WrittenValue]:
    return _scan(partial_call)[0]


def _scan(partial_call: str) -> tuple[list[WrittenValue], int | None]:
    """The complete values of a half-written call, and where a string or number still being
    written begins (``None`` if the text does not end inside one)."""
    start = partial_call.find(_ARGUMENTS_KEY)
    if start < 0:
        return [], None
    found: list[WrittenValue] = []
    open_containers: list[str] = []
    previous = ""  # the last significant character outside strings
    item_start = -1
    i, n = start + len(_ARGUMENTS_KEY), len(partial_call)
    text = partial_call
    while i < n:
        ch = text[i]
        in_array = bool(open_containers) and open_containers[-1] == "["
        if ch == '"':
            j, chars = i + 1, []
            while j < n and text[j] != '"':
                if text[j] == "\\" and j + 1 < n:
                    j += 1
                chars.append(text[j])
                j += 1
            if j >= n:
                return found, i  # the string is still being written
            if open_containers and (previous == ":" or in_array):
                found.append(WrittenValue("".join(chars), item_start))
            previous, i = '"', j + 1
        elif ch == "-" or ch.isdigit():
            match = _NUMBER_RE.match(text, i + (ch == "-"))
            end = match.end() if match else i + 1
            if end >= n:
                return found, i  # the number may still grow
            if open_containers and text[end] in _NUMBER_END and (previous == ":" or in_array):
                number = float(text[i:end])
                found.append(
                    WrittenValue(int(number) if number.is_integer() else number, item_start)
                )
            previous, i = "0", end
        else:
            if ch in "{[":
                open_containers.append(ch)
                if len(open_containers) == 1:
                    item_start = i + 1
            elif ch in "}]" and open_containers:
                open_containers.pop()
                if not open_containers:
                    break  # the arguments object is closed
            elif ch == "," and len(open_containers) == 1:
                item_start = i + 1
            if not ch.isspace():
                previous = ch
            i += 1
    return found, None


def values_written_so_far(partial_call: str) -> list[Any]:
    """The argument values a half-written tool call already holds in full.

    Scans the JSON after ``"arguments"``: a string value counts once its closing quote is
    written, a number once a delimiter follows it; object keys are skipped. Malformed or
    unfinished text simply yields fewer values; this never raises.
    """
    return [w.value for w in _scan_written(partial_call)]


def grounded_prefix(partial_call: str, evidence: str) -> tuple[str, int] | None:
    """A half-written call cut just before its first argument whose value nobody has said,
    with the number of (said) values the kept part holds; ``None`` while every value written
    so far was said."""
    for written in _scan_written(partial_call):
        if ungrounded_values({"value": written.value}, evidence):
            before = partial_call[: written.item_start]
            return before, len(_scan_written(before))
    return None


def said_values_prefix(call_text: str, evidence: str) -> str:
    """``call_text`` cut before its first argument whose value ``evidence`` does not hold, or,
    failing that, before a key or value still being written at its end (in both cases also
    before a comma that announced it); else unchanged.

    For a guessed call used as a draft (:mod:`specagent.agent.verified`): a draft then
    carries only values that were said, and never guesses how an unfinished value ends.
    """
    cut = grounded_prefix(call_text, evidence)
    if cut is not None:
        return _without_trailing_comma(cut[0])
    _, unfinished = _scan(call_text)
    return call_text if unfinished is None else _without_trailing_comma(call_text[:unfinished])


def _without_trailing_comma(text: str) -> str:
    """``text`` without a comma that ends it: whether another argument follows is the
    model's choice to make."""
    stripped = text.rstrip()
    return stripped[:-1].rstrip() if stripped.endswith(",") else text
