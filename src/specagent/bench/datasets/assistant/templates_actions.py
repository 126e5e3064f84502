"""Templated requests of several steps: dependent chains, a read then a write, and a few that
look like chains but need one call because the tool resolves a contact's name itself (as a mail
or maps app does). Requests that only write are in :mod:`.templates_writes`.

Chains need an earlier result to write a later call (an e-mail address from ``find_contact``,
the cheapest flight's number, the first free hour); these are the requests whose first steps
can start while the person is still talking. Self-corrections here change a value that would
be committed ("to Miami, sorry, Atlanta"); the corrected-away value is recorded as forbidden.
"""

from __future__ import annotations

import random

from .drafting import (
    REF,
    Draft,
    Template,
    cheapest_flight,
    contact,
    contact_call,
    correct,
    day_slot,
    duration_fact,
    email_want,
    event_facts,
    event_want,
    first_free,
    flight_call,
    message_want,
    pick,
    reminder_want,
    spoken,
    top_restaurant,
    turn,
    weather_call,
    weather_facts,
)
from .spec import Call, Is, Want, number
from .templates_reads import _CUISINES, CITIES, DAY_ISO_TODAY, LANDMARKS

__all__ = ["ACTION_TEMPLATES", "MESSAGES", "TASKS"]

MESSAGES = (
    ("I'm running ten minutes late", (("late",), ("10",))),
    ("the meeting moved to Thursday", (("thursday",),)),
    ("dinner is at seven", (("dinner",), ("7", "19:00"))),
    ("I'll call after lunch", (("call",), ("lunch",))),
    ("happy birthday", (("birthday",),)),
    ("the report is ready", (("report",),)),
    ("can you pick up some milk", (("milk",),)),
    ("I landed safely", (("landed",),)),
    ("I'll bring the slides tomorrow", (("slides",),)),
    ("thanks for the help today", (("thanks", "thank"),)),
)
TASKS = (
    ("take an umbrella", (("umbrella",),)),
    ("water the plants", (("plants",),)),
    ("call the bank", (("bank",),)),
    ("pick up the dry cleaning", (("dry cleaning", "cleaning"),)),
    ("buy milk", (("milk",),)),
    ("pay the rent", (("rent",),)),
    ("book a haircut", (("haircut",),)),
)
TIMES = (("8 am", "08:00"), ("9:30", "09:30"), ("noon", "12:00"), ("3 pm", "15:00"), ("5:30 pm", "17:30"),
         ("6 pm", "18:00"), ("7:15 am", "07:15"), ("4 pm", "16:00"))  # fmt: skip
ALARMS = (("6:30", "06:30"), ("7 am", "07:00"), ("6 am", "06:00"), ("7:15", "07:15"), ("5:45 am", "05:45"),
          ("8 o'clock", "08:00"), ("6:45 am", "06:45"))  # fmt: skip
DINNER = (
    ("seven", "19:00"),
    ("7:30", "19:30"),
    ("eight", "20:00"),
    ("6 pm", "18:00"),
    ("8:30", "20:30"),
)
PARTY = (("two", 2), ("three", 3), ("four", 4), ("five", 5), ("six", 6))


def _say(rng: random.Random, talk: bool, text: str) -> str:
    return spoken(rng, text) if talk else text


# -- chains --------------------------------------------------------------------------------


def email_contact(rng: random.Random, talk: bool) -> Draft:
    person = contact(rng)
    msg, groups = rng.choice(MESSAGES)
    text = rng.choice([
        f"Email {person.first} that {msg}.",
        f"Send {person.first} an email saying {msg}.",
        f"Can you email {person.name} and tell {person.pronoun} {msg}?",
        f"Drop {person.first} a quick email: {msg}.",
    ])  # fmt: skip
    calls = [
        Call(
            "send_email",
            {"to": person.first, "subject": msg.capitalize(), "body": msg.capitalize() + "."},
        ),
    ]
    return Draft(
        "write", (turn(_say(rng, talk, text), calls),), (email_want(person, *groups),), spoken=talk
    )


