"""Shared pieces for writing assistant episodes: slot values, spoken style, and the calls,
effects and facts of common requests, all computed from a reference world.

Templates (:mod:`.templates_reads`, :mod:`.templates_actions`, :mod:`.templates_multi`) and the
hand-written requests (:mod:`.handwritten`) build their ground truth with these helpers, so a
fact such as "the high in Denver on Friday" is always what ``get_weather`` really returns.

Spoken style is written into the text: fillers ("um", "you know"), hesitations ("let me
think") and self-corrections ("to Boston, no wait, Denver"). A corrected-away value is
recorded so the checker can refuse it if it is ever committed.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import seed
from .normalize import DAYS, weekday_of
from .spec import Call, Category, Fact, Has, Is, TurnSpec, Want, code, condition, number, said
from .world import World

__all__ = [
    "DAY_SLOTS",
    "Draft",
    "REF",
    "Template",
    "contact",
    "correct",
    "day_slot",
    "pick",
    "spoken",
    "weather_facts",
]

REF = World()
"""A fresh world, read by templates to compute expected facts (never changed)."""


@dataclass(frozen=True)
class Draft:
    """What a template writes: everything of an episode but its id."""

    category: Category
    turns: tuple[TurnSpec, ...]
    effects: tuple[Want, ...] = ()
    forbidden: tuple[Any, ...] = ()
    spoken: bool = False


TemplateFn = Callable[[random.Random, bool], Draft]


@dataclass(frozen=True)
class Template:
    """A family of requests. Draw ``k`` of template ``id`` has episode id ``{id}-{k:02d}``,
    drawn from its own random stream, so adding templates or draws never changes an id."""

    id: str
    count: int
    fn: TemplateFn
    spoken_share: float = 0.0
    """Share of draws said the way people talk (decided per draw, from the same stream)."""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DaySlot:
    phrase: str
    """As said: "on Friday", "tomorrow"."""
    iso: str


def _day_phrase(iso: str) -> str:
    if iso == DAYS[0].isoformat():
        return "today"
    if iso == DAYS[1].isoformat():
        return "tomorrow"
    return f"on {weekday_of(iso)}"


DAY_SLOTS: tuple[DaySlot, ...] = tuple(
    DaySlot(_day_phrase(d.isoformat()), d.isoformat()) for d in DAYS[:7]
)
"""Today and the next six days, as a person says them."""


def day_slot(
    rng: random.Random, *, weekdays_only: bool = False, avoid: Sequence[str] = ()
) -> DaySlot:
    options = [d for d in DAY_SLOTS if d.iso not in avoid]
    if weekdays_only:
        options = [d for d in options if weekday_of(d.iso) not in ("Saturday", "Sunday")]
    return rng.choice(options)


def pick(rng: random.Random, options: Sequence[Any], *, avoid: Sequence[Any] = ()) -> Any:
    return rng.choice([o for o in options if o not in avoid])


def contact(rng: random.Random, *, avoid: Sequence[str] = ()) -> seed.Contact:
    return rng.choice([c for c in seed.CONTACTS if c.first not in avoid])


_OPENERS = ("Um, ", "Uh, ", "Okay so, um, ", "Hey, uh, ", "So, ", "Hmm, ", "Right, um, ")
_MIDDLE = ("uh,", "um,", "you know,", "like,", "let me think,", "er,")
_CORRECTIONS = ("{wrong}, no wait, {right}", "{wrong}, sorry, I mean {right}", "{wrong}, no, {right}",
                "{wrong}... actually, make that {right}", "{wrong}, uh, no, {right}")  # fmt: skip


def spoken(rng: random.Random, text: str) -> str:
    """``text`` with an opening filler and one hesitation, as people say a request."""
    words = text.split()
    if len(words) > 5:
        at = rng.randrange(2, len(words) - 2)
        words.insert(at, rng.choice(_MIDDLE))
    proper = (
        {c.first for c in seed.CONTACTS} | {w for city in seed.CITIES for w in city.split()} | {"I"}
    )
    if words[0].split("'")[0].strip(",.?") not in proper:
        words[0] = words[0][0].lower() + words[0][1:]
    return rng.choice(_OPENERS) + " ".join(words)


def correct(rng: random.Random, wrong: str, right: str) -> str:
    """A self-correction: the wrong value said first, then the right one."""
    return rng.choice(_CORRECTIONS).format(wrong=wrong, right=right)


# -- common requests: calls and facts ------------------------------------------------------


def weather_call(city: str, iso: str) -> Call:
    return Call("get_weather", {"city": city, "date": iso})


def weather_facts(city: str, iso: str, *, high_only: bool = False) -> tuple[Fact, ...]:
    w = REF.weather(city, iso)
    high = number(f"high in {city}", w["high_c"])
    return (high,) if high_only else (condition(w["condition"]), high)


def cheapest_flight(origin: str, destination: str, iso: str) -> dict[str, Any]:
    return REF.search_flights(origin, destination, iso)["flights"][0]


def flight_call(origin: str, destination: str, iso: str) -> Call:
    return Call("search_flights", {"origin": origin, "destination": destination, "date": iso})


def contact_call(person: seed.Contact) -> Call:
    return Call("find_contact", {"name": person.first})


def street(address: str) -> Fact:
    part = address.split(",")[0]
    return said("address", part)


def phone_fact(person: seed.Contact) -> Fact:
    return code(f"{person.first}'s phone number", person.phone)


def email_fact(person: seed.Contact) -> Fact:
    return code(f"{person.first}'s e-mail address", person.email)


def top_restaurant(city: str, cuisine: str) -> dict[str, Any]:
    return REF.find_restaurants(city, cuisine)["restaurants"][0]


def message_want(person: seed.Contact, *groups: tuple[str, ...]) -> Want:
    return Want("message", {"to": Is(person.name), "text": Has(tuple(groups))})


def email_want(person: seed.Contact, *groups: tuple[str, ...]) -> Want:
    return Want("email", {"to": Is(person.email), "subject+body": Has(tuple(groups))})


def event_want(
    iso: str, hhmm: str, *title_groups: tuple[str, ...], minutes: int | None = None
) -> Want:
    fields: dict[str, Any] = {"date": Is(iso), "time": Is(hhmm), "title": Has(tuple(title_groups))}
    if minutes is not None:
        fields["minutes"] = Is(minutes)
    return Want("event", fields)


def reminder_want(iso: str, hhmm: str, *groups: tuple[str, ...]) -> Want:
    return Want("reminder", {"date": Is(iso), "time": Is(hhmm), "text": Has(tuple(groups))})


def duration_fact(origin: str, destination: str, mode: str = "driving") -> Fact:
    d = REF.directions(origin, destination)
    return number(f"{mode} time in minutes", d["minutes"][mode])


def event_facts(iso: str) -> tuple[Fact, ...]:
    return tuple(
        said(e["title"], *seed.EVENT_WORDS[e["title"]]) for e in REF.calendar(iso)["events"]
    )


def first_free(iso: str, minutes: int = 60, after: str = "09:00") -> str:
    return REF.free_slots(iso, minutes, after)["free"][0]["from"]


def price_fact(flight: dict[str, Any]) -> Fact:
    return number("price in USD", flight["price_usd"])


def flight_fact(flight: dict[str, Any]) -> Fact:
    return code("flight number", flight["flight_number"])


def turn(text: str, calls: Sequence[Call] = (), facts: Sequence[Fact] = ()) -> TurnSpec:
    return TurnSpec(text, tuple(calls), tuple(facts))
