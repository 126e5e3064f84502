"""Templated requests that only read: single lookups and independent parallel reads.

Each template has several phrasings, some with the key values early in the sentence ("In
Denver, what's the weather on Friday?") and some with them last ("What's the weather on
Friday in Denver?"); a share of draws is said the way people talk (see
:func:`.drafting.spoken`), some with a self-correction of a value.
"""

from __future__ import annotations

import random

from . import seed
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
    email_fact,
    event_facts,
    flight_call,
    flight_fact,
    phone_fact,
    pick,
    price_fact,
    spoken,
    street,
    top_restaurant,
    turn,
    weather_call,
    weather_facts,
)
from .spec import Call, number, said, time

__all__ = ["READ_TEMPLATES"]

CITIES = tuple(seed.CITIES)
LANDMARKS = ("Logan Airport", "South Station", "Fenway Park", "Boston Common", "MIT")


def _say(rng: random.Random, talk: bool, text: str) -> str:
    return spoken(rng, text) if talk else text


def weather(rng: random.Random, talk: bool) -> Draft:
    city, day = pick(rng, CITIES), day_slot(rng)
    shown = city
    if talk and rng.random() < 0.5:
        shown = correct(rng, pick(rng, CITIES, avoid=[city]), city)
    text = rng.choice([
        f"What's the weather going to be in {shown} {day.phrase}?",
        f"How's the weather looking {day.phrase} in {shown}?",
        f"Can you check the forecast for {shown} {day.phrase}?",
        f"In {shown}, what's the weather going to be like {day.phrase}?",
        f"{shown} weather {day.phrase}, please.",
        f"Tell me what the weather will be {day.phrase} in {shown}.",
    ])  # fmt: skip
    return Draft(
        "lookup",
        (turn(_say(rng, talk, text), [weather_call(city, day.iso)], weather_facts(city, day.iso)),),
        spoken=talk,
    )


def temperature(rng: random.Random, talk: bool) -> Draft:
    city, day = pick(rng, CITIES), day_slot(rng)
    text = rng.choice([
        f"How warm will it get in {city} {day.phrase}?",
        f"What's the high in {city} {day.phrase}?",
        f"{day.phrase.capitalize()}, how hot is it going to be in {city}?",
        f"What temperature is it going to be in {city} {day.phrase}?",
    ])  # fmt: skip
    return Draft(
        "lookup",
        (
            turn(
                _say(rng, talk, text),
                [weather_call(city, day.iso)],
                weather_facts(city, day.iso, high_only=True),
            ),
        ),
        spoken=talk,
    )


def contact_detail(rng: random.Random, talk: bool) -> Draft:
    person = contact(rng)
    kind = rng.choice(["phone", "email", "address"])
    text = {
        "phone": rng.choice([f"What's {person.first}'s phone number?", f"I need {person.first}'s number.",
                             f"Can you find the phone number for {person.name}?"]),
        "email": rng.choice([f"What's {person.first}'s email address?", f"Give me {person.first}'s email.",
                             f"Do you have an email address for {person.name}?"]),
        "address": rng.choice([f"Where does {person.first} live?", f"What's {person.first}'s address?",
                               f"Can you look up {person.name}'s home address?"]),
    }[kind]  # fmt: skip
    fact = {
        "phone": phone_fact(person),
        "email": email_fact(person),
        "address": street(person.address),
    }[kind]
    return Draft(
        "lookup", (turn(_say(rng, talk, text), [contact_call(person)], [fact]),), spoken=talk
    )


def calendar_day(rng: random.Random, talk: bool) -> Draft:
    day = day_slot(rng)
    text = rng.choice([
        f"What's on the calendar for me {day.phrase}?",
        f"Do I have anything scheduled {day.phrase}?",
        f"What does my day look like {day.phrase}?",
        f"{day.phrase.capitalize()}, what have I got on?",
    ])  # fmt: skip
    call = Call("get_calendar", {"date": day.iso})
    return Draft(
        "lookup", (turn(_say(rng, talk, text), [call], event_facts(day.iso)),), spoken=talk
    )


