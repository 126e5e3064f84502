"""Practice tasks over the built-in assistant toolset, with train and test splits.

The assistant domain (:mod:`specagent.envs.assistant`) has real tools over an in-memory world,
so its tasks can be generated in any number: requests are written from phrasings and slot
values (cities, dates, cuisines, party sizes, times, names), each with its expert script.

The expert follows one rule a model can learn from the words it has heard: *call a tool as soon
as its required arguments have been said; revise the call (same id) when a later word adds or
corrects an argument; remove it when the user takes it back; pause while something is
missing; answer once the user has finished and every result is in.* Some phrasings carry a
self-correction ("to Boston, sorry, I mean to Denver") or a retraction ("actually, forget the
weather"), so traces hold early calls that are later revised or removed.

Splits: every request is assigned to ``train`` or ``test`` by a stable hash of its text
(one in five is ``test``), and the example requests of ``specagent run`` (the ``assistant``
benchmark dataset) are always ``test``. The set of tasks does not depend on any seed.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..envs.assistant import EXAMPLE_REQUESTS, AssistantWorld, assistant_toolset
from ..tools import Toolset
from .tasks import ArgsFn, Results, ScriptCall, TrainTask

__all__ = ["TEST_FRACTION_DENOMINATOR", "assistant_tasks"]

TEST_FRACTION_DENOMINATOR = 5
"""One request in this many (by hash) is held out as ``test``."""

_WEATHER_CITIES = [
    "Paris", "London", "Boston", "Denver", "Tokyo", "New York", "Chicago", "Madrid",
    "Seattle", "Rome", "Berlin", "Sydney", "Toronto", "Lisbon",
]  # fmt: skip
_RESTAURANT_CITIES = {"Paris": ["French"], "Tokyo": ["Japanese"], "Denver": ["American"],
                      "Boston": ["seafood"]}  # fmt: skip
_DAYS = ["today", "tomorrow", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
         "Saturday", "Sunday"]  # fmt: skip
_PARTY = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6}
_DINNER_TIMES = {"seven": "19:00", "eight": "20:00", "nine": "21:00", "half past seven": "19:30",
                 "8 pm": "20:00", "seven thirty": "19:30"}  # fmt: skip
_DAY_TIMES = {"noon": "12:00", "ten in the morning": "10:00", "three in the afternoon": "15:00",
              "nine thirty": "09:30", "4 pm": "16:00"}  # fmt: skip
_NAMES = ["Sam", "Alex", "Maria", "Jordan", "Priya", "Tom", "Lena", "Chris", "Omar", "Kim"]
_TITLES = ["lunch with {name}", "a call with {name}", "coffee with {name}", "the dentist",
           "a haircut", "the team dinner", "yoga class"]  # fmt: skip
_MESSAGES = ["I'm running ten minutes late", "dinner is at seven", "the meeting moved to Monday",
             "I'll call you after lunch", "happy birthday", "can you pick up some milk",
             "I landed safely"]  # fmt: skip


def _date_phrase(day: str) -> str:
    return day if day in ("today", "tomorrow") else f"on {day}"


def _a(word: str) -> str:
    return f"{'an' if word[:1].lower() in 'aeiou' else 'a'} {word}"


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _date_arg(day: str) -> str:
    return day.lower()


class _Req:
    """Builds a request from pieces and tells how many words have been said after each."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def add(self, text: str) -> int:
        self.parts.append(text)
        return len(" ".join(self.parts).split())

    @property
    def text(self) -> str:
        return " ".join(self.parts)


def _const(args: dict[str, Any]) -> ArgsFn:
    return lambda _results: dict(args)


@dataclass
class _Draft:
    family: str
    request: str
    calls: list[ScriptCall]
    answer: Callable[[Results], str]


# -- answers ----------------------------------------------------------------------------------


def _weather_sentence(r: dict[str, Any]) -> str:
    return f"{r['city']} {r['date']}: {r['forecast']}, high of {r['high_c']} °C."


def _restaurant_names(r: dict[str, Any]) -> str:
    names = [x["name"] for x in r["restaurants"]]
    return " and ".join(names) if names else "nothing"


# -- families ---------------------------------------------------------------------------------


