"""The assistant benchmark's checker: the committed world and the answers, nothing looser.

A run passes when

* the world's log of committed state changes matches the episode's expected effects one to
  one: every effect asked for is there, and nothing else (an extra message, a second booking,
  a thermostat first set to the value the user corrected away all fail);
* no committed field holds a value the user corrected away;
* every turn was answered, and each answer states the facts that turn asked for, as the tools
  returned them (a temperature, a flight number, a time). Matching ignores case, punctuation,
  number spelling and time format ("7 pm" = "19:00"), but a wrong number is a wrong number.

Cancelled and compensated calls never reach the log (see :mod:`.world`), so they never count.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .normalize import compact, normal_text, times_in
from .spec import EpisodeSpec, Fact, Is, Matcher, Want

__all__ = ["Verdict", "check_run", "fact_stated", "match_effects", "unrequested"]


@dataclass(frozen=True)
class Verdict:
    passed: bool
    problems: tuple[str, ...]

    @property
    def detail(self) -> str:
        return "; ".join(self.problems) if self.problems else "effects and answers match"


def _field_text(record: Mapping[str, Any], key: str) -> str:
    return " ".join(str(record.get(k, "")) for k in key.split("+"))


def _phrase_in(phrase: str, text: str) -> bool:
    needle = normal_text(phrase)
    if not needle:
        return False
    if re.search(rf"(?<![a-z0-9]){re.escape(needle)}(?![a-z0-9])", text):
        return True
    # an id or number written with other spacing or dashes: "UA412" in "ua 412", "617-555-0142"
    squeezed = compact(needle)
    return any(ch.isdigit() for ch in squeezed) and len(squeezed) >= 4 and squeezed in compact(text)


def _matches(matcher: Matcher, value: str, raw: Any) -> bool:
    if isinstance(matcher, Is):
        if isinstance(matcher.value, (int, float)) and not isinstance(matcher.value, bool):
            return raw == matcher.value
        return normal_text(str(raw)) == normal_text(str(matcher.value))
    text = normal_text(value)
    return all(any(_phrase_in(p, text) for p in group) for group in matcher.groups)


def _fits(record: Mapping[str, Any], want: Want) -> bool:
    if record.get("kind") != want.kind:
        return False
    for key, matcher in want.fields.items():
        raw = record.get(key) if "+" not in key else None
        if not _matches(matcher, _field_text(record, key), raw):
            return False
    return True


def match_effects(
    log: Sequence[Mapping[str, Any]], wants: Sequence[Want]
) -> tuple[list[int], list[int]]:
    """The largest one-to-one pairing of log records with wanted effects.

    Returns (indices of wants left unmatched, indices of log records left unmatched).
    """
    options = [[i for i, record in enumerate(log) if _fits(record, want)] for want in wants]
    best: tuple[int, list[int | None]] = (-1, [])

    def search(k: int, used: set[int], chosen: list[int | None]) -> None:
        nonlocal best
        if k == len(wants):
            score = sum(c is not None for c in chosen)
            if score > best[0]:
                best = (score, list(chosen))
            return
        for i in options[k]:
            if i not in used:
                search(k + 1, used | {i}, [*chosen, i])
        search(k + 1, used, [*chosen, None])

    search(0, set(), [])
    chosen = best[1]
    missing = [k for k, c in enumerate(chosen) if c is None]
    taken = {c for c in chosen if c is not None}
    extra = [i for i in range(len(log)) if i not in taken]
    return missing, extra


def unrequested(log: Sequence[Mapping[str, Any]], wants: Sequence[Want]) -> int:
    """Committed state changes that match no effect the episode asked for."""
    return len(match_effects(log, wants)[1])


_NUMBER_CACHE: dict[str, re.Pattern[str]] = {}


def fact_stated(fact: Fact, answer: str) -> bool:
    """Whether ``answer`` states ``fact`` (formatting aside)."""
    text = normal_text(answer)
    if fact.kind == "text":
        return any(_phrase_in(alt, text) for alt in fact.alternatives)
    if fact.kind == "number":
        value = fact.value
        shown = f"{value:g}" if isinstance(value, float) else str(value)
        pattern = _NUMBER_CACHE.setdefault(
            shown, re.compile(rf"(?<![\d.]){re.escape(shown)}(?!\d|\.\d)")
        )
        return pattern.search(text) is not None
    if fact.kind == "time":
        return fact.value in times_in(answer)
    return compact(str(fact.value)) in compact(answer)


def _describe(record: Mapping[str, Any]) -> str:
    fields = ", ".join(f"{k}={v!r}" for k, v in record.items() if k != "kind")
    return f"{record.get('kind')}({fields})"


_FREE_TEXT = frozenset({"kind", "text", "body", "subject", "title", "label"})
"""Fields written in the model's own words: a corrected-away value there is judged by the
effect's keywords, not refused outright (a message may mention the old plan)."""


def check_run(
    spec: EpisodeSpec, log: Sequence[Mapping[str, Any]], answers: Sequence[str | None]
) -> Verdict:
    """Judge one run: the world's committed log and the answer of each turn, in order."""
    problems: list[str] = []
    missing, extra = match_effects(log, spec.effects)
    for k in missing:
        want = spec.effects[k]
        problems.append(f"missing {want.kind} effect ({', '.join(want.fields)})")
    for i in extra:
        problems.append(f"unrequested {_describe(log[i])}")
    forbidden = {normal_text(str(v)) for v in spec.forbidden}
    for record in log:
        for key, value in record.items():
            if key not in _FREE_TEXT and normal_text(str(value)) in forbidden:
                problems.append(
                    f"corrected-away value {value!r} committed ({record['kind']}.{key})"
                )
    for index, turn in enumerate(spec.turns):
        answer = answers[index] if index < len(answers) else None
        if answer is None:
            problems.append(f"turn {index + 1}: no answer")
            continue
        for fact in turn.facts:
            if not fact_stated(fact, answer):
                problems.append(
                    f"turn {index + 1}: answer does not state the {fact.label} ({fact.canonical()})"
                )
    return Verdict(not problems, tuple(problems))
