"""The assistant world: one deterministic, in-memory state that every tool reads and changes.

Reads (contacts, forecasts, flights, restaurants, directions, calendar, inbox, notes, files)
are pure functions of the seed data (:mod:`.seed`) and of what the user added. Forecasts and
flights are derived from a stable hash of their key, so the same question always has the same
answer and needs no stored table.

Every state change appends one record to :attr:`World.log`, in order. The log is what the
checker judges: a sandboxed call's copy of the world only becomes the real one when it
commits, and a compensated reservation removes its record, so cancelled and compensated calls
never count. Writes validate their input and raise :class:`WorldError` with a message a model
can act on ("'Maria' is not an e-mail address; look it up with find_contact").
"""

from __future__ import annotations

import functools
import hashlib
import math
import re
from dataclasses import dataclass, field
from typing import Any

from ....errors import SpecagentError
from . import seed
from .normalize import (
    DAYS,
    UnreadableValue,
    canonical_date,
    canonical_time,
    normal_text,
    weekday_of,
)

__all__ = ["World", "WorldError", "flight_table"]


class WorldError(SpecagentError, ValueError):
    """A request the world refuses; the message says how to fix it."""


def _hash(*parts: object) -> int:
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def _city(name: str) -> str:
    key = normal_text(name).removesuffix(" city")
    for city in seed.CITIES:
        if normal_text(city) == key or normal_text(city).split()[0] == key and " " not in key:
            return city
    aliases = {"nyc": "New York", "sf": "San Francisco", "philly": "Philadelphia"}
    if key in aliases:
        return aliases[key]
    raise WorldError(f"unknown city {name!r}; known cities: {', '.join(seed.CITIES)}")


def _date(text: str) -> str:
    try:
        iso = canonical_date(text)
    except UnreadableValue as exc:
        raise WorldError(str(exc)) from None
    if iso not in {d.isoformat() for d in DAYS}:
        raise WorldError(f"{text!r} ({iso}) is outside the next two weeks")
    return iso


def _time(text: str, *, evening: bool = False, morning: bool = False) -> str:
    try:
        return canonical_time(text, evening=evening, morning=morning)
    except UnreadableValue as exc:
        raise WorldError(str(exc)) from None


def forecast(city: str, iso_date: str) -> dict[str, Any]:
    """The forecast of a known city on a known date."""
    x, y, typical = seed.CITIES[city]
    h = _hash("weather", city, iso_date)
    condition = seed.CONDITIONS[h % len(seed.CONDITIONS)]
    high = typical + (h >> 8) % 9 - 4
    low = high - 6 - (h >> 16) % 5
    return {
        "city": city,
        "date": iso_date,
        "weekday": weekday_of(iso_date),
        "condition": condition,
        "high_c": high,
        "low_c": low,
    }


@functools.cache
def flight_table() -> dict[str, dict[str, Any]]:
    """Every flight the world sells, by flight number (three a day on every city pair)."""
    table: dict[str, dict[str, Any]] = {}
    for origin in seed.CITIES:
        for destination in seed.CITIES:
            if origin == destination:
                continue
            (ox, oy, _), (dx, dy, _) = seed.CITIES[origin], seed.CITIES[destination]
            hours = math.hypot(ox - dx, oy - dy) / 750.0 + 0.6
            for day in DAYS:
                iso = day.isoformat()
                for slot in range(3):
                    h = _hash("flight", origin, destination, iso, slot)
                    airline = seed.AIRLINES[h % len(seed.AIRLINES)]
                    number = f"{airline}{100 + (h >> 8) % 900}"
                    while number in table:
                        number = f"{airline}{int(number[2:]) % 999 + 1:03d}"
                    depart = 6 * 60 + slot * 300 + (h >> 20) % 120
                    arrive = depart + round(hours * 60)
                    table[number] = {
                        "flight_number": number,
                        "origin": origin,
                        "destination": destination,
                        "date": iso,
                        "departs": f"{depart // 60:02d}:{depart % 60:02d}",
                        "arrives": f"{arrive // 60 % 24:02d}:{arrive % 60:02d}",
                        "price_usd": 89 + (h >> 32) % 420,
                    }
    return table


