"""What an assistant episode is, as data: the user's turns, the ground-truth calls, the effects
the world must end with, and the facts each answer must state.

Generated (:mod:`.templates`) and hand-written (:mod:`.handwritten`) episodes are both
:class:`EpisodeSpec` s. The ground-truth calls are the calls an expert would make; the tests
play them through the real tools and check that the checker accepts the result, so the
expected effects and facts can never drift from what the tools really do.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from . import seed

__all__ = [
    "CATEGORIES",
    "Call",
    "EpisodeSpec",
    "Fact",
    "Has",
    "Is",
    "Matcher",
    "TurnSpec",
    "Want",
    "code",
    "condition",
    "number",
    "said",
    "time",
]

Category = Literal["lookup", "parallel", "chain", "read_write", "write"]
CATEGORIES: tuple[Category, ...] = ("lookup", "parallel", "chain", "read_write", "write")
"""How the calls of an episode relate: one read; independent reads; a chain where a later
call needs an earlier result; a read and a write; writes only."""


@dataclass(frozen=True)
class Call:
    """A ground-truth tool call."""

    name: str
    arguments: Mapping[str, Any]


@dataclass(frozen=True)
class Is:
    """The field equals this canonical value (names, dates, times, numbers, ids)."""

    value: Any


@dataclass(frozen=True)
class Has:
    """Free text: for every group, one of its words or phrases appears (case, punctuation and
    number spelling ignored)."""

    groups: tuple[tuple[str, ...], ...]


Matcher = Is | Has


@dataclass(frozen=True)
class Want:
    """One state change the request asks for: a log record of ``kind`` whose fields match.

    A key naming several fields joined by ``+`` matches their text together (a note's content
    may be in its title or its text).
    """

    kind: str
    fields: Mapping[str, Matcher]


FactKind = Literal["text", "number", "time", "code"]


@dataclass(frozen=True)
class Fact:
    """A fact the answer must state, taken from a tool result."""

    label: str
    kind: FactKind
    value: Any
    alternatives: tuple[str, ...] = ()
    """``text``: the words that state it (any one will do)."""

    def canonical(self) -> str:
        """A plain statement of the fact, used to write ground-truth answers."""
        if self.kind == "text":
            return self.alternatives[0]
        return str(self.value)


def said(label: str, *alternatives: str) -> Fact:
    return Fact(label, "text", alternatives[0], tuple(alternatives))


def number(label: str, value: float | int) -> Fact:
    return Fact(label, "number", value)


def time(label: str, hhmm: str) -> Fact:
    return Fact(label, "time", hhmm)


def code(label: str, value: str) -> Fact:
    return Fact(label, "code", value)


def condition(value: str) -> Fact:
    return Fact("condition", "text", value, seed.CONDITION_WORDS[value])


@dataclass(frozen=True)
class TurnSpec:
    """One thing the user says, the calls it needs and the facts its answer must state."""

    text: str
    calls: tuple[Call, ...] = ()
    facts: tuple[Fact, ...] = ()


@dataclass(frozen=True)
class EpisodeSpec:
    id: str
    category: Category
    turns: tuple[TurnSpec, ...]
    effects: tuple[Want, ...] = ()
    forbidden: tuple[Any, ...] = ()
    """Canonical values the user corrected away: no committed field may hold them."""
    spoken: bool = False
    """Said the way people talk: fillers, hesitations, a self-correction."""
    source: Literal["template", "handwritten"] = "template"
    template: str = ""
    notes: str = ""
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        calls = sum(len(t.calls) for t in self.turns)
        if not 1 <= calls <= 5:
            raise ValueError(f"episode {self.id}: {calls} ground-truth calls (1 to 5 allowed)")
        if self.category not in CATEGORIES:
            raise ValueError(f"episode {self.id}: unknown category {self.category!r}")

    @property
    def multi_turn(self) -> bool:
        return len(self.turns) > 1

    @property
    def calls(self) -> tuple[Call, ...]:
        return tuple(c for t in self.turns for c in t.calls)
