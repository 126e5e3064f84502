"""How the assistant world reads the values people and models write: dates, times, names, text.

A model may write a date as "Friday", "friday", "2026-06-05" or "June 5"; a time as "7pm",
"19:00" or "7:30 PM". The tools accept all of these (as a phone assistant would) and store one
canonical form, so the checker compares meanings, not spellings. The same functions read the
answer the agent gives: a fact is stated when its canonical form appears there, whatever the
formatting. A value that cannot be read is an error the tool reports back, never a guess.

The world's calendar is fixed: today is Monday 1 June 2026, and dates run for two weeks.
"""

from __future__ import annotations

import datetime as _dt
import re
import unicodedata

from ....errors import SpecagentError

__all__ = [
    "TODAY",
    "DAYS",
    "UnreadableValue",
    "canonical_date",
    "canonical_time",
    "compact",
    "number_words_to_digits",
    "normal_text",
    "times_in",
    "weekday_of",
]

TODAY = _dt.date(2026, 6, 1)
"""The world's today (a Monday)."""
DAYS = [TODAY + _dt.timedelta(days=i) for i in range(14)]
"""Every date the world knows (two weeks from today)."""

_WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_MONTHS = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "june": 6, "jul": 7, "july": 7,
    "aug": 8, "sep": 9, "sept": 9, "oct": 10, "nov": 11, "dec": 12,
}  # fmt: skip


class UnreadableValue(SpecagentError, ValueError):
    """A date, time or name the world cannot read; the message says what it accepts."""


def canonical_date(text: str) -> str:
    """``YYYY-MM-DD`` for "today", "tomorrow", a weekday (the next one, today included),
    "next <weekday>" (the one in the second week), an ISO date or "June 5"/"5 June"."""
    raw = str(text).strip().lower().replace(",", " ")
    raw = re.sub(r"\s+", " ", raw)
    raw = re.sub(r"^(on|this|for) ", "", raw)
    if raw in ("", "today", "now", "tonight"):
        return TODAY.isoformat()
    if raw == "tomorrow":
        return (TODAY + _dt.timedelta(days=1)).isoformat()
    raw = re.sub(r"^(monday|tuesday|wednesday|thursday|friday|saturday|sunday) (?=\d)", "", raw)
    nxt = raw.startswith("next ")
    day = raw.removeprefix("next ")
    if day in _WEEKDAYS:
        offset = (_WEEKDAYS.index(day) - TODAY.weekday()) % 7
        if nxt:
            offset += 7
        return (TODAY + _dt.timedelta(days=offset)).isoformat()
    match = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", raw)
    if match:
        year, month, mday = (int(g) for g in match.groups())
        return _checked(year, month, mday, text)
    raw = re.sub(r"(\d+)(st|nd|rd|th)\b", r"\1", raw)
    raw = re.sub(r"^(monday|tuesday|wednesday|thursday|friday|saturday|sunday) ", "", raw)
    match = re.fullmatch(r"([a-z]+) (\d{1,2})(?: (\d{4}))?", raw)
    if match:
        month = _MONTHS.get(match.group(1), _MONTHS.get(match.group(1)[:3]))
        if month:
            return _checked(int(match.group(3) or 2026), month, int(match.group(2)), text)
    match = re.fullmatch(r"(\d{1,2}) ([a-z]+)(?: (\d{4}))?", raw)
    if match:
        month = _MONTHS.get(match.group(2), _MONTHS.get(match.group(2)[:3]))
        if month:
            return _checked(int(match.group(3) or 2026), month, int(match.group(1)), text)
    raise UnreadableValue(
        f"cannot read the date {text!r}; use 'today', 'tomorrow', a weekday such as 'friday', "
        "or YYYY-MM-DD"
    )


def _checked(year: int, month: int, mday: int, text: str) -> str:
    try:
        return _dt.date(year, month, mday).isoformat()
    except ValueError:
        raise UnreadableValue(f"{text!r} is not a calendar date") from None


def weekday_of(iso: str) -> str:
    """``Friday`` for ``2026-06-05``."""
    return _dt.date.fromisoformat(iso).strftime("%A")


_TIME_RE = re.compile(r"^(\d{1,2})(?:[:.h](\d{2}))?\s*(a\.?m\.?|p\.?m\.?)?$")
_WORD_TIMES = {"noon": "12:00", "midday": "12:00", "midnight": "00:00"}