def cheapest(rng: random.Random, talk: bool) -> Draft:
    origin = "Boston" if rng.random() < 0.6 else pick(rng, CITIES)
    dest, day = pick(rng, CITIES, avoid=[origin]), day_slot(rng, avoid=[DAY_ISO_TODAY])
    flight = cheapest_flight(origin, dest, day.iso)
    text = rng.choice([
        f"What's the cheapest flight from {origin} to {dest} {day.phrase}?",
        f"Find me the cheapest way to fly to {dest} from {origin} {day.phrase}.",
        f"{day.phrase.capitalize()}, {origin} to {dest}: what's the cheapest flight?",
        f"How much is the cheapest flight {day.phrase} from {origin} to {dest}?",
    ])  # fmt: skip
    facts = [flight_fact(flight), price_fact(flight)]
    return Draft(
        "lookup",
        (turn(_say(rng, talk, text), [flight_call(origin, dest, day.iso)], facts),),
        spoken=talk,
    )


DAY_ISO_TODAY = "2026-06-01"
_CUISINES = sorted({(r.city, r.cuisine) for r in seed.RESTAURANTS})


def restaurant(rng: random.Random, talk: bool) -> Draft:
    city, cuisine = rng.choice(_CUISINES)
    best = top_restaurant(city, cuisine)
    text = rng.choice([
        f"Find me a good {cuisine} restaurant in {city}.",
        f"Any {cuisine} places in {city} you'd recommend?",
        f"What's the best rated {cuisine} restaurant in {city}?",
        f"In {city}, where can I get {cuisine} food?",
    ])  # fmt: skip
    call = Call("find_restaurants", {"city": city, "cuisine": cuisine})
    return Draft(
        "lookup",
        (turn(_say(rng, talk, text), [call], [said("restaurant", best["name"])]),),
        spoken=talk,
    )


def directions(rng: random.Random, talk: bool) -> Draft:
    place = pick(rng, LANDMARKS)
    origin, said_origin = rng.choice([("home", "home"), ("work", "work"), ("home", "my place")])
    mode, verb = rng.choice(
        [("driving", "drive"), ("walking", "walk"), ("transit", "take the T"), ("cycling", "bike")]
    )
    text = rng.choice([
        f"How long does it take to {verb} from {said_origin} to {place}?",
        f"If I {verb} to {place} from {said_origin}, how long will it take?",
        f"From {said_origin}, how many minutes to {verb} to {place}?",
    ])  # fmt: skip
    call = Call("get_directions", {"origin": origin, "destination": place})
    return Draft(
        "lookup",
        (turn(_say(rng, talk, text), [call], [duration_fact(origin, place, mode)]),),
        spoken=talk,
    )


_EMAIL_QUESTIONS = (
    # (query, phrasings, facts)
    ("budget", ["When does Priya want to review the budget?", "What time is the budget review Priya emailed about?"],
     [said("day", "thursday"), time("time", "14:00")]),
    ("offsite", ["Where is the team offsite, according to Tom's email?", "Did Tom say where the offsite is?"],
     [said("venue", "lakeside inn")]),
    ("Grace", ["When is my dental cleaning? Grace emailed me about it.", "What did Grace's email say about my appointment?"],
     [said("day", "wednesday", "june 10", "10 june"), time("time", "09:30")]),
    ("Lena", ["What time is Mom's party? Lena emailed about it.", "When does Mom's party start, according to Lena's email?"],
     [time("time", "18:00")]),
    ("Lena", ["What did Lena ask me to bring to Mom's party?", "Lena emailed about Mom's party. What should I bring?"],
     [said("item", "dessert")]),
    ("Chicago", ["What's the confirmation code for my Chicago flight? It's in my email.", "Find the booking code for my trip to Chicago in my email."],
     [said("confirmation code", "kx7p2q")]),
    ("Omar", ["How much do I owe Omar for the concert tickets?", "Omar emailed about concert tickets; how much do I owe him?"],
     [number("amount", 45)]),
    ("electricity", ["How much is my electricity bill this month?", "What's the amount of the electricity bill I got?"],
     [number("amount", 84)]),
    ("electricity", ["When is the electricity bill due?", "What's the due date on my electricity bill?"],
     [said("due date", "june 15", "15 june", "15th of june", "2026-06-15")]),
    ("Marcus", ["When did Marcus move tennis practice to?", "What did Marcus say about tennis this week?"],
     [said("day", "tuesday"), time("time", "18:30")]),
)  # fmt: skip


