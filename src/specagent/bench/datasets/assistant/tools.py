"""The assistant's twenty tools over one :class:`~.world.World`, each with its effect class.

| effect | tools | under ``speculative`` |
|---|---|---|
| read-only | find_contact, get_weather, search_flights, find_restaurants, get_directions, get_calendar, find_free_time, search_emails, search_notes, search_files | run at once |
| local write (sandboxable) | add_calendar_event, create_reminder, create_note | run at once on a copy |
| idempotent setter (sandboxable) | set_thermostat, set_alarm | run at once on a copy |
| reversible | reserve_table (compensated by cancelling it) | run at once; cancelled if withdrawn |
| irreversible | send_message, send_email, book_flight, share_file | held until the commit point |

Descriptions and argument docs are written for a small model: each says what it returns and
where its inputs come from (an e-mail address from ``find_contact``, a flight number from
``search_flights``). A bad input raises :class:`~.world.WorldError`, which the executor turns
into an error result the model reads.
"""

# No "from __future__ import annotations": tool() reads the real annotation objects.

from typing import Annotated, Any

from pydantic import Field

from ....sandbox import StateCell
from ....tools import Effect, Toolset, tool
from .world import World

__all__ = ["TOOL_EFFECTS", "assistant_tools"]

_DATE = "a weekday such as 'friday', 'today', 'tomorrow', or YYYY-MM-DD"
_TIME = "time of day as HH:MM (24-hour), e.g. '19:30'"
Date = Annotated[str, Field(description=_DATE)]
Time = Annotated[str, Field(description=_TIME)]
_PLACE = "a street address, 'home', 'work', a contact's name, a landmark or a city"
_T = 5.0  # tool timeout, seconds (tools answer in 0.5-1.0 s of simulated latency)

TOOL_EFFECTS: dict[str, str] = {}
"""Tool name -> effect class name, filled by :func:`assistant_tools` (for reports and stats)."""


