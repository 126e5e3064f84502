"""A small personal-assistant domain: the built-in example toolset of ``specagent run``.

Read-only lookups (weather, flights, restaurants, calendar) and state-changing actions over an
in-memory world, one of each speculation mechanism:

| tool | effect | under ``speculative`` |
|---|---|---|
| get_weather, search_flights, find_restaurants, get_calendar | read-only | run at once |
| add_calendar_event | irreversible, local state only | sandboxed: runs at once on a copy |
| reserve_table | reversible (cancel_reservation) | runs at once; compensated if withdrawn |
| book_flight, send_message | irreversible, outside world | held until the commit point |
 Tool latency is
simulated by :func:`tool_latency`: uniform 0.5 to 1.0 s per call (the setting of the
Speculative Interaction Agents paper), fixed per (seed, call) so every policy sees the same
latency for the same call.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..executor import LatencyFn
from ..sandbox import StateCell
from ..tools import Effect, Toolset, tool

__all__ = [
    "AssistantWorld",
    "assistant_toolset",
    "tool_latency",
    "EXAMPLE_REQUESTS",
    "check_example",
]

_WEATHER = {
    "paris": ("sunny", 21),
    "london": ("light rain", 15),
    "boston": ("cloudy", 12),
    "denver": ("clear", 18),
    "tokyo": ("humid", 27),
    "new york": ("windy", 14),
}
_RESTAURANTS = [
    {"id": "r1", "name": "Chez Lili", "city": "paris", "cuisine": "french"},
    {"id": "r2", "name": "Le Petit Zinc", "city": "paris", "cuisine": "french"},
    {"id": "r3", "name": "Sakura", "city": "tokyo", "cuisine": "japanese"},
    {"id": "r4", "name": "Rocky Grill", "city": "denver", "cuisine": "american"},
    {"id": "r5", "name": "Harbor Oyster", "city": "boston", "cuisine": "seafood"},
]

EXAMPLE_REQUESTS = {
    "weather-and-table": "What's the weather in Paris tomorrow and can you reserve a table "
    "for two at a French restaurant there at eight?",
    "flight": "Find me a flight from New York to Denver on Friday and book the cheapest one.",
    "calendar": "Put lunch with Sam on my calendar for Friday at noon and tell me the weather "
    "in Boston that day.",
    "correction": "Book me a flight to Boston, no wait, to Denver, from New York on Friday.",
}


def _is_evening_eight(time: str) -> bool:
    t = time.lower().replace(" ", "")
    return t in {"20:00", "8pm", "8:00pm", "20h", "8:00", "8", "eight", "20"}


def check_example(name: str, world: AssistantWorld) -> bool:
    """Whether the committed effects are what the example request asked for (and only that)."""
    if name == "weather-and-table":
        return (
            not world.flight_bookings
            and not world.messages
            and not world.calendar
            and len(world.reservations) == 1
            and all(
                r["restaurant_id"] in {"r1", "r2"}
                and r["party_size"] == 2
                and _is_evening_eight(str(r["time"]))
                for r in world.reservations.values()
            )
        )
    if name in ("flight", "correction"):
        denver = {f["flight_id"] for f in _flights("New York", "Denver", "friday")}
        wanted = {_flights("New York", "Denver", "friday")[0]["flight_id"]} if name == "flight" else denver
        return (
            len(world.flight_bookings) == 1
            and world.flight_bookings[0]["flight_id"] in wanted
            and not world.reservations
            and not world.messages
            and not world.calendar
        )
    if name == "calendar":
        return (
            len(world.calendar) == 1
            and world.calendar[0]["date"].lower() == "friday"
            and world.calendar[0]["time"].lower().replace(" ", "") in {"12:00", "noon", "12pm"}
            and "sam" in world.calendar[0]["title"].lower()
            and not world.flight_bookings
            and not world.reservations
            and not world.messages
        )
    raise ValueError(f"unknown example {name!r}; known: {', '.join(EXAMPLE_REQUESTS)}")


@dataclass
class AssistantWorld:
    """The state the assistant's tools read and change."""

    flight_bookings: list[dict[str, Any]] = field(default_factory=list)
    reservations: dict[str, dict[str, Any]] = field(default_factory=dict)
    messages: list[dict[str, str]] = field(default_factory=list)
    calendar: list[dict[str, str]] = field(default_factory=list)
    next_reservation: int = 1

    def committed_state(self) -> dict[str, Any]:
        """A comparable snapshot of every effect (for checking policies agree)."""
        return {
            "flight_bookings": sorted(json.dumps(b, sort_keys=True) for b in self.flight_bookings),
            "reservations": sorted(
                json.dumps(r, sort_keys=True) for r in self.reservations.values()
            ),
            "messages": sorted(json.dumps(m, sort_keys=True) for m in self.messages),
            "calendar": sorted(json.dumps(c, sort_keys=True) for c in self.calendar),
        }