def canonical_time(text: str, *, evening: bool = False, morning: bool = False) -> str:
    """``HH:MM`` (24 h) for "7pm", "7:30 PM", "19:00", "06:30", "noon", "7" ...

    An hour written with a leading zero ("06:30") is 24-hour time. Any other hour without
    am/pm is read as a person means it: with ``evening`` (dinner reservations) hours 1-11 are
    p.m.; with ``morning`` (alarms) they are a.m.; otherwise 1-6 are p.m. and 7-11 a.m.
    (office hours).
    """
    raw = str(text).strip().lower().replace("o'clock", "").strip()
    raw = re.sub(r"^(at|around|about) ", "", raw)
    raw = number_words_to_digits(raw)
    raw = raw.replace(" thirty", ":30").replace(" fifteen", ":15").replace(" forty five", ":45")
    raw = re.sub(r"^half past (\d{1,2})", r"\1:30", raw)
    if raw in _WORD_TIMES:
        return _WORD_TIMES[raw]
    match = _TIME_RE.match(raw.replace(" ", "") if raw.count(":") <= 1 else raw)
    if not match:
        raise UnreadableValue(f"cannot read the time {text!r}; use HH:MM such as 19:30")
    hour, minute = int(match.group(1)), int(match.group(2) or 0)
    suffix = (match.group(3) or "").replace(".", "")
    if hour > 23 or minute > 59 or (suffix and not 1 <= hour <= 12):
        raise UnreadableValue(f"{text!r} is not a time of day")
    if suffix == "pm" and hour != 12:
        hour += 12
    elif suffix == "am" and hour == 12:
        hour = 0
    elif not suffix and 1 <= hour <= 11 and not match.group(1).startswith("0"):
        if evening or (hour <= 6 and not morning):
            hour += 12
    return f"{hour:02d}:{minute:02d}"


_NUMBER_WORDS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
}  # fmt: skip
_WORD_RE = re.compile(
    r"\b(" + "|".join(_NUMBER_WORDS) + r")(?:[ -](one|two|three|four|five|six|seven|eight|nine))?\b"
)


def number_words_to_digits(text: str) -> str:
    """ "twenty two degrees" -> "22 degrees" (up to sixty-nine)."""

    def repl(match: re.Match[str]) -> str:
        value = _NUMBER_WORDS[match.group(1)]
        if match.group(2) and value >= 20:
            value += _NUMBER_WORDS[match.group(2)]
        elif match.group(2):
            return f"{value} {_NUMBER_WORDS[match.group(2)]}"
        return str(value)

    return _WORD_RE.sub(repl, text)


def normal_text(text: str) -> str:
    """Lower case, accents and punctuation dropped (except ``:`` between digits), number words
    as digits, single spaces: the form facts and keywords are looked for in."""
    text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    text = text.lower().replace("°", " ")
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)  # 1,250 -> 1250
    text = re.sub(r"(?<!\d):|:(?!\d)", " ", text)
    text = re.sub(r"[^a-z0-9:@.\- ]+", " ", text)
    text = re.sub(r"(?<![a-z0-9])[.\-]|[.\-](?![a-z0-9])", " ", text)
    text = number_words_to_digits(text)
    return re.sub(r"\s+", " ", text).strip()


def compact(text: str) -> str:
    """Only letters and digits: "UA 412" and "ua-412" both become "ua412"."""
    return re.sub(r"[^a-z0-9]", "", normal_text(text))


_ANSWER_TIME_RE = re.compile(
    r"\b(\d{1,2})(?::(\d{2}))?\s*(a\.?\s?m\.?|p\.?\s?m\.?)(?![a-z])|\b(\d{1,2}):(\d{2})\b"
)


def times_in(text: str) -> set[str]:
    """Every time of day written in ``text``, as ``HH:MM`` ("7 pm", "19:00", "noon")."""
    raw = str(text).lower()
    found = {_WORD_TIMES[w] for w in _WORD_TIMES if re.search(rf"\b{w}\b", raw)}
    for match in _ANSWER_TIME_RE.finditer(raw):
        if match.group(1):
            hour, minute = int(match.group(1)), int(match.group(2) or 0)
            pm = match.group(3).startswith("p")
            if not 1 <= hour <= 12:
                continue
            hour = (hour % 12) + (12 if pm else 0)
        else:
            hour, minute = int(match.group(4)), int(match.group(5))
            if hour > 23:
                continue
        found.add(f"{hour:02d}:{minute:02d}")
    return found