def text_weather(rng: random.Random, talk: bool) -> Draft:
    person, city, day = contact(rng), pick(rng, CITIES), day_slot(rng)
    w = REF.weather(city, day.iso)
    text = rng.choice([
        f"Text {person.first} the weather in {city} {day.phrase}.",
        f"Check the forecast for {city} {day.phrase} and send it to {person.first}.",
        f"Let {person.first} know by text what the weather's like in {city} {day.phrase}.",
    ])  # fmt: skip
    body = f"{city} {day.phrase}: {w['condition']}, high {w['high_c']} C."
    calls = [weather_call(city, day.iso), Call("send_message", {"to": person.first, "text": body})]
    want = message_want(person, (*_condition_words(w["condition"]), str(w["high_c"])))
    return Draft("chain", (turn(_say(rng, talk, text), calls),), (want,), spoken=talk)


def _condition_words(condition: str) -> tuple[str, ...]:
    from .seed import CONDITION_WORDS

    return CONDITION_WORDS[condition]


def free_slot_event(rng: random.Random, talk: bool) -> Draft:
    person, day = contact(rng), day_slot(rng, weekdays_only=True, avoid=[DAY_ISO_TODAY])
    what = rng.choice(["a call", "coffee", "a meeting", "a catch-up"])
    start = first_free(day.iso, 60, "12:00")
    text = rng.choice([
        f"Find my first free hour {day.phrase} afternoon and put {what} with {person.first} in it.",
        f"Book {what} with {person.first} in the first free hour I have {day.phrase} afternoon.",
        f"{day.phrase.capitalize()} afternoon, schedule {what} with {person.first} at my first free hour.",
    ])  # fmt: skip
    title = f"{what.removeprefix('a ').capitalize()} with {person.first}"
    calls = [
        Call("find_free_time", {"date": day.iso, "duration_minutes": 60, "after": "12:00"}),
        Call(
            "add_calendar_event",
            {"title": title, "date": day.iso, "time": start, "duration_minutes": 60},
        ),
    ]
    want = event_want(day.iso, start, (person.first.lower(),), minutes=60)
    return Draft("chain", (turn(_say(rng, talk, text), calls),), (want,), spoken=talk)


def cheapest_book(rng: random.Random, talk: bool) -> Draft:
    dest, day = pick(rng, CITIES, avoid=["Boston"]), day_slot(rng, avoid=[DAY_ISO_TODAY])
    flight = cheapest_flight("Boston", dest, day.iso)
    shown, forbidden = dest, ()
    if talk:
        wrong = pick(rng, CITIES, avoid=["Boston", dest])
        shown, forbidden = correct(rng, wrong, dest), (wrong,)
    text = rng.choice([
        f"Book the cheapest flight from Boston to {shown} {day.phrase}.",
        f"Get me on the cheapest flight {day.phrase} from Boston to {shown}.",
        f"I need to fly to {shown} {day.phrase}; book the cheapest flight from Boston.",
    ])  # fmt: skip
    calls = [
        flight_call("Boston", dest, day.iso),
        Call("book_flight", {"flight_number": flight["flight_number"]}),
    ]
    want = Want("flight", {"flight_number": Is(flight["flight_number"])})
    return Draft("chain", (turn(_say(rng, talk, text), calls),), (want,), forbidden, spoken=talk)


