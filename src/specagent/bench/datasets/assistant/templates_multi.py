"""Templated conversations of two or three turns, where a follow-up refers back.

"What's Maria's number?" then "Text her that I'm running late": the second turn only makes
sense with the first one's words and results, which the agent sees in its ledger. Each turn
states its own facts; the effects are judged on the world at the end of the conversation.
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
    day_slot,
    duration_fact,
    email_fact,
    email_want,
    event_facts,
    event_want,
    first_free,
    flight_call,
    flight_fact,
    message_want,
    phone_fact,
    pick,
    price_fact,
    reminder_want,
    spoken,
    top_restaurant,
    turn,
    weather_call,
    weather_facts,
)
from .seed import CONDITION_WORDS
from .spec import Call, Is, Want, condition, said, time
from .templates_actions import ALARMS, DINNER, MESSAGES, PARTY, TIMES
from .templates_reads import _CUISINES, CITIES, DAY_ISO_TODAY, LANDMARKS

__all__ = ["MULTI_TEMPLATES"]


def _say(rng: random.Random, talk: bool, text: str) -> str:
    return spoken(rng, text) if talk else text


def contact_then_text(rng: random.Random, talk: bool) -> Draft:
    person = contact(rng)
    msg, groups = rng.choice(MESSAGES)
    first = rng.choice(
        [f"What's {person.first}'s number?", f"Can you find {person.name}'s phone number?"]
    )
    second = rng.choice([f"Text {person.pronoun} that {msg}.", f"Great, send {person.pronoun} a text: {msg}.",
                         f"Okay, message {person.pronoun} that {msg}."])  # fmt: skip
    turns = (
        turn(first, [contact_call(person)], [phone_fact(person)]),
        turn(
            _say(rng, talk, second),
            [Call("send_message", {"to": person.first, "text": msg.capitalize()})],
        ),
    )
    return Draft("read_write", turns, (message_want(person, *groups),), spoken=talk)


def weather_then_city(rng: random.Random, talk: bool) -> Draft:
    a = pick(rng, CITIES)
    b, day = pick(rng, CITIES, avoid=[a]), day_slot(rng)
    first = rng.choice(
        [
            f"What's the weather going to be in {a} {day.phrase}?",
            f"How's {a} looking {day.phrase}, weather-wise?",
        ]
    )
    second = rng.choice([f"And in {b}?", f"What about {b}?", f"How about {b} that day?"])
    turns = (
        turn(first, [weather_call(a, day.iso)], weather_facts(a, day.iso)),
        turn(_say(rng, talk, second), [weather_call(b, day.iso)], weather_facts(b, day.iso)),
    )
    return Draft("parallel", turns, spoken=talk)


def restaurant_then_book(rng: random.Random, talk: bool) -> Draft:
    city, cuisine = rng.choice(_CUISINES)
    day = day_slot(rng)
    (said_size, size), (said_time, at) = rng.choice(PARTY), rng.choice(DINNER)
    best = top_restaurant(city, cuisine)
    first = rng.choice(
        [
            f"What's the best {cuisine} restaurant in {city}?",
            f"Find me the top rated {cuisine} place in {city}.",
        ]
    )
    second = rng.choice([f"Book it for {said_size} {day.phrase} at {said_time}.",
                         f"Reserve a table there for {said_size}, {day.phrase.removeprefix('on ')} at {said_time}."])  # fmt: skip
    turns = (
        turn(
            first,
            [Call("find_restaurants", {"city": city, "cuisine": cuisine})],
            [said("restaurant", best["name"])],
        ),
        turn(
            _say(rng, talk, second),
            [
                Call(
                    "reserve_table",
                    {"restaurant": best["name"], "date": day.iso, "time": at, "party_size": size},
                )
            ],
        ),
    )
    want = Want(
        "reservation",
        {
            "restaurant": Is(best["name"]),
            "date": Is(day.iso),
            "time": Is(at),
            "party_size": Is(size),
        },
    )
    return Draft("chain", turns, (want,), spoken=talk)


def flights_then_book(rng: random.Random, talk: bool) -> Draft:
    dest, day = pick(rng, CITIES, avoid=["Boston"]), day_slot(rng, avoid=[DAY_ISO_TODAY])
    flight = cheapest_flight("Boston", dest, day.iso)
    first = rng.choice([f"What's the cheapest flight from Boston to {dest} {day.phrase}?",
                        f"Look up flights {day.phrase} from Boston to {dest}. Which is cheapest?"])  # fmt: skip
    second = rng.choice(
        ["Book that one.", "Great, book it.", "Okay, go ahead and book the cheapest one."]
    )
    turns = (
        turn(
            first, [flight_call("Boston", dest, day.iso)], [flight_fact(flight), price_fact(flight)]
        ),
        turn(
            _say(rng, talk, second),
            [Call("book_flight", {"flight_number": flight["flight_number"]})],
        ),
    )
    return Draft(
        "chain",
        turns,
        (Want("flight", {"flight_number": Is(flight["flight_number"])}),),
        spoken=talk,
    )


_TITLES = (
    ("a haircut", "haircut"),
    ("a call with Mom", "mom"),
    ("the gym", "gym"),
    ("a walk", "walk"),
)


def calendar_then_event(rng: random.Random, talk: bool) -> Draft:
    day = day_slot(rng)
    (title, word), (said_time, at) = rng.choice(_TITLES), rng.choice(TIMES)
    first = rng.choice(
        [f"What have I got on my calendar {day.phrase}?", f"What do I have {day.phrase}?"]
    )
    second = rng.choice(
        [f"Add {title} at {said_time} that day.", f"Okay, put {title} in at {said_time}."]
    )
    turns = (
        turn(first, [Call("get_calendar", {"date": day.iso})], event_facts(day.iso)),
        turn(
            _say(rng, talk, second),
            [Call("add_calendar_event", {"title": title, "date": day.iso, "time": at})],
        ),
    )
    return Draft("read_write", turns, (event_want(day.iso, at, (word,)),), spoken=talk)


def weather_then_text(rng: random.Random, talk: bool) -> Draft:
    person, city, day = contact(rng), pick(rng, CITIES), day_slot(rng)
    w = REF.weather(city, day.iso)
    first = rng.choice(
        [
            f"What's the weather going to be in {city} {day.phrase}?",
            f"Check the forecast for {city} {day.phrase}.",
        ]
    )
    second = rng.choice(
        [
            f"Text that to {person.first}.",
            f"Send that to {person.first} too.",
            f"Can you forward that forecast to {person.first} by text?",
        ]
    )
    turns = (
        turn(first, [weather_call(city, day.iso)], weather_facts(city, day.iso)),
        turn(
            _say(rng, talk, second),
            [
                Call(
                    "send_message",
                    {"to": person.first, "text": f"{w['condition']}, high {w['high_c']}"},
                )
            ],
        ),
    )
    want = message_want(person, (*CONDITION_WORDS[w["condition"]], str(w["high_c"])))
    return Draft("chain", turns, (want,), spoken=talk)


def free_then_book(rng: random.Random, talk: bool) -> Draft:
    person, day = contact(rng), day_slot(rng, weekdays_only=True, avoid=[DAY_ISO_TODAY])
    start = first_free(day.iso, 60, "12:00")
    first = rng.choice(
        [
            f"When am I free for an hour {day.phrase} afternoon?",
            f"Do I have a free hour {day.phrase} afternoon?",
        ]
    )
    second = rng.choice(
        [
            f"Put a call with {person.first} in the first one.",
            f"Book the first one for coffee with {person.first}.",
        ]
    )
    turns = (
        turn(
            first,
            [Call("find_free_time", {"date": day.iso, "duration_minutes": 60, "after": "12:00"})],
            [time("first free time", start)],
        ),
        turn(
            _say(rng, talk, second),
            [
                Call(
                    "add_calendar_event",
                    {
                        "title": f"Call with {person.first}",
                        "date": day.iso,
                        "time": start,
                        "duration_minutes": 60,
                    },
                )
            ],
        ),
    )
    return Draft(
        "chain", turns, (event_want(day.iso, start, (person.first.lower(),)),), spoken=talk
    )


def contact_then_email(rng: random.Random, talk: bool) -> Draft:
    person = contact(rng)
    msg, groups = rng.choice(MESSAGES)
    first = rng.choice(
        [f"Can you look up {person.first}'s email address?", f"What's {person.name}'s email?"]
    )
    second = rng.choice(
        [f"Email {person.pronoun} that {msg}.", f"Send {person.pronoun} an email saying {msg}."]
    )
    turns = (
        turn(first, [contact_call(person)], [email_fact(person)]),
        turn(
            _say(rng, talk, second),
            [
                Call(
                    "send_email",
                    {"to": person.email, "subject": msg.capitalize(), "body": msg.capitalize()},
                )
            ],
        ),
    )
    return Draft("chain", turns, (email_want(person, *groups),), spoken=talk)


def directions_then_reminder(rng: random.Random, talk: bool) -> Draft:
    place, day = pick(rng, LANDMARKS), day_slot(rng, avoid=[DAY_ISO_TODAY])
    said_time, at = rng.choice(TIMES)
    first = rng.choice(
        [
            f"How long is the drive from home to {place}?",
            f"How long does it take to drive to {place} from home?",
        ]
    )
    second = rng.choice(
        [
            f"Remind me to leave {day.phrase} at {said_time}.",
            f"Okay, set a reminder to leave {day.phrase} at {said_time}.",
        ]
    )
    turns = (
        turn(
            first,
            [Call("get_directions", {"origin": "home", "destination": place})],
            [duration_fact("home", place)],
        ),
        turn(
            _say(rng, talk, second),
            [Call("create_reminder", {"text": f"Leave for {place}", "date": day.iso, "time": at})],
        ),
    )
    return Draft("read_write", turns, (reminder_want(day.iso, at, ("leave",)),), spoken=talk)


def thermostat_then_change(rng: random.Random, talk: bool) -> Draft:
    a = pick(rng, range(17, 26), avoid=[21])
    b = pick(rng, range(17, 26), avoid=[21, a])
    first = rng.choice([f"Set the thermostat to {a}.", f"Turn the heat to {a} degrees."])
    second = rng.choice(
        [
            f"Actually, make it {b}.",
            f"Hmm, that's not right, set it to {b} instead.",
            f"Change it to {b}.",
        ]
    )
    turns = (
        turn(first, [Call("set_thermostat", {"temperature_c": a})]),
        turn(_say(rng, talk, second), [Call("set_thermostat", {"temperature_c": b})]),
    )
    wants = (
        Want("thermostat", {"temperature_c": Is(a)}),
        Want("thermostat", {"temperature_c": Is(b)}),
    )
    return Draft("write", turns, wants, spoken=talk)


def message_then_another(rng: random.Random, talk: bool) -> Draft:
    a = contact(rng)
    b = contact(rng, avoid=[a.first])
    msg, groups = rng.choice(MESSAGES)
    first = rng.choice([f"Text {a.first} that {msg}.", f"Send {a.first} a message: {msg}."])
    second = rng.choice([f"And send the same to {b.first}.", f"Tell {b.first} too."])
    turns = (
        turn(first, [Call("send_message", {"to": a.first, "text": msg})]),
        turn(_say(rng, talk, second), [Call("send_message", {"to": b.first, "text": msg})]),
    )
    return Draft("write", turns, (message_want(a, *groups), message_want(b, *groups)), spoken=talk)


def rain_then_reminder(rng: random.Random, talk: bool) -> Draft:
    day = day_slot(rng, avoid=[DAY_ISO_TODAY])
    said_time, at = rng.choice(ALARMS[:4])
    cond = REF.weather("Boston", day.iso)["condition"]
    first = rng.choice(
        [f"Will it rain in Boston {day.phrase}?", f"What's the forecast for Boston {day.phrase}?"]
    )
    second = rng.choice(
        [
            f"Remind me to take an umbrella {day.phrase} at {said_time}.",
            f"Okay, remind me at {said_time} {day.phrase} to grab an umbrella.",
        ]
    )
    turns = (
        turn(first, [weather_call("Boston", day.iso)], [condition(cond)]),
        turn(
            _say(rng, talk, second),
            [Call("create_reminder", {"text": "Take an umbrella", "date": day.iso, "time": at})],
        ),
    )
    return Draft("read_write", turns, (reminder_want(day.iso, at, ("umbrella",)),), spoken=talk)


def restaurant_weather_book(rng: random.Random, talk: bool) -> Draft:
    city, cuisine = rng.choice([c for c in _CUISINES if c[0] != "Boston"])
    day = day_slot(rng, avoid=[DAY_ISO_TODAY])
    (said_size, size), (said_time, at) = rng.choice(PARTY), rng.choice(DINNER)
    best = top_restaurant(city, cuisine)
    turns = (
        turn(f"I'm going to be in {city} {day.phrase}. What's a good {cuisine} restaurant there?",
             [Call("find_restaurants", {"city": city, "cuisine": cuisine})], [said("restaurant", best["name"])]),
        turn("And what's the weather going to be that day?", [weather_call(city, day.iso)], weather_facts(city, day.iso)),
        turn(_say(rng, talk, f"Nice. Book that restaurant for {said_size} at {said_time}."),
             [Call("reserve_table", {"restaurant": best["name"], "date": day.iso, "time": at, "party_size": size})]),
    )  # fmt: skip
    want = Want(
        "reservation",
        {
            "restaurant": Is(best["name"]),
            "date": Is(day.iso),
            "time": Is(at),
            "party_size": Is(size),
        },
    )
    return Draft("chain", turns, (want,), spoken=talk)


MULTI_TEMPLATES: tuple[Template, ...] = (
    Template("mt-contact-text", 7, contact_then_text, 0.3),
    Template("mt-weather-city", 7, weather_then_city, 0.4),
    Template("mt-restaurant-book", 5, restaurant_then_book, 0.2),
    Template("mt-flights-book", 5, flights_then_book, 0.2),
    Template("mt-calendar-event", 5, calendar_then_event, 0.2),
    Template("mt-weather-text", 5, weather_then_text, 0.2),
    Template("mt-free-book", 4, free_then_book, 0.0),
    Template("mt-contact-email", 5, contact_then_email, 0.2),
    Template("mt-directions-reminder", 4, directions_then_reminder, 0.2),
    Template("mt-thermostat-change", 4, thermostat_then_change, 0.3),
    Template("mt-message-another", 4, message_then_another, 0.2),
    Template("mt-rain-reminder", 4, rain_then_reminder, 0.2),
    Template("mt-restaurant-weather-book", 3, restaurant_weather_book, 0.0),
)