def _weather(rng: random.Random) -> _Draft:
    city = rng.choice(_WEATHER_CITIES)
    day = rng.choice(_DAYS + [""])
    b = _Req()
    style = rng.randrange(4)
    if style == 3 and day:  # the date first, then the city: one call with both
        b.add(f"{_cap(_date_phrase(day))}, what's the weather going to be like in")
        w_city = b.add(f"{city}?")
        versions = ((w_city, _const({"city": city, "date": _date_arg(day)})),)
    else:
        lead = [
            "What's the weather in",
            "How warm will it be in",
            "Can you check the forecast for",
        ][style % 3]
        b.add(lead)
        w_city = b.add(city)
        if day:
            w_day = b.add(f"{_date_phrase(day)}{', please?' if style == 2 else '?'}")
            versions = (
                (w_city, _const({"city": city})),
                (w_day, _const({"city": city, "date": _date_arg(day)})),
            )
        else:
            b.parts[-1] += "?"
            versions = ((w_city, _const({"city": city})),)
    call = ScriptCall("weather", "get_weather", versions, why=f"the weather in {city}")
    return _Draft("weather", b.text, [call], lambda r: _weather_sentence(r["weather"]))


def _two_city_weather(rng: random.Random) -> _Draft:
    c1, c2 = rng.sample(_WEATHER_CITIES, 2)
    day = rng.choice(_DAYS)
    b = _Req()
    b.add("Compare the weather in")
    w1 = b.add(c1)
    b.add("and")
    w2 = b.add(c2)
    w_day = b.add(f"{_date_phrase(day)}.")
    calls = [
        ScriptCall(
            "weather1", "get_weather",
            ((w1, _const({"city": c1})), (w_day, _const({"city": c1, "date": _date_arg(day)}))),
            why=f"the weather in {c1}",
        ),
        ScriptCall(
            "weather2", "get_weather",
            ((w2, _const({"city": c2})), (w_day, _const({"city": c2, "date": _date_arg(day)}))),
            why=f"the weather in {c2}",
        ),
    ]  # fmt: skip
    return _Draft(
        "two_city_weather",
        b.text,
        calls,
        lambda r: f"{_weather_sentence(r['weather1'])} {_weather_sentence(r['weather2'])}",
    )


def _reserve_args(time: str, party: int) -> Callable[[Results], dict[str, Any]]:
    def args(results: Results) -> dict[str, Any]:
        first = results["find"]["restaurants"][0]
        return {"restaurant_id": first["id"], "time": time, "party_size": party}

    return args


def _reserved_sentence(r: Results, time: str, party: int) -> str:
    name = r["find"]["restaurants"][0]["name"]
    return f"I've reserved a table for {party} at {name} at {time}."


def _weather_and_table(rng: random.Random) -> _Draft:
    city = rng.choice(sorted(_RESTAURANT_CITIES))
    cuisine = rng.choice(_RESTAURANT_CITIES[city])
    day = rng.choice(_DAYS)
    party_word = rng.choice(sorted(_PARTY))
    time_word = rng.choice(sorted(_DINNER_TIMES))
    time, party = _DINNER_TIMES[time_word], _PARTY[party_word]
    b = _Req()
    b.add("What's the weather in")
    w_city = b.add(city)
    w_day = b.add(_date_phrase(day))
    b.add(f"and can you reserve a table for {party_word} at")
    w_cuisine = b.add(f"{_a(cuisine)} restaurant there")
    w_time = b.add(f"at {time_word}?")
    calls = [
        ScriptCall(
            "weather", "get_weather",
            ((w_city, _const({"city": city})), (w_day, _const({"city": city, "date": _date_arg(day)}))),
            why=f"the weather in {city}",
        ),
        ScriptCall(
            "find", "find_restaurants",
            ((w_cuisine, _const({"city": city, "cuisine": cuisine.lower()})),),
            why=f"{cuisine} restaurants in {city}",
        ),
        ScriptCall(
            "reserve", "reserve_table", ((w_time, _reserve_args(time, party)),),
            needs=("find",), why="the table",
        ),
    ]  # fmt: skip
    return _Draft(
        "weather_and_table",
        b.text,
        calls,
        lambda r: f"{_weather_sentence(r['weather'])} {_reserved_sentence(r, time, party)}",
    )


def _table(rng: random.Random) -> _Draft:
    city = rng.choice(sorted(_RESTAURANT_CITIES))
    cuisine = rng.choice(_RESTAURANT_CITIES[city])
    party_word = rng.choice(sorted(_PARTY))
    time_word = rng.choice(sorted(_DINNER_TIMES))
    time, party = _DINNER_TIMES[time_word], _PARTY[party_word]
    b = _Req()
    if rng.random() < 0.5:
        b.add(f"Book a table for {party_word} at {_a(cuisine)} restaurant in")
        w_city = b.add(city)
        w_time = b.add(f"at {time_word}.")
        find_versions: tuple[tuple[int, ArgsFn], ...] = (
            (w_city, _const({"city": city, "cuisine": cuisine.lower()})),
        )
    else:  # the city first, the cuisine later: look up the city, then narrow it down
        b.add("Find me a table in")
        w_city = b.add(city)
        b.add(f"for {party_word},")
        w_cuisine = b.add(f"{cuisine} food,")
        w_time = b.add(f"at {time_word}.")
        find_versions = (
            (w_city, _const({"city": city})),
            (w_cuisine, _const({"city": city, "cuisine": cuisine.lower()})),
        )
    calls = [
        ScriptCall("find", "find_restaurants", find_versions, why=f"restaurants in {city}"),
        ScriptCall(
            "reserve", "reserve_table", ((w_time, _reserve_args(time, party)),),
            needs=("find",), why="the table",
        ),
    ]  # fmt: skip
    return _Draft(
        "table", b.text, calls, lambda r: _reserved_sentence(r, time, party)
    )  # fmt: skip