def restaurant_reserve(rng: random.Random, talk: bool) -> Draft:
    city, cuisine = rng.choice(_CUISINES)
    day = day_slot(rng)
    (said_size, size), (said_time, at) = rng.choice(PARTY), rng.choice(DINNER)
    best = top_restaurant(city, cuisine)
    size_text, forbidden = f"for {said_size}", ()
    if talk:
        wrong_said, wrong = pick(rng, PARTY, avoid=[(said_size, size)])
        size_text, forbidden = "for " + correct(rng, wrong_said, said_size), (wrong,)
    text = rng.choice([
        f"Book a table {size_text} at the best {cuisine} place in {city} {day.phrase} at {said_time}.",
        f"Find the top rated {cuisine} restaurant in {city} and reserve a table {size_text} {day.phrase} at {said_time}.",
        f"{day.phrase.capitalize()} at {said_time}, I'd like a table {size_text} at the best {cuisine} restaurant in {city}.",
    ])  # fmt: skip
    calls = [
        Call("find_restaurants", {"city": city, "cuisine": cuisine}),
        Call(
            "reserve_table",
            {"restaurant": best["name"], "date": day.iso, "time": at, "party_size": size},
        ),
    ]
    want = Want(
        "reservation",
        {
            "restaurant": Is(best["name"]),
            "date": Is(day.iso),
            "time": Is(at),
            "party_size": Is(size),
        },
    )
    return Draft("chain", (turn(_say(rng, talk, text), calls),), (want,), forbidden, spoken=talk)


_FILES = (("budget", "Q3 budget.xlsx", "the Q3 budget"), ("agenda", "Offsite agenda.docx", "the offsite agenda"),
          ("deck", "Client deck.pptx", "the client deck"), ("plan", "Project plan.docx", "the project plan"),
          ("marathon", "Marathon training plan.pdf", "my marathon training plan"))  # fmt: skip


def file_share(rng: random.Random, talk: bool) -> Draft:
    person = contact(rng)
    query, name, said_file = rng.choice(_FILES)
    text = rng.choice([
        f"Share {said_file} with {person.first}.",
        f"Can you send {person.first} access to {said_file} file?",
        f"Give {person.name} access to {said_file}.",
    ])  # fmt: skip
    calls = [Call("search_files", {"query": query}),
             Call("share_file", {"file_name": name, "email": person.first})]  # fmt: skip
    want = Want("share", {"file": Is(name), "email": Is(person.email)})
    return Draft("chain", (turn(_say(rng, talk, text), calls),), (want,), spoken=talk)


def contact_directions(rng: random.Random, talk: bool) -> Draft:
    person = contact(rng)
    mode, verb = rng.choice([("driving", "drive"), ("walking", "walk"), ("cycling", "bike")])
    text = rng.choice([
        f"How long would it take me to {verb} to {person.first}'s place?",
        f"If I {verb} from home to {person.first}'s, how long is that?",
        f"How many minutes to {verb} over to {person.name}'s house from home?",
    ])  # fmt: skip
    calls = [Call("get_directions", {"origin": "home", "destination": person.first})]
    return Draft(
        "lookup",
        (turn(_say(rng, talk, text), calls, [duration_fact("home", person.address, mode)]),),
        spoken=talk,
    )


def address_message(rng: random.Random, talk: bool) -> Draft:
    a = contact(rng)
    b = contact(rng, avoid=[a.first])
    text = rng.choice([
        f"Text {a.first}'s address to {b.first}.",
        f"Send {a.first}'s address to {b.first} by text message.",
        f"Can you message {b.name} with {a.name}'s home address?",
    ])  # fmt: skip
    calls = [contact_call(a), Call("send_message", {"to": b.first, "text": a.address})]
    want = message_want(b, (a.address.split(",")[0],))
    return Draft("chain", (turn(_say(rng, talk, text), calls),), (want,), spoken=talk)


def note_message(rng: random.Random, talk: bool) -> Draft:
    person = contact(rng)
    query, value, said_what = rng.choice(
        [("wifi", "bluefalcon42", "the wifi password"), ("garage", "4817", "the garage code")]
    )
    text = rng.choice([
        f"Text {person.first} {said_what}.",
        f"Look up {said_what} in my notes and text it to {person.first}.",
    ])  # fmt: skip
    calls = [
        Call("search_notes", {"query": query}),
        Call("send_message", {"to": person.first, "text": value}),
    ]
    return Draft(
        "chain",
        (turn(_say(rng, talk, text), calls),),
        (message_want(person, (value,)),),
        spoken=talk,
    )


# -- a read, then a write --------------------------------------------------------------------