def _place(name: str) -> tuple[str, tuple[float, float]]:
    person = _contact_named(name)
    if person is not None:  # a contact's home, as a maps app linked to contacts finds it
        return person.address, seed.PLACES[person.address]
    key = normal_text(name)
    if key in ("home", "my home", "my place", "my house"):
        return seed.USER_HOME, seed.PLACES[seed.USER_HOME]
    if key in ("work", "office", "the office", "my office"):
        return seed.USER_WORK, seed.PLACES[seed.USER_WORK]
    if key in ("airport", "the airport", "logan"):
        return "Logan Airport", seed.PLACES["Logan Airport"]
    for place, xy in seed.PLACES.items():
        full = normal_text(place)
        if key == full or key == full.split(" boston")[0] or key == full.split(",")[0]:
            return place, xy
    streets = [p for p in seed.PLACES if normal_text(p.split(",")[0]) == key]
    if len(streets) == 1:
        return streets[0], seed.PLACES[streets[0]]
    for restaurant in seed.RESTAURANTS:
        if restaurant.city == "Boston" and normal_text(restaurant.name) == key:
            return restaurant.name, _restaurant_xy(restaurant)
    try:
        city = _city(name)
    except WorldError:
        raise WorldError(
            f"unknown place {name!r}; give a street address, 'home', 'work', a contact's name, "
            "a landmark or a city"
        ) from None
    x, y, _ = seed.CITIES[city]
    return city, (x, y)


def _restaurant_xy(restaurant: seed.Restaurant) -> tuple[float, float]:
    h = _hash("restaurant", restaurant.name)
    return ((h % 80) / 10 - 4, ((h >> 8) % 80) / 10 - 4)


