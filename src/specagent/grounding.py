"""The grounding guard: an early call may only use values the session has already seen.

Before the user has finished, a model may call a tool on a guess ("What's the…" becomes a
weather lookup for a city nobody named). Such a call wastes a tool call and, worse, its result
steers the model's later decisions. The guard checks every string argument of a call made
before the final update against the evidence so far (the user's words and the tool results):
a value found in neither is *ungrounded*, and the call does not run.

Matching is deliberately loose (case-insensitive, ignoring punctuation, any word of the value
found counts), so that reformatted values ("paris" for "Paris,") pass; numbers and short
values are not checked.
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


def ungrounded_values(arguments: Mapping[str, Any], evidence: str) -> list[str]:
    """String argument values none of whose words occur in ``evidence``."""
    seen = _words(evidence)
    missing = []
    for value in _strings(dict(arguments)):
        words = [w for w in _WORD_RE.findall(value.lower()) if len(w) >= _MIN_CHECKED]
        if value.startswith("$") or not words:
            continue  # a reference to an earlier result, or nothing checkable
        if not any(w in seen for w in words):
            missing.append(value)
    return missing