def weather_reminder(rng: random.Random, talk: bool) -> Draft:
    day = day_slot(rng, avoid=[DAY_ISO_TODAY])
    (task, groups), (said_time, at) = rng.choice(TASKS), rng.choice(TIMES)
    text = rng.choice([
        f"What's the weather in Boston {day.phrase}? And remind me to {task} {day.phrase} at {said_time}.",
        f"Remind me to {task} {day.phrase} at {said_time}, and tell me the Boston forecast for that day.",
    ])  # fmt: skip
    calls = [
        weather_call("Boston", day.iso),
        Call("create_reminder", {"text": task.capitalize(), "date": day.iso, "time": at}),
    ]
    return Draft(
        "read_write",
        (turn(_say(rng, talk, text), calls, weather_facts("Boston", day.iso)),),
        (reminder_want(day.iso, at, *groups),),
        spoken=talk,
    )


def calendar_alarm(rng: random.Random, talk: bool) -> Draft:
    day = day_slot(rng, avoid=[DAY_ISO_TODAY])
    said_time, at = rng.choice(ALARMS)
    text = rng.choice([
        f"What's on my calendar {day.phrase}? Also set an alarm for {said_time}.",
        f"Set an alarm for {said_time} and tell me what I have {day.phrase}.",
    ])  # fmt: skip
    calls = [Call("get_calendar", {"date": day.iso}), Call("set_alarm", {"time": at})]
    want = Want("alarm", {"time": Is(at)})
    return Draft(
        "read_write",
        (turn(_say(rng, talk, text), calls, event_facts(day.iso)),),
        (want,),
        spoken=talk,
    )


def cold_thermostat(rng: random.Random, talk: bool) -> Draft:
    t = pick(rng, range(18, 25), avoid=[21])
    text = rng.choice([
        f"How cold will it get in Boston tonight? And set the thermostat to {t}.",
        f"Set the thermostat to {t} degrees, and what's tonight's low in Boston?",
    ])  # fmt: skip
    w = REF.weather("Boston", DAY_ISO_TODAY)
    calls = [weather_call("Boston", DAY_ISO_TODAY), Call("set_thermostat", {"temperature_c": t})]
    want = Want("thermostat", {"temperature_c": Is(t)})
    return Draft(
        "read_write",
        (turn(_say(rng, talk, text), calls, [number("low", w["low_c"])]),),
        (want,),
        spoken=talk,
    )


def directions_reminder(rng: random.Random, talk: bool) -> Draft:
    place = pick(rng, LANDMARKS)
    day = day_slot(rng, avoid=[DAY_ISO_TODAY])
    said_time, at = rng.choice(TIMES)
    text = rng.choice([
        f"How long is the drive from home to {place}? And remind me to leave {day.phrase} at {said_time}.",
        f"Remind me {day.phrase} at {said_time} to leave for {place}, and how long is the drive from home?",
    ])  # fmt: skip
    calls = [Call("get_directions", {"origin": "home", "destination": place}),
             Call("create_reminder", {"text": f"Leave for {place}", "date": day.iso, "time": at})]  # fmt: skip
    return Draft(
        "read_write",
        (turn(_say(rng, talk, text), calls, [duration_fact("home", place)]),),
        (reminder_want(day.iso, at, ("leave",)),),
        spoken=talk,
    )


ACTION_TEMPLATES: tuple[Template, ...] = (
    Template("email-contact", 6, email_contact, 0.2),
    Template("text-weather", 4, text_weather, 0.2),
    Template("free-slot-event", 4, free_slot_event, 0.0),
    Template("cheapest-book", 5, cheapest_book, 0.4),
    Template("restaurant-reserve", 5, restaurant_reserve, 0.4),
    Template("file-share", 4, file_share, 0.0),
    Template("contact-directions", 4, contact_directions, 0.2),
    Template("address-message", 3, address_message, 0.0),
    Template("note-message", 3, note_message, 0.2),
    Template("weather-reminder", 4, weather_reminder, 0.2),
    Template("calendar-alarm", 3, calendar_alarm, 0.0),
    Template("cold-thermostat", 3, cold_thermostat, 0.3),
    Template("directions-reminder", 3, directions_reminder, 0.0),
)
