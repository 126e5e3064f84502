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
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["ungrounded_values"]

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
_TENS = {30: "thirty", 40: "forty", 50: "fifty", 60: "sixty", 70: "seventy", 80: "eighty",
         90: "ninety", 100: "hundred"}


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


def _said_numbers(evidence: str, words: set[str]) -> set[float]:
    said = {float(n) for n in _NUMBER_RE.findall(evidence)}
    said.update(float(i) for i, w in enumerate(_NUMBER_WORDS) if w in words)
    said.update(float(n) for n, w in _TENS.items() if w in words)
    return said


def ungrounded_values(arguments: Mapping[str, Any], evidence: str) -> list[str]:
    """Argument values (strings, numbers) that do not occur in ``evidence``."""
    seen = _words(evidence)
    said = _said_numbers(evidence, seen)
    missing = [
        f"{n:g}" for n in _numbers(dict(arguments)) if n not in said and -n not in said
    ]
    for value in _strings(dict(arguments)):
        words = [w for w in _WORD_RE.findall(value.lower()) if len(w) >= _MIN_CHECKED]
        if value.startswith("$") or not words:
            continue  # a reference to an earlier result, or nothing checkable
        if not any(w in seen for w in words):
            missing.append(value)
    return missing
