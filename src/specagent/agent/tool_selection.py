"""Per-request tool selection: show a small model only the tools a request is likely to need.

A 1.5B model shown twenty tools picks the wrong one, looks up what it was asked to do, or
acts where nobody asked. TinyAgent's Tool RAG showed that a small model does better when its
prompt lists only the tools relevant to the request. This module chooses those tools cheaply,
offline and deterministically, with no model: a BM25 ranking of each tool's own text (name,
description, parameter names and descriptions, enum values) against the words the user has
said so far, lightly stemmed, plus two kinds of tool added whatever their score:

* every tool already called in the conversation (a follow-up goes on from it), and
* the *feeders* of each chosen tool: tools whose result supplies one of its values, found
  from the tools' own text (a parameter described as "a flight_number from search_flights";
  a snake_case field such as ``flight_number`` that one tool's description says it returns
  and another tool takes as a parameter).

The session applies a selection (``SessionConfig.select_tools``) by rewriting the tool list
of its system prompt; when it does so is the session's business (see
:mod:`specagent.agent.session` and docs/protocol.md, "Tool selection"). Nothing here changes
what the toolset can run.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..events import Event, ToolCallIssued, ToolCallRevised, UserSpeech
from .prompt import with_tools

__all__ = [
    "ShownTools",
    "ToolSelection",
    "ToolSelector",
    "called_tools",
    "heard_words",
    "stem",
    "terms",
]

# Function words, fillers and the verbs every request opens with ("can you find me ...",
# "get me ..."): they say nothing about which tool is meant.
_STOP = frozenset(
    """a about all also am an and any are as at be been but by can could did do does doing
    for from had has have he her here hers him his how i if in into is it its just let me
    mine my no not now of off ok okay on one or our out over please she so some than thank
    thanks that the their them then there these they this those to too up us was we were
    what whats when where which while who whom why will with would you your yours
    um uh er erm hmm like actually well oh yeah yes sorry hey hi hello
    get find search look check tell show give know need want see got go going make
    dont im ive id ill youre theyre thats lets""".split()
)

EARLIER_WEIGHT = 0.5
"""How much an earlier turn's words count against the current turn's (a follow-up names the
new thing it wants; what it refers back to was mostly called already)."""

_WORD = re.compile(r"[a-z0-9]+")
_HYPHENATED = re.compile(r"\b[a-z]+(?:-[a-z]+)+\b")  # e-mail, weather-wise
_POSSESSIVE = re.compile(r"['\u2019]s\b")
_APOSTROPHE = re.compile(r"['\u2019]")
_IDENTIFIER = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")  # flight_number, file_name

# Longest first; each strip must leave a stem of at least the given length.
_SUFFIXES: tuple[tuple[str, str, int], ...] = (
    ("sses", "ss", 2),
    ("ies", "y", 3),
    ("ing", "", 3),
    ("est", "", 4),
    ("ers", "", 3),
    ("ed", "", 3),
    ("er", "", 3),
    ("ly", "", 3),
    ("es", "", 3),
    ("s", "", 3),
)


def _strip_suffix(word: str) -> tuple[str, str]:
    for suffix, replacement, min_stem in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= min_stem:
            return word[: len(word) - len(suffix)] + replacement, suffix
    return word, ""


def stem(word: str) -> str:
    """A light English stemmer: one common suffix off, then a final ``e`` and a doubled
    consonant (``bookings``/``booked`` -> ``book``, ``share``/``sharing`` -> ``shar``,
    ``reminders`` -> ``remind``, ``setting`` -> ``set``). Both the tools' text and the user's
    words go through it, so only consistency matters, not linguistic truth."""
    if len(word) <= 3 or word.isdigit():
        return word
    if word.endswith("ss") or word.endswith("us") or word.endswith("is"):
        return word
    word, suffix = _strip_suffix(word)
    if suffix == "s":  # a plural of a derived word: one more (bookings -> booking -> book)
        word, _ = _strip_suffix(word)
    if len(word) > 3 and word.endswith("e"):
        word = word[:-1]
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "aeiouls":
        word = word[:-1]
    return word


def terms(text: str) -> list[str]:
    """The stemmed content words of ``text``: lower case; stop words, numbers and single
    letters dropped; snake_case names split into their words; a hyphenated word gives its
    parts and the parts joined (``e-mail`` -> ``mail``, ``email``)."""
    text = _APOSTROPHE.sub("", _POSSESSIVE.sub("", text.lower())).replace("_", " ")
    joined = [m.replace("-", "") for m in _HYPHENATED.findall(text)]
    words = _WORD.findall(text) + joined
    return [stem(w) for w in words if len(w) > 1 and not w.isdigit() and w not in _STOP]


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield str(value)
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


def _parameter_text(parameters: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """(parameter names, the strings that describe them: descriptions and enum values)."""
    names: list[str] = []
    texts: list[str] = []
    for name, prop in (parameters.get("properties") or {}).items():
        names.append(name)
        if isinstance(prop, Mapping):
            for key in ("description", "enum", "const", "examples"):
                if key in prop:
                    texts.extend(_strings(prop[key]))
    return names, texts


@dataclass(frozen=True)
class ToolSelection:
    """What one selection chose. ``shown`` keeps the toolset's order (so the same choice
    always renders the same prompt)."""

    shown: tuple[str, ...]
    picked: tuple[str, ...]
    """The relevance picks, best first."""
    called: tuple[str, ...]
    """Tools already called in the conversation (shown whatever their score)."""
    feeders: tuple[str, ...]
    """Tools added because their results feed a picked tool."""
    scores: Mapping[str, float]


class ToolSelector:
    """A BM25 index over a toolset's schemas (the dicts ``Toolset.schemas()`` returns).

    Built once per toolset; :meth:`select` is pure and deterministic.
    """

    def __init__(self, schemas: Sequence[Mapping[str, Any]], *, k1: float = 1.2, b: float = 0.75):
        if not schemas:
            raise ValueError("tool selection needs at least one tool")
        self.names: tuple[str, ...] = tuple(str(s["name"]) for s in schemas)
        if len(set(self.names)) != len(self.names):
            raise ValueError("tool names must be unique")
        self._k1, self._b = k1, b
        self._docs: dict[str, Counter[str]] = {}
        for schema in schemas:
            name = str(schema["name"])
            params, param_texts = _parameter_text(schema.get("parameters") or {})
            text = " ".join([name, name, str(schema.get("description", "")), *params, *param_texts])
            self._docs[name] = Counter(terms(text))
        lengths = [sum(doc.values()) for doc in self._docs.values()]
        self._avg_len = max(1.0, sum(lengths) / len(lengths))
        df: Counter[str] = Counter()
        for doc in self._docs.values():
            df.update(doc.keys())
        n = len(self._docs)
        self._idf = {t: math.log(1.0 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}
        self.feeders: dict[str, tuple[str, ...]] = _feeders(schemas)

    def scores(self, text: str) -> dict[str, float]:
        """BM25 score of every tool for ``text`` (each distinct query term counted once)."""
        query = set(terms(text))
        out: dict[str, float] = {}
        for name, doc in self._docs.items():
            length = sum(doc.values())
            norm = self._k1 * (1.0 - self._b + self._b * length / self._avg_len)
            total = 0.0
            for term in query:
                tf = doc.get(term, 0)
                if tf:
                    total += self._idf[term] * tf * (self._k1 + 1.0) / (tf + norm)
            out[name] = total
        return out

    def select(
        self, heard: str, called: Iterable[str], k: int, *, earlier: str = ""
    ) -> ToolSelection:
        """The tools to show for the words ``heard`` in this turn (and ``earlier`` turns'
        words, which count half): the ``k`` best-scoring tools with a score above zero, the
        feeders of those, and every tool in ``called`` that the toolset has. With no word
        matching any tool and nothing called, every tool is shown: choosing on no evidence
        would only hide the tool that is needed."""
        if k < 1:
            raise ValueError(f"select_tools must be at least 1, not {k}")
        scores = self.scores(heard)
        if earlier.strip():
            before = self.scores(earlier)
            scores = {n: scores[n] + EARLIER_WEIGHT * before[n] for n in scores}
        order = {name: i for i, name in enumerate(self.names)}
        ranked = sorted(
            (n for n in self.names if scores[n] > 0.0), key=lambda n: (-scores[n], order[n])
        )
        picked = tuple(ranked[:k])
        known_called = tuple(dict.fromkeys(n for n in called if n in order))
        feeders = tuple(
            dict.fromkeys(f for p in picked for f in self.feeders.get(p, ()) if f not in picked)
        )
        chosen = set(picked) | set(known_called) | set(feeders)
        if not chosen:
            chosen = set(self.names)
        shown = tuple(n for n in self.names if n in chosen)
        return ToolSelection(
            shown=shown, picked=picked, called=known_called, feeders=feeders, scores=scores
        )


def _feeders(schemas: Sequence[Mapping[str, Any]]) -> dict[str, tuple[str, ...]]:
    """For each tool, the tools whose results supply one of its values, read from the
    tools' own text: another tool named in its description or parameter descriptions ("a
    flight_number from search_flights"), or another tool whose description names, as a
    snake_case field it does not take itself, one of this tool's parameters."""
    names = [str(s["name"]) for s in schemas]
    params: dict[str, set[str]] = {}
    own_text: dict[str, str] = {}
    for schema in schemas:
        name = str(schema["name"])
        p_names, p_texts = _parameter_text(schema.get("parameters") or {})
        params[name] = set(p_names)
        own_text[name] = " ".join([str(schema.get("description", "")), *p_texts]).lower()
    returned = {
        name: set(_IDENTIFIER.findall(str(s.get("description", "")).lower())) - params[name]
        for name, s in zip(names, schemas)
    }
    out: dict[str, tuple[str, ...]] = {}
    for name in names:
        found = []
        for other in names:
            if other == name:
                continue
            mentioned = re.search(rf"\b{re.escape(other.lower())}\b", own_text[name]) is not None
            if mentioned or returned[other] & params[name]:
                found.append(other)
        if found:
            out[name] = tuple(found)
    return out