def _flights(origin: str, destination: str, date: str) -> list[dict[str, Any]]:
    seed = random.Random(f"{origin.lower()}|{destination.lower()}|{date.lower()}")
    out = []
    for n in range(3):
        out.append(
            {
                "flight_id": f"{origin[:2].upper()}{destination[:2].upper()}{100 + seed.randint(0, 899)}",
                "departs": f"{7 + 4 * n:02d}:{seed.choice(['05', '20', '45'])}",
                "price_usd": seed.randint(120, 480),
            }
        )
    return sorted(out, key=lambda f: f["price_usd"])


def assistant_toolset(world: AssistantWorld) -> Toolset:
    """The example tools, bound to ``world`` (read and changed through one StateCell)."""
    cell: StateCell[AssistantWorld] = StateCell(world)

    @tool(effect=Effect.READ_ONLY, timeout_s=5.0)
    async def get_weather(city: str, date: str = "today") -> dict[str, Any]:
        """Weather forecast for a city on a date (e.g. 'today', 'tomorrow', 'friday')."""
        sky, high = _WEATHER.get(city.lower(), ("mild", 17))
        return {"city": city, "date": date, "forecast": sky, "high_c": high}

    @tool(effect=Effect.READ_ONLY, timeout_s=5.0)
    async def search_flights(origin: str, destination: str, date: str) -> dict[str, Any]:
        """Flights between two cities on a date, cheapest first."""
        return {"flights": _flights(origin, destination, date)}

    @tool(effect=Effect.READ_ONLY, timeout_s=5.0)
    async def find_restaurants(city: str, cuisine: str = "") -> dict[str, Any]:
        """Restaurants in a city, optionally of one cuisine."""
        found = [
            r
            for r in _RESTAURANTS
            if r["city"] == city.lower() and (not cuisine or r["cuisine"] == cuisine.lower())
        ]
        return {"restaurants": found}

    @tool(effect=Effect.READ_ONLY, timeout_s=5.0)
    async def get_calendar(date: str) -> dict[str, Any]:
        """The user's calendar entries on a date."""
        entries = [{"time": "09:30", "title": "Team stand-up"}]
        entries += [e for e in cell.get().calendar if e["date"] == date]
        return {"date": date, "events": entries}

    @tool(effect=Effect.IRREVERSIBLE, timeout_s=5.0, state=cell, sandboxable=True)
    async def add_calendar_event(date: str, time: str, title: str) -> dict[str, Any]:
        """Add an event to the user's calendar."""
        cell.get().calendar.append({"date": date, "time": time, "title": title})
        return {"status": "added", "date": date, "time": time, "title": title}

    @tool(effect=Effect.IRREVERSIBLE, timeout_s=5.0, state=cell)
    async def book_flight(flight_id: str, passengers: int = 1) -> dict[str, Any]:
        """Book a flight by its id. Charges the user's card; cannot be undone."""
        if passengers < 1:
            raise ValueError("passengers must be at least 1")
        booking = {"flight_id": flight_id, "passengers": passengers}
        cell.get().flight_bookings.append(booking)
        return {"status": "booked", **booking}

    async def _cancel_reservation(arguments: dict[str, Any], result: Any) -> None:
        cell.get().reservations.pop(result["reservation_id"], None)

    @tool(effect=Effect.REVERSIBLE, timeout_s=5.0, compensate=_cancel_reservation, state=cell)
    async def reserve_table(restaurant_id: str, time: str, party_size: int) -> dict[str, Any]:
        """Reserve a table at a restaurant (by id) at a time for a party size."""
        if not any(r["id"] == restaurant_id for r in _RESTAURANTS):
            raise ValueError(f"no restaurant with id {restaurant_id!r}")
        w = cell.get()
        rid = f"res{w.next_reservation}"
        w.next_reservation += 1
        w.reservations[rid] = {
            "restaurant_id": restaurant_id,
            "time": time,
            "party_size": party_size,
        }
        return {"status": "reserved", "reservation_id": rid}

    @tool(effect=Effect.IRREVERSIBLE, timeout_s=5.0, state=cell)
    async def send_message(to: str, text: str) -> dict[str, Any]:
        """Send a text message to a contact."""
        cell.get().messages.append({"to": to, "text": text})
        return {"status": "sent"}

    return Toolset(
        [
            get_weather,
            search_flights,
            find_restaurants,
            get_calendar,
            add_calendar_event,
            book_flight,
            reserve_table,
            send_message,
        ]
    )


def tool_latency(seed: int = 0, low_s: float = 0.5, high_s: float = 1.0) -> LatencyFn:
    """Uniform latency per call, the same for the same call under any policy."""

    def latency(name: str, arguments: Mapping[str, Any]) -> float:
        key = f"{seed}|{name}|{json.dumps(dict(arguments), sort_keys=True, default=str)}"
        return random.Random(key).uniform(low_s, high_s)

    return latency