@dataclass
class World:
    """The user's state. Tools act on it through one :class:`~specagent.sandbox.StateCell`."""

    events: list[dict[str, Any]] = field(default_factory=list)
    reminders: list[dict[str, Any]] = field(default_factory=list)
    notes: list[dict[str, str]] = field(default_factory=list)
    reservations: dict[str, dict[str, Any]] = field(default_factory=dict)
    thermostat_c: int = 21
    alarms: dict[str, str] = field(default_factory=dict)
    log: list[dict[str, Any]] = field(default_factory=list)
    """Every committed state change, in order (what the checker judges)."""
    next_number: int = 1

    # -- reads ------------------------------------------------------------------------------

    def find_contact(self, name: str) -> dict[str, Any]:
        key = normal_text(name)
        for c in seed.CONTACTS:
            if key in (normal_text(c.first), normal_text(c.last), normal_text(c.name)):
                return {"name": c.name, "phone": c.phone, "email": c.email, "address": c.address}
        raise WorldError(f"no contact named {name!r}")

    def weather(self, city: str, date: str) -> dict[str, Any]:
        return forecast(_city(city), _date(date))

    def search_flights(self, origin: str, destination: str, date: str) -> dict[str, Any]:
        o, d, iso = _city(origin), _city(destination), _date(date)
        if o == d:
            raise WorldError("origin and destination are the same city")
        found = [
            f
            for f in flight_table().values()
            if (f["origin"], f["destination"], f["date"]) == (o, d, iso)
        ]
        found.sort(key=lambda f: f["price_usd"])
        keep = ("flight_number", "departs", "arrives", "price_usd")
        return {
            "origin": o,
            "destination": d,
            "date": iso,
            "flights": [{k: f[k] for k in keep} for f in found],
        }

    def find_restaurants(self, city: str, cuisine: str = "") -> dict[str, Any]:
        c = _city(city)
        kind = normal_text(cuisine).removesuffix(" food").removesuffix(" restaurant")
        kind = _CUISINE_ALIASES.get(kind, kind)
        found = [
            {
                "name": r.name,
                "cuisine": r.cuisine,
                "rating": r.rating,
                "price": r.price,
                "address": r.address,
            }
            for r in sorted(seed.RESTAURANTS, key=lambda r: -r.rating)
            if r.city == c and (not kind or kind in (r.cuisine, "any"))
        ]
        return {"city": c, "cuisine": cuisine or "any", "restaurants": found}

    def directions(self, origin: str, destination: str) -> dict[str, Any]:
        """Distance, and the travel time by each way of travelling (as a maps app shows them)."""
        (a, axy), (b, bxy) = _place(origin), _place(destination)
        km = round(math.hypot(axy[0] - bxy[0], axy[1] - bxy[1]) * 1.3, 1)
        speeds = {"driving": 30.0, "transit": 20.0, "walking": 5.0, "cycling": 15.0}
        if km > 60:
            speeds["driving"] = 85.0
        minutes = {
            mode: max(2, round(km / speed * 60 + (4 if mode in ("driving", "transit") else 0)))
            for mode, speed in speeds.items()
        }
        return {"from": a, "to": b, "distance_km": km, "minutes": minutes}

    def calendar(self, date: str) -> dict[str, Any]:
        iso = _date(date)
        events = [
            {"time": t, "title": title, "minutes": m} for d, t, title, m in seed.EVENTS if d == iso
        ] + [
            {"time": e["time"], "title": e["title"], "minutes": e["minutes"]}
            for e in self.events
            if e["date"] == iso
        ]
        events.sort(key=lambda e: e["time"])
        return {"date": iso, "weekday": weekday_of(iso), "events": events}

    def free_slots(
        self, date: str, minutes: int = 60, after: str = "09:00", before: str = "18:00"
    ) -> dict[str, Any]:
        iso = _date(date)
        if not 5 <= minutes <= 600:
            raise WorldError("duration_minutes must be between 5 and 600")
        start, end = _minutes(_time(after)), _minutes(_time(before))
        busy = sorted(
            (_minutes(e["time"]), _minutes(e["time"]) + e["minutes"])
            for e in self.calendar(iso)["events"]
        )
        windows: list[dict[str, str]] = []
        cursor = start
        for b0, b1 in busy:
            if b1 <= cursor:
                continue
            if b0 >= end:
                break
            if b0 - cursor >= minutes:
                windows.append({"from": _hhmm(cursor), "to": _hhmm(b0)})
            cursor = max(cursor, b1)
        if end - cursor >= minutes:
            windows.append({"from": _hhmm(cursor), "to": _hhmm(end)})
        return {
            "date": iso,
            "weekday": weekday_of(iso),
            "duration_minutes": minutes,
            "free": windows,
        }

    def search_emails(self, query: str) -> dict[str, Any]:
        words = [
            w
            for w in normal_text(query).split()
            if len(w) > 2 and w not in ("from", "the", "about", "email", "emails")
        ]
        found = []
        for e in seed.EMAILS:
            sender = self._sender(e.sender)
            text = normal_text(f"{sender} {e.sender} {e.subject} {e.body}")
            if words and all(w in text.split() or w in text for w in words):
                found.append({"from": sender, "subject": e.subject, "date": e.date, "body": e.body})
        return {"query": query, "emails": found}

    def search_notes(self, query: str) -> dict[str, Any]:
        notes = list(seed.NOTES) + [(n["title"], n["text"]) for n in self.notes]
        words = normal_text(query).split()
        found = [
            {"title": t, "text": x}
            for t, x in notes
            if words and all(w in normal_text(f"{t} {x}") for w in words)
        ]
        return {"query": query, "notes": found}

    def search_files(self, query: str) -> dict[str, Any]:
        words = normal_text(query).replace(".", " ").split()
        found = [
            {"name": n, "modified": m, "size_kb": s}
            for n, m, s in seed.FILES
            if words and all(w in normal_text(n).replace(".", " ") for w in words)
        ]
        return {"query": query, "files": found}

    @staticmethod
    def _sender(name: str) -> str:
        for c in seed.CONTACTS:
            if c.first == name:
                return c.name
        return name

    # -- writes (each appends to the log) ------------------------------------------------

    def _record(self, kind: str, **fields: Any) -> dict[str, Any]:
        entry = {"kind": kind, **fields}
        self.log.append(entry)
        return entry

    def add_event(self, title: str, date: str, time: str, minutes: int = 60) -> dict[str, Any]:
        if not title.strip():
            raise WorldError("the event needs a title")
        if not 5 <= minutes <= 720:
            raise WorldError("duration_minutes must be between 5 and 720")
        event = {
            "title": title.strip(),
            "date": _date(date),
            "time": _time(time),
            "minutes": minutes,
        }
        self.events.append(event)
        self._record("event", **event)
        return {"status": "added", **event}

    def add_reminder(self, text: str, date: str, time: str) -> dict[str, Any]:
        if not text.strip():
            raise WorldError("the reminder needs a text")
        reminder = {"text": text.strip(), "date": _date(date), "time": _time(time)}
        self.reminders.append(reminder)
        self._record("reminder", **reminder)
        return {"status": "created", **reminder}

    def add_note(self, title: str, text: str) -> dict[str, Any]:
        if not text.strip():
            raise WorldError("the note needs a text")
        note = {"title": title.strip() or text.strip()[:30], "text": text.strip()}
        self.notes.append(note)
        self._record("note", **note)
        return {"status": "saved", **note}

    def send_message(self, to: str, text: str) -> dict[str, Any]:
        if not text.strip():
            raise WorldError("the message is empty")
        recipient = _recipient(to)
        self._record("message", to=recipient, text=text.strip())
        return {"status": "sent", "to": recipient}

    def send_email(self, to: str, subject: str, body: str) -> dict[str, Any]:
        address = _address(to)
        if not body.strip():
            raise WorldError("the e-mail body is empty")
        self._record("email", to=address, subject=subject.strip(), body=body.strip())
        return {"status": "sent", "to": address}

    def book_flight(self, flight_number: str) -> dict[str, Any]:
        key = normal_text(flight_number).replace(" ", "").replace("-", "").upper()
        flight = flight_table().get(key)
        if flight is None:
            raise WorldError(
                f"no flight {flight_number!r}; use a flight_number from search_flights"
            )
        entry = self._record(
            "flight",
            flight_number=key,
            date=flight["date"],
            origin=flight["origin"],
            destination=flight["destination"],
        )
        return {
            "status": "booked",
            **entry,
            "departs": flight["departs"],
            "price_usd": flight["price_usd"],
        }

    def reserve(self, restaurant: str, date: str, time: str, party_size: int) -> dict[str, Any]:
        match = [r for r in seed.RESTAURANTS if normal_text(r.name) == normal_text(restaurant)]
        if not match:
            raise WorldError(
                f"no restaurant named {restaurant!r}; use a name from find_restaurants"
            )
        if not 1 <= party_size <= 12:
            raise WorldError("party_size must be between 1 and 12")
        at = _time(time, evening=True)
        if not "11:00" <= at <= "22:30":
            raise WorldError(f"{match[0].name} takes reservations from 11:00 to 22:30")
        code = f"R{1000 + self.next_number}"
        self.next_number += 1
        entry = self._record(
            "reservation",
            restaurant=match[0].name,
            date=_date(date),
            time=at,
            party_size=party_size,
            confirmation=code,
        )
        self.reservations[code] = entry
        return {"status": "reserved", **entry}

    def cancel_reservation(self, confirmation: str) -> None:
        """Undo a reservation (the compensating action): its record leaves the log."""
        entry = self.reservations.pop(confirmation, None)
        if entry is not None:
            self.log = [
                e for e in self.log if e is not entry and e.get("confirmation") != confirmation
            ]

    def share_file(self, file_name: str, email: str) -> dict[str, Any]:
        match = [n for n, _, _ in seed.FILES if normal_text(n) == normal_text(file_name)]
        if not match:
            raise WorldError(f"no file named {file_name!r}; use a name from search_files")
        address = _address(email)
        self._record("share", file=match[0], email=address)
        return {"status": "shared", "file": match[0], "with": address}

    def set_thermostat(self, temperature_c: int) -> dict[str, Any]:
        if not 10 <= temperature_c <= 30:
            raise WorldError("the thermostat accepts 10 to 30 degrees Celsius")
        if temperature_c != self.thermostat_c:
            self.thermostat_c = temperature_c
            self._record("thermostat", temperature_c=temperature_c)
        return {"status": "set", "temperature_c": self.thermostat_c}

    def set_alarm(self, time: str, label: str = "") -> dict[str, Any]:
        at = _time(time, morning=True)
        if self.alarms.get(at) != label.strip():
            self.alarms[at] = label.strip()
            self._record("alarm", time=at, label=label.strip())
        return {"status": "set", "time": at, "label": label.strip()}