def email_question(rng: random.Random, talk: bool) -> Draft:
    query, phrasings, facts = rng.choice(_EMAIL_QUESTIONS)
    text = rng.choice(phrasings)
    return Draft(
        "lookup",
        (turn(_say(rng, talk, text), [Call("search_emails", {"query": query})], facts),),
        spoken=talk,
    )


_NOTE_QUESTIONS = (
    ("wifi", ["What's the wifi password?", "Can you find my home wifi password?"], [said("password", "bluefalcon42")]),
    ("garage", ["What's the garage door code?", "Remind me of the code for the garage."], [number("code", 4817)]),
    ("packing", ["What's on my packing list?", "Read me my packing list."], [said("item", "passport"), said("item", "charger")]),
    ("tire", ["What tire pressure did I write down for the car?", "What should the car's tire pressure be, per my notes?"], [number("psi", 35)]),
    ("launch", ["When is the launch date in my kickoff notes?", "What launch date did I note from the kickoff meeting?"], [said("date", "july 14", "14 july")]),
)  # fmt: skip


def note_question(rng: random.Random, talk: bool) -> Draft:
    query, phrasings, facts = rng.choice(_NOTE_QUESTIONS)
    return Draft(
        "lookup",
        (
            turn(
                _say(rng, talk, rng.choice(phrasings)),
                [Call("search_notes", {"query": query})],
                facts,
            ),
        ),
        spoken=talk,
    )


def free_time(rng: random.Random, talk: bool) -> Draft:
    day = day_slot(rng, weekdays_only=True)
    part, after = rng.choice([("afternoon", "12:00"), ("morning", "09:00")])
    before = "12:00" if part == "morning" else "18:00"
    free = REF.free_slots(day.iso, 60, after, before)["free"]
    if not free:
        part, after, before = "afternoon", "12:00", "18:00"
        free = REF.free_slots(day.iso, 60, after, before)["free"]
    text = rng.choice([
        f"When am I free for an hour {day.phrase} {'in the ' + part}?",
        f"Do I have a free hour {day.phrase} {'in the ' + part}? When's the first one?",
        f"What's my first free hour {day.phrase} {'in the ' + part}?",
    ])  # fmt: skip
    call = Call(
        "find_free_time",
        {"date": day.iso, "duration_minutes": 60, "after": after, "before": before},
    )
    return Draft(
        "lookup",
        (turn(_say(rng, talk, text), [call], [time("first free time", free[0]["from"])]),),
        spoken=talk,
    )


# -- parallel reads ------------------------------------------------------------------------


def two_cities(rng: random.Random, talk: bool) -> Draft:
    a = pick(rng, CITIES)
    b, day = pick(rng, CITIES, avoid=[a]), day_slot(rng)
    text = rng.choice([
        f"What's the weather {day.phrase} in {a} and in {b}?",
        f"Compare the weather in {a} and {b} {day.phrase}.",
        f"{day.phrase.capitalize()}, how's the weather in {a}, and how about {b}?",
        f"Check the forecast for {a} and {b} {day.phrase}.",
    ])  # fmt: skip
    calls = [weather_call(a, day.iso), weather_call(b, day.iso)]
    facts = [*weather_facts(a, day.iso), *weather_facts(b, day.iso)]
    return Draft("parallel", (turn(_say(rng, talk, text), calls, facts),), spoken=talk)


def weather_and_calendar(rng: random.Random, talk: bool) -> Draft:
    day = day_slot(rng)
    text = rng.choice([
        f"What's on my calendar {day.phrase}, and what's the weather in Boston?",
        f"{day.phrase.capitalize()}: what do I have on, and will the weather in Boston be okay?",
        f"Check my schedule and the Boston forecast for {day.phrase.removeprefix('on ')}.",
    ])  # fmt: skip
    calls = [Call("get_calendar", {"date": day.iso}), weather_call("Boston", day.iso)]
    return Draft(
        "parallel",
        (
            turn(
                _say(rng, talk, text),
                calls,
                [*event_facts(day.iso), *weather_facts("Boston", day.iso)],
            ),
        ),
        spoken=talk,
    )


