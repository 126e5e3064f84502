"""When has a listener heard enough to make an `assistant`-benchmark call? Word by word.

The benchmark's ground truth (:mod:`specagent.bench.datasets.assistant.spec`) gives each
turn's calls with their final, canonical values ("2026-06-05", "19:00", "UA623"), but not when
in the sentence each value becomes known. A teacher that streams the request needs exactly
that, so this module reads a value the way the benchmark's tools read it:

* **said**: a date by its phrase ("on Friday", "tomorrow", "next Friday"), a time by its
  phrase ("at seven", "7:30 pm", "noon"; "afternoon" starts at 12:00), a number in digits or
  words ("for five", "an hour" = 60), "home"/"work" by their synonyms, a contact by first name
  ("Lena's"), any other string as a whole phrase of the words heard;
* **read**: in the result of an earlier call (an e-mail address, a flight number, a
  restaurant's name);
* **composed**: free text the model writes (a message, a title, a subject): known once every
  word of it longer than two letters has been heard or read, otherwise only at the end of the
  turn.

It also says when the *intent* for a tool is first heard (:func:`cue_at`): a weather lookup is
not made on hearing "Denver tomorrow" before "weather" or "forecast" is said. Tools without a
cue in the turn are timed by their values alone. Everything here is a pure function of text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from ..bench.datasets.assistant import seed
from ..bench.datasets.assistant.normalize import (
    UnreadableValue,
    canonical_date,
    canonical_time,
    compact,
    normal_text,
    times_in,
)

__all__ = [
    "COMPOSED",
    "content_words",
    "cue_at",
    "date_phrase",
    "in_results",
    "value_said",
]

COMPOSED = frozenset({"text", "body", "subject", "title"})
"""Arguments the model writes in its own words."""

_WEEKDAY = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
_DATE_RE = re.compile(
    rf"\b(today|tomorrow|tonight|(?:next )?{_WEEKDAY}|june \d{{1,2}}|\d{{4}}-\d{{2}}-\d{{2}})\b"
)
_TIME_RE = re.compile(
    r"\b(?:at|for|to|till|until|by|around) ((?:half past )?\d{1,2}(?::\d{2})?(?: (?:am|pm|o clock))?)"
)
_PLACES = {"home": ("home", "my place", "my house"), "work": ("work", "office")}
_FIRST_NAMES = {c.first.lower() for c in seed.CONTACTS}

_CUES: dict[str, tuple[str, ...]] = {
    "find_contact": ("number", "phone", "address", "email", "e-mail", "contact"),
    "get_weather": ("weather", "forecast", "temperature", "warm", "cold", "hot", "rain",
                    "storm", "sunny", "low", "high"),
    "search_flights": ("flight", "fly"),
    "book_flight": ("book", "get me on"),
    "find_restaurants": ("restaurant", "place", "table", "eat", "food", "dinner"),
    "reserve_table": ("table", "reserve", "book"),
    "get_directions": ("drive", "driving", "walk", "bike", "ride", "long", "far", "directions",
                       "transit", "the t "),
    "get_calendar": ("calendar", "schedule", "agenda", "have", "got on", "anything",
                     "day look"),
    "find_free_time": ("free",),
    "add_calendar_event": ("calendar", "put", "add ", "schedule", "book", "set up"),
    "search_emails": ("email", "e-mail", "mail", "send", "sent", "say", "said"),
    "send_email": ("email", "e-mail", "mail"),
    "send_message": ("text", "message", "tell", "send"),
    "create_reminder": ("remind",),
    "create_note": ("note",),
    "search_notes": ("note",),
    "search_files": ("file", "share", "access"),
    "share_file": ("share", "access", "send"),
    "set_thermostat": ("thermostat", "heat"),
    "set_alarm": ("alarm",),
}  # fmt: skip
"""Words whose first appearance says which tool is wanted (matched as word beginnings)."""


def _dates(text: str) -> dict[str, str]:
    """Canonical date -> the phrase that gave it (first one heard)."""
    found: dict[str, str] = {}
    for match in _DATE_RE.finditer(normal_text(text)):
        phrase = match.group(1)
        try:
            found.setdefault(canonical_date(phrase), phrase)
        except UnreadableValue:
            continue
    return found


def date_phrase(iso: str, *texts: str) -> str | None:
    """How the user said date ``iso`` in the first of ``texts`` that says it ("friday",
    "next friday", "today"), or ``None``. "tonight" is written "today"."""
    for text in texts:
        phrase = _dates(text).get(iso)
        if phrase is not None:
            return "today" if phrase == "tonight" else phrase
    return None


def _times(text: str, key: str) -> set[str]:
    found = set(times_in(text))
    plain = normal_text(text)
    for match in _TIME_RE.finditer(plain):
        for mode in ({}, {"evening": True}, {"morning": True}):
            try:
                found.add(canonical_time(match.group(1), **mode))
            except UnreadableValue:
                continue
    if re.search(r"\bnoon\b", plain):
        found.add("12:00")
    if key == "after" and re.search(r"\bafternoon\b", plain):
        found.add("12:00")
    if key == "after" and re.search(r"\bmorning\b", plain):
        found.add("09:00")
    if key == "before" and re.search(r"\bmorning\b", plain):
        found.add("12:00")
    return found


def _number_said(value: float, text: str) -> bool:
    plain = normal_text(text)
    if re.search(rf"(?<![\d.:]){value:g}(?![\d:])", plain):
        return True
    return (value == 60 and re.search(r"\bhour\b", plain) is not None) or (
        value == 30 and re.search(r"\bhalf\b", plain) is not None
    )


def _phrase_in(phrase: str, text: str) -> bool:
    needle = normal_text(phrase)
    return (
        bool(needle)
        and re.search(rf"(?<![a-z0-9]){re.escape(needle)}(?![a-z0-9])", text) is not None
    )


def value_said(key: str, value: Any, text: str) -> bool:
    """Whether ``text`` (words heard) gives ``value`` for argument ``key``."""
    if isinstance(value, bool):
        return True
    if key == "date":
        return str(value) in _dates(text)
    if key in ("time", "after", "before"):
        return str(value) in _times(text, key)
    if isinstance(value, (int, float)):
        return _number_said(float(value), text)
    plain = normal_text(text)
    if value in _PLACES:
        return any(_phrase_in(w, plain) for w in _PLACES[value])
    if str(value).lower() in _FIRST_NAMES:
        return _phrase_in(str(value), plain)
    return _phrase_in(str(value), plain)


def in_results(value: Any, results: Iterable[Any]) -> bool:
    """Whether ``value`` appears in any of ``results`` (as JSON), read as the checker reads."""
    blob = " ".join(json.dumps(r, ensure_ascii=False, default=str) for r in results)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return re.search(rf"(?<![\d.]){value:g}(?![\d])", blob) is not None
    squeezed = compact(str(value))
    return len(squeezed) >= 3 and squeezed in compact(blob)


def content_words(text: str) -> set[str]:
    """The words of ``text`` longer than two letters, normalised (digits kept)."""
    return {w for w in re.findall(r"[a-z0-9]+", normal_text(text)) if len(w) > 2 or w.isdigit()}


def cue_at(tool: str, words: list[str]) -> int | None:
    """The number of words after which the user has first named what ``tool`` is for, or
    ``None`` if no cue of it is ever said in ``words``."""
    cues = _CUES.get(tool, ())
    for n in range(1, len(words) + 1):
        plain = " " + normal_text(" ".join(words[:n])) + " "
        if any(re.search(rf"(?<![a-z0-9]){re.escape(c)}", plain) for c in cues):
            return n
    return None