def assistant_tools(world: World) -> Toolset:
    """The twenty tools, bound to ``world`` through one state cell."""
    cell: StateCell[World] = StateCell(world)

    @tool(effect=Effect.READ_ONLY, timeout_s=_T)
    async def find_contact(
        name: Annotated[str, Field(description="first or full name")],
    ) -> dict[str, Any]:
        """Look up a person in the user's contacts by name: their phone number, e-mail address and home address. Only for people, one name per call."""
        return cell.get().find_contact(name)

    @tool(effect=Effect.READ_ONLY, timeout_s=_T)
    async def get_weather(
        city: str, date: Annotated[str, Field(description=_DATE)] = "today"
    ) -> dict[str, Any]:
        """Weather forecast for a city on a date: the condition and the high and low temperature in degrees Celsius."""
        return cell.get().weather(city, date)

    @tool(effect=Effect.READ_ONLY, timeout_s=_T)
    async def search_flights(origin: str, destination: str, date: Date) -> dict[str, Any]:
        """Flights between two cities on a date, cheapest first: flight_number, departure and arrival time, price in USD."""
        return cell.get().search_flights(origin, destination, date)

    @tool(effect=Effect.IRREVERSIBLE, timeout_s=_T, state=cell)
    async def book_flight(
        flight_number: Annotated[str, Field(description="a flight_number from search_flights")],
    ) -> dict[str, Any]:
        """Book a seat on a flight. Charges the user's card and cannot be undone."""
        return cell.get().book_flight(flight_number)

    @tool(effect=Effect.READ_ONLY, timeout_s=_T)
    async def find_restaurants(
        city: str,
        cuisine: Annotated[
            str, Field(description="e.g. italian, sushi, mexican; empty for any")
        ] = "",
    ) -> dict[str, Any]:
        """Restaurants in a city, best rated first, with their cuisine, rating, price level and address."""
        return cell.get().find_restaurants(city, cuisine)

    async def _cancel(arguments: dict[str, Any], result: Any) -> None:
        cell.get().cancel_reservation(result["confirmation"])

    @tool(effect=Effect.REVERSIBLE, timeout_s=_T, state=cell, compensate=_cancel)
    async def reserve_table(
        restaurant: Annotated[
            str, Field(description="the restaurant's name from find_restaurants")
        ],
        date: Date,
        time: Time,
        party_size: Annotated[int, Field(description="number of people")],
    ) -> dict[str, Any]:
        """Reserve a table at a restaurant for a number of people on a date at a time. Can be cancelled."""
        return cell.get().reserve(restaurant, date, time, party_size)

    @tool(effect=Effect.READ_ONLY, timeout_s=_T)
    async def get_directions(
        origin: Annotated[str, Field(description=_PLACE)],
        destination: Annotated[str, Field(description=_PLACE)],
    ) -> dict[str, Any]:
        """Distance in km and travel time in minutes between two places, by driving, transit, walking and cycling; a contact's name means their home."""
        return cell.get().directions(origin, destination)

    @tool(effect=Effect.READ_ONLY, timeout_s=_T)
    async def get_calendar(date: Date) -> dict[str, Any]:
        """List the events already in the user's calendar on a date (to see what is on), with their start time and length."""
        return cell.get().calendar(date)

    @tool(effect=Effect.READ_ONLY, timeout_s=_T)
    async def find_free_time(
        date: Date,
        duration_minutes: int = 60,
        after: Annotated[str, Field(description="earliest start, HH:MM")] = "09:00",
        before: Annotated[str, Field(description="latest end, HH:MM")] = "18:00",
    ) -> dict[str, Any]:
        """Free windows in the user's calendar on a date, between two times, each at least duration_minutes long, earliest first."""
        return cell.get().free_slots(date, duration_minutes, after, before)

    @tool(effect=Effect.IRREVERSIBLE, timeout_s=_T, state=cell, sandboxable=True)
    async def add_calendar_event(
        title: str,
        date: Date,
        time: Annotated[str, Field(description="start, " + _TIME)],
        duration_minutes: int = 60,
    ) -> dict[str, Any]:
        """Add a new event to the user's calendar (to put, schedule or book something on a date at a time)."""
        return cell.get().add_event(title, date, time, duration_minutes)

    @tool(effect=Effect.READ_ONLY, timeout_s=_T)
    async def search_emails(
        query: Annotated[str, Field(description="a sender's name or words of the subject or text")],
    ) -> dict[str, Any]:
        """Search the e-mails the user received (bills, bookings, invitations, messages from people) by words or sender name; returns each e-mail's sender, subject, date and full text."""
        return cell.get().search_emails(query)

    @tool(effect=Effect.IRREVERSIBLE, timeout_s=_T, state=cell)
    async def send_email(
        to: Annotated[str, Field(description="an e-mail address or a contact's name")],
        subject: str,
        body: str,
    ) -> dict[str, Any]:
        """Send an e-mail from the user's account. Cannot be undone."""
        return cell.get().send_email(to, subject, body)

    @tool(effect=Effect.IRREVERSIBLE, timeout_s=_T, state=cell)
    async def send_message(
        to: Annotated[str, Field(description="a contact's name or a phone number")], text: str
    ) -> dict[str, Any]:
        """Send a text message. Cannot be undone."""
        return cell.get().send_message(to, text)

    @tool(effect=Effect.IRREVERSIBLE, timeout_s=_T, state=cell, sandboxable=True)
    async def create_reminder(
        text: Annotated[str, Field(description="what to remind the user of")],
        date: Date,
        time: Time,
    ) -> dict[str, Any]:
        """Create a reminder that alerts the user on a date at a time."""
        return cell.get().add_reminder(text, date, time)

    @tool(effect=Effect.IRREVERSIBLE, timeout_s=_T, state=cell, sandboxable=True)
    async def create_note(title: str, text: str) -> dict[str, Any]:
        """Save a note in the user's notes."""
        return cell.get().add_note(title, text)

    @tool(effect=Effect.READ_ONLY, timeout_s=_T)
    async def search_notes(
        query: Annotated[str, Field(description="words in the note's title or text")],
    ) -> dict[str, Any]:
        """Search the notes the user saved (passwords, codes, lists, things to remember) by words; returns each note's title and text."""
        return cell.get().search_notes(query)

    @tool(effect=Effect.READ_ONLY, timeout_s=_T)
    async def search_files(
        query: Annotated[str, Field(description="words in the file name")],
    ) -> dict[str, Any]:
        """Search the user's files by name; returns each file's name, date modified and size."""
        return cell.get().search_files(query)

    @tool(effect=Effect.IRREVERSIBLE, timeout_s=_T, state=cell)
    async def share_file(
        file_name: Annotated[str, Field(description="a file name from search_files")],
        email: Annotated[str, Field(description="an e-mail address or a contact's name")],
    ) -> dict[str, Any]:
        """Share one of the user's files with someone. Cannot be undone."""
        return cell.get().share_file(file_name, email)

    @tool(effect=Effect.IDEMPOTENT, timeout_s=_T, state=cell, sandboxable=True)
    async def set_thermostat(
        temperature_c: Annotated[int, Field(description="degrees Celsius")],
    ) -> dict[str, Any]:
        """Set the home thermostat to a temperature."""
        return cell.get().set_thermostat(temperature_c)

    @tool(effect=Effect.IDEMPOTENT, timeout_s=_T, state=cell, sandboxable=True)
    async def set_alarm(time: Time) -> dict[str, Any]:
        """Set an alarm (on the user's phone) at a time of day."""
        return cell.get().set_alarm(time)

    tools = [
        find_contact, get_weather, search_flights, book_flight, find_restaurants, reserve_table,
        get_directions, get_calendar, find_free_time, add_calendar_event, search_emails,
        send_email, send_message, create_reminder, create_note, search_notes, search_files,
        share_file, set_thermostat, set_alarm,
    ]  # fmt: skip
    for t in tools:
        TOOL_EFFECTS[t.name] = ("sandboxed " if t.sandboxable else "") + t.effect.value
    return Toolset(tools)