def heard_words(events: Iterable[Event]) -> str:
    """Everything the user said in ``events``, in order."""
    return " ".join(e.text for e in events if isinstance(e, UserSpeech))


def called_tools(events: Iterable[Event]) -> tuple[str, ...]:
    """The tools the model has called in the conversation so far, first call first."""
    return tuple(
        dict.fromkeys(e.name for e in events if isinstance(e, (ToolCallIssued, ToolCallRevised)))
    )


class ShownTools:
    """One session's tool selection over a turn: which prompt each generation reads.

    When it selects (docs/protocol.md, "Tool selection"): at a turn's first generation, from
    the words heard by then, and once more at the first generation that has heard the final
    words, if the first had not (a new final, when live speech resumes after one, selects
    again). Between those the prompt stays the same, so the model's prompt cache holds. Under
    ``sync`` and ``oracle`` the first generation already has the whole request: one
    selection a turn. Each selection takes the turn's words, earlier turns' words at half
    weight, and every tool called in the conversation.
    """

    def __init__(self, prompt: str, schemas: Sequence[Mapping[str, Any]], k: int) -> None:
        if k < 1:
            raise ValueError(f"select_tools must be at least 1, not {k}")
        self._schemas = [dict(s) for s in schemas]
        self._by_name = {str(s["name"]): s for s in self._schemas}
        self._prompt = prompt
        with_tools(prompt, self._schemas, self._schemas)  # fail now on a prompt without the list
        self._selector = ToolSelector(self._schemas)
        self._k = k
        self._turn_start: int | None = None
        self._final_speech = -1  # user speech events heard at the selection made at a final
        self._current = prompt
        self.selections: list[ToolSelection] = []
        """Every selection made, in order (for inspection and tests)."""

    def prompt_for(self, events: Sequence[Event], turn_start: int, final_heard: bool) -> str:
        """The system prompt for a generation about to start: ``events`` is the ledger so
        far, ``turn_start`` the index where the current turn begins, ``final_heard`` whether
        the user's final words of the turn are in."""
        speech = sum(isinstance(e, UserSpeech) for e in events)
        new_turn = turn_start != self._turn_start
        new_final = final_heard and speech > self._final_speech
        if new_turn or new_final:
            self._turn_start = turn_start
            self._final_speech = speech if final_heard else -1
            chosen = self._selector.select(
                heard_words(events[turn_start:]),
                called_tools(events),
                self._k,
                earlier=heard_words(events[:turn_start]),
            )
            self.selections.append(chosen)
            self._current = with_tools(
                self._prompt, self._schemas, [self._by_name[n] for n in chosen.shown]
            )
        return self._current