def two_numbers(rng: random.Random, talk: bool) -> Draft:
    a = contact(rng)
    b = contact(rng, avoid=[a.first])
    text = rng.choice([
        f"Give me {a.first}'s and {b.first}'s phone numbers.",
        f"What are the numbers for {a.first} and {b.first}?",
        f"I need phone numbers for {a.name} and {b.name}.",
    ])  # fmt: skip
    return Draft(
        "parallel",
        (
            turn(
                _say(rng, talk, text),
                [contact_call(a), contact_call(b)],
                [phone_fact(a), phone_fact(b)],
            ),
        ),
        spoken=talk,
    )


def flight_and_weather(rng: random.Random, talk: bool) -> Draft:
    dest, day = pick(rng, CITIES, avoid=["Boston"]), day_slot(rng, avoid=[DAY_ISO_TODAY])
    flight = cheapest_flight("Boston", dest, day.iso)
    text = rng.choice([
        f"What's the cheapest flight from Boston to {dest} {day.phrase}, and what's the weather there that day?",
        f"I'm thinking of flying to {dest} {day.phrase}. What's the cheapest flight from Boston and how's the weather?",
    ])  # fmt: skip
    calls = [flight_call("Boston", dest, day.iso), weather_call(dest, day.iso)]
    facts = [flight_fact(flight), price_fact(flight), *weather_facts(dest, day.iso)]
    return Draft("parallel", (turn(_say(rng, talk, text), calls, facts),), spoken=talk)


def two_places(rng: random.Random, talk: bool) -> Draft:
    a = pick(rng, LANDMARKS)
    b = pick(rng, LANDMARKS, avoid=[a])
    mode, verb = rng.choice([("driving", "drive"), ("walking", "walk"), ("transit", "take the T")])
    text = rng.choice([
        f"How long does it take to {verb} from home to {a}, and to {b}?",
        f"From home, how long would I {verb} to {a}? And to {b}?",
    ])  # fmt: skip
    calls = [Call("get_directions", {"origin": "home", "destination": p}) for p in (a, b)]
    facts = [duration_fact("home", a, mode), duration_fact("home", b, mode)]
    return Draft("parallel", (turn(_say(rng, talk, text), calls, facts),), spoken=talk)


def weather_and_restaurant(rng: random.Random, talk: bool) -> Draft:
    city, cuisine = rng.choice(_CUISINES)
    day = day_slot(rng)
    best = top_restaurant(city, cuisine)
    text = rng.choice([
        f"What's the weather in {city} {day.phrase}, and can you find a {cuisine} restaurant there?",
        f"I'll be in {city} {day.phrase}. How's the weather, and what's a good {cuisine} place?",
    ])  # fmt: skip
    calls = [
        weather_call(city, day.iso),
        Call("find_restaurants", {"city": city, "cuisine": cuisine}),
    ]
    facts = [*weather_facts(city, day.iso), said("restaurant", best["name"])]
    return Draft("parallel", (turn(_say(rng, talk, text), calls, facts),), spoken=talk)


READ_TEMPLATES: tuple[Template, ...] = (
    Template("weather", 10, weather, 0.4),
    Template("temperature", 4, temperature, 0.25),
    Template("contact", 8, contact_detail, 0.25),
    Template("calendar", 5, calendar_day, 0.2),
    Template("cheapest", 4, cheapest, 0.25),
    Template("restaurant", 5, restaurant, 0.2),
    Template("directions", 5, directions, 0.2),
    Template("email-question", 5, email_question, 0.2),
    Template("note-question", 4, note_question, 0.2),
    Template("free-time", 3, free_time, 0.0),
    Template("two-cities", 5, two_cities, 0.3),
    Template("weather-calendar", 4, weather_and_calendar, 0.2),
    Template("two-numbers", 4, two_numbers, 0.2),
    Template("flight-weather", 4, flight_and_weather, 0.2),
    Template("two-places", 3, two_places, 0.0),
    Template("weather-restaurant", 3, weather_and_restaurant, 0.2),
)