_CUISINE_ALIASES = {
    "sushi": "japanese", "ramen": "japanese", "pizza": "italian", "pasta": "italian",
    "bbq": "barbecue", "steak": "steakhouse", "tacos": "mexican", "curry": "indian",
    "fish": "seafood", "oysters": "seafood", "dim sum": "chinese", "vegetarian": "vegan",
}  # fmt: skip


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _minutes(hhmm: str) -> int:
    return int(hhmm[:2]) * 60 + int(hhmm[3:])


def _contact_named(text: str) -> seed.Contact | None:
    """The contact a name or possessive names: "Lena", "Lena Fischer", "Lena's place"."""
    key = normal_text(text)
    key = re.sub(r"\b(s )?(place|house|home|apartment|flat)$", "", key).strip()
    key = re.sub(r"(?<=[a-z]) s$", "", key).strip()  # "lena s" (from "Lena's")
    for c in seed.CONTACTS:
        if key in (normal_text(c.first), normal_text(c.last), normal_text(c.name)):
            return c
    return None


def _address(to: str) -> str:
    """An e-mail address, written out or as a contact's name (resolved as a mail app would)."""
    text = to.strip().lower()
    if "@" in text and " " not in text:
        return text
    person = _contact_named(to)
    if person is None:
        raise WorldError(f"{to!r} is neither an e-mail address nor a contact's name")
    return person.email


def _recipient(to: str) -> str:
    """A contact's full name for a name, a phone number or an address of theirs."""
    key = normal_text(to)
    digits = "".join(ch for ch in to if ch.isdigit())
    for c in seed.CONTACTS:
        if key in (normal_text(c.first), normal_text(c.name), normal_text(c.email)):
            return c.name
        if digits and digits == "".join(ch for ch in c.phone if ch.isdigit()):
            return c.name
    if len(digits) >= 7:
        return digits
    raise WorldError(f"no contact or phone number {to!r}")