def _cheapest_args(passengers: int) -> Callable[[Results], dict[str, Any]]:
    def args(results: Results) -> dict[str, Any]:
        flight = results["search"]["flights"][0]
        out: dict[str, Any] = {"flight_id": flight["flight_id"]}
        if passengers != 1:
            out["passengers"] = passengers
        return out

    return args


def _booked_sentence(r: Results, origin: str, dest: str, day: str) -> str:
    f = r["book"]
    price = r["search"]["flights"][0]["price_usd"]
    return f"Booked flight {f['flight_id']} from {origin} to {dest} {_date_phrase(day)} for {price} USD."


def _flight(rng: random.Random) -> _Draft:
    origin, dest, wrong = rng.sample(_WEATHER_CITIES, 3)
    day = rng.choice(_DAYS[1:])
    corrected = rng.random() < 0.4
    party_word = rng.choice(["", "", "two", "three"])
    passengers = _PARTY.get(party_word, 1)
    b = _Req()
    b.add("Find me a flight from")
    b.add(origin)
    if corrected:  # the destination is corrected after the search could start
        b.add("to")
        b.add(wrong)
        w_day = b.add(f"{_date_phrase(day)},")
        b.add("sorry, I mean to")
        w_dest = b.add(f"{dest},")
        search: tuple[tuple[int, ArgsFn], ...] = (
            (w_day, _const({"origin": origin, "destination": wrong, "date": _date_arg(day)})),
            (w_dest, _const({"origin": origin, "destination": dest, "date": _date_arg(day)})),
        )
    else:
        b.add("to")
        b.add(dest)
        w_day = b.add(f"{_date_phrase(day)}")
        search = ((w_day, _const({"origin": origin, "destination": dest, "date": _date_arg(day)})),)
    who = f" for {party_word} of us" if party_word else ""
    w_book = b.add(f"and book the cheapest one{who}.")
    calls = [
        ScriptCall("search", "search_flights", search, why=f"flights from {origin} to {dest}"),
        ScriptCall(
            "book", "book_flight", ((w_book, _cheapest_args(passengers)),), needs=("search",),
            why="the booking",
        ),
    ]  # fmt: skip
    return _Draft(
        "flight", b.text, calls, lambda r: _booked_sentence(r, origin, dest, day)
    )  # fmt: skip


def _calendar_and_weather(rng: random.Random) -> _Draft:
    name = rng.choice(_NAMES)
    title = rng.choice(_TITLES).format(name=name)
    day = rng.choice(_DAYS[2:])
    time_word = rng.choice(sorted(_DAY_TIMES))
    city = rng.choice(_WEATHER_CITIES)
    b = _Req()
    b.add(f"Put {title} on my calendar")
    b.add(f"for {day}")
    w_time = b.add(f"at {time_word}")
    b.add("and tell me the weather in")
    w_city = b.add(f"{city} that day.")
    calls = [
        ScriptCall(
            "event", "add_calendar_event",
            ((w_time, _const({"date": _date_arg(day), "time": _DAY_TIMES[time_word], "title": title})),),
            why=f"the calendar entry for {title}",
        ),
        ScriptCall(
            "weather", "get_weather", ((w_city - 2, _const({"city": city, "date": _date_arg(day)})),),
            why=f"the weather in {city}",
        ),
    ]  # fmt: skip

    def answer(r: Results) -> str:
        e = r["event"]
        return f"Added {e['title']} on {day} at {e['time']}. {_weather_sentence(r['weather'])}"

    return _Draft("calendar_and_weather", b.text, calls, answer)


def _calendar_check(rng: random.Random) -> _Draft:
    day = rng.choice(_DAYS)
    b = _Req()
    lead = rng.choice(["What's on my calendar", "Do I have anything scheduled", "Check my agenda"])
    w_day = b.add(f"{lead} {_date_phrase(day)}?")
    calls = [
        ScriptCall("cal", "get_calendar", ((w_day, _const({"date": _date_arg(day)})),),
                   why="the calendar"),
    ]  # fmt: skip

    def answer(r: Results) -> str:
        events = "; ".join(f"{e['time']} {e['title']}" for e in r["cal"]["events"])
        return f"{_cap(_date_phrase(day))} you have: {events}."

    return _Draft("calendar_check", b.text, calls, answer)


def _message(rng: random.Random) -> _Draft:
    name = rng.choice(_NAMES)
    text = rng.choice(_MESSAGES)
    b = _Req()
    if rng.random() < 0.5:
        w_end = b.add(f"Text {name} that {text}.")
    else:
        w_end = b.add(f"Send a message to {name} saying {text}.")
    calls = [
        ScriptCall("msg", "send_message", ((w_end, _const({"to": name, "text": text})),),
                   why=f"the message to {name}"),
    ]  # fmt: skip
    return _Draft("message", b.text, calls, lambda r: f"Sent to {name}: {text}.")


def _retract_weather(rng: random.Random) -> _Draft:
    c1 = rng.choice(_WEATHER_CITIES)
    city = rng.choice(sorted(_RESTAURANT_CITIES))
    cuisine = rng.choice(_RESTAURANT_CITIES[city])
    b = _Req()
    b.add("Check the weather in")
    w_c1 = b.add(f"{c1},")
    w_forget = b.add("actually no, forget the weather,")
    b.add(f"find me {_a(cuisine)} restaurant in")
    w_city = b.add(f"{city}.")
    calls = [
        ScriptCall("weather", "get_weather", ((w_c1, _const({"city": c1.rstrip(",")})),),
                   removed_at=w_forget, why=f"the weather in {c1}"),
        ScriptCall("find", "find_restaurants",
                   ((w_city, _const({"city": city, "cuisine": cuisine.lower()})),),
                   why=f"{cuisine} restaurants in {city}"),
    ]  # fmt: skip
    return _Draft(
        "retract_weather", b.text, calls,
        lambda r: f"{cuisine} restaurants in {city}: {_restaurant_names(r['find'])}.",
    )  # fmt: skip


def _retract_booking(rng: random.Random) -> _Draft:
    origin, dest = rng.sample(_WEATHER_CITIES, 2)
    day = rng.choice(_DAYS[1:])
    b = _Req()
    b.add("Book the cheapest flight from")
    b.add(origin)
    b.add("to")
    b.add(dest)
    w_day = b.add(_date_phrase(day))
    w_cancel = b.add("actually don't book")
    b.add("it yet, just tell me the price.")
    calls = [
        ScriptCall("search", "search_flights",
                   ((w_day, _const({"origin": origin, "destination": dest, "date": _date_arg(day)})),),
                   why=f"flights from {origin} to {dest}"),
        ScriptCall("book", "book_flight", ((w_day, _cheapest_args(1)),), needs=("search",),
                   removed_at=w_cancel, why="the booking"),
    ]  # fmt: skip

    def answer(r: Results) -> str:
        f = r["search"]["flights"][0]
        return f"The cheapest is {f['flight_id']} at {f['departs']} for {f['price_usd']} USD."

    return _Draft("retract_booking", b.text, calls, answer)


_FAMILIES: list[tuple[Callable[[random.Random], _Draft], int]] = [
    (_weather, 160),
    (_two_city_weather, 60),
    (_weather_and_table, 120),
    (_table, 100),
    (_flight, 140),
    (_calendar_and_weather, 100),
    (_calendar_check, 30),
    (_message, 60),
    (_retract_weather, 50),
    (_retract_booking, 50),
]
"""Each family and how many requests to draw from it (duplicates are dropped)."""


def _split_of(request: str) -> str:
    if request in EXAMPLE_REQUESTS.values():
        return "test"
    digest = hashlib.sha256(request.encode("utf-8")).digest()
    return "test" if digest[0] % TEST_FRACTION_DENOMINATOR == 0 else "train"


def _toolset() -> Toolset:
    return assistant_toolset(AssistantWorld())


def all_assistant_tasks() -> list[TrainTask]:
    """Every assistant task of both splits, in a stable order."""
    out: list[TrainTask] = []
    seen: set[str] = set()
    for family, count in _FAMILIES:
        rng = random.Random(f"assistant-tasks|{family.__name__}")
        for _ in range(count):
            draft = family(rng)
            if draft.request in seen:
                continue
            seen.add(draft.request)
            digest = hashlib.sha256(draft.request.encode("utf-8")).hexdigest()[:10]
            out.append(
                TrainTask(
                    id=f"assistant-{draft.family}-{digest}",
                    source="assistant",
                    split=_split_of(draft.request),
                    request=draft.request,
                    calls=tuple(draft.calls),
                    make_toolset=_toolset,
                    answer=draft.answer,
                    family=draft.family,
                )
            )
    return out


def assistant_tasks(split: str) -> list[TrainTask]:
    return [t for t in all_assistant_tasks() if t.split == split]
