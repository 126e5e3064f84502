"""Templated requests that only write: thermostat and alarm setters, reminders, notes,
messages, calendar events, and two writes at once.

Spoken draws carry a self-correction of the value that will be committed ("set it to 20, no,
19"); the corrected-away value is recorded as forbidden, so committing it, even for a moment
before the right one, fails the run.
"""

from __future__ import annotations

import random

from .drafting import (
    Draft,
    Template,
    contact,
    correct,
    day_slot,
    event_want,
    message_want,
    pick,
    reminder_want,
    spoken,
    turn,
)
from .spec import Call, Has, Is, Want
from .templates_actions import ALARMS, MESSAGES, TASKS, TIMES

__all__ = ["WRITE_TEMPLATES"]


def _say(rng: random.Random, talk: bool, text: str) -> str:
    return spoken(rng, text) if talk else text


def thermostat(rng: random.Random, talk: bool) -> Draft:
    t = pick(rng, range(16, 27), avoid=[21])
    shown, forbidden = str(t), ()
    if talk:
        wrong = pick(rng, range(16, 27), avoid=[21, t])
        shown, forbidden = correct(rng, str(wrong), str(t)), (wrong,)
    text = rng.choice([
        f"Set the thermostat to {shown} degrees.",
        f"Can you turn the heat to {shown}?",
        f"Make it {shown} degrees in the house.",
        f"Thermostat to {shown}, please.",
    ])  # fmt: skip
    want = Want("thermostat", {"temperature_c": Is(t)})
    return Draft(
        "write",
        (turn(_say(rng, talk, text), [Call("set_thermostat", {"temperature_c": t})]),),
        (want,),
        forbidden,
        spoken=talk,
    )


def alarm(rng: random.Random, talk: bool) -> Draft:
    said_time, at = rng.choice(ALARMS)
    shown, forbidden = said_time, ()
    if talk:
        wrong_said, wrong = pick(
            rng, ALARMS, avoid=[(said_time, at)] + [a for a in ALARMS if a[1] == at]
        )
        shown, forbidden = correct(rng, wrong_said, said_time), (wrong,)
    text = rng.choice([
        f"Wake me up at {shown} tomorrow.",
        f"Set an alarm for {shown}.",
        f"Can you set my alarm to {shown}?",
        f"Alarm at {shown}, please.",
    ])  # fmt: skip
    want = Want("alarm", {"time": Is(at)})
    return Draft(
        "write",
        (turn(_say(rng, talk, text), [Call("set_alarm", {"time": at})]),),
        (want,),
        forbidden,
        spoken=talk,
    )


def reminder(rng: random.Random, talk: bool) -> Draft:
    day = day_slot(rng)
    (task, groups), (said_time, at) = rng.choice(TASKS), rng.choice(TIMES)
    shown, forbidden = said_time, ()
    if talk:
        wrong_said, wrong = pick(rng, TIMES, avoid=[(said_time, at)])
        shown, forbidden = correct(rng, wrong_said, said_time), (wrong,)
    text = rng.choice([
        f"Remind me to {task} {day.phrase} at {shown}.",
        f"{day.phrase.capitalize()} at {shown}, remind me to {task}.",
        f"Set a reminder {day.phrase} at {shown} to {task}.",
    ])  # fmt: skip
    call = Call("create_reminder", {"text": task.capitalize(), "date": day.iso, "time": at})
    return Draft(
        "write",
        (turn(_say(rng, talk, text), [call]),),
        (reminder_want(day.iso, at, *groups),),
        forbidden,
        spoken=talk,
    )


_NOTES = (
    ("the plumber comes Thursday at 10", (("plumber",),)),
    ("my locker number is 214", (("214",),)),
    ("Maria's kids are called Leo and Ana", (("leo",), ("ana",))),
    ("the car is parked on level 3", (("level 3",),)),
    ("buy a birthday gift for David", (("gift",),)),
    ("the new gate code is 5521", (("5521",),)),
)


def note(rng: random.Random, talk: bool) -> Draft:
    content, groups = rng.choice(_NOTES)
    text = rng.choice(
        [f"Make a note that {content}.", f"Write this down: {content}.", f"Save a note: {content}."]
    )
    want = Want("note", {"title+text": Has(groups)})
    call = Call("create_note", {"title": content.split()[1].capitalize(), "text": content})
    return Draft("write", (turn(_say(rng, talk, text), [call]),), (want,), spoken=talk)


def message(rng: random.Random, talk: bool) -> Draft:
    person = contact(rng)
    msg, groups = rng.choice(MESSAGES)
    shown, forbidden = person.first, ()
    if talk:
        wrong = contact(rng, avoid=[person.first])
        shown, forbidden = correct(rng, wrong.first, person.first), (wrong.name,)
    text = rng.choice([
        f"Text {shown} that {msg}.",
        f"Send a message to {shown}: {msg}.",
        f"Tell {shown} by text that {msg}.",
    ])  # fmt: skip
    call = Call("send_message", {"to": person.first, "text": msg.capitalize()})
    return Draft(
        "write",
        (turn(_say(rng, talk, text), [call]),),
        (message_want(person, *groups),),
        forbidden,
        spoken=talk,
    )


_TITLES = (("a haircut", (("haircut",),)), ("the dentist", (("dentist",),)), ("a call with the landlord", (("landlord",),)),
           ("the gym", (("gym",),)), ("a piano lesson", (("piano",),)))  # fmt: skip


def calendar_event(rng: random.Random, talk: bool) -> Draft:
    day = day_slot(rng)
    (title, groups), (said_time, at) = rng.choice(_TITLES), rng.choice(TIMES)
    shown, forbidden = day.phrase, ()
    if talk:
        wrong = day_slot(rng, avoid=[day.iso])
        shown, forbidden = correct(rng, wrong.phrase, day.phrase.removeprefix("on ")), (wrong.iso,)
    text = rng.choice([
        f"Add {title} to my calendar {shown} at {said_time}.",
        f"Put {title} on my calendar for {shown.removeprefix('on ')} at {said_time}.",
        f"Schedule {title} {shown} at {said_time}.",
    ])  # fmt: skip
    call = Call(
        "add_calendar_event",
        {
            "title": title.removeprefix("a ").removeprefix("the ").capitalize(),
            "date": day.iso,
            "time": at,
        },
    )
    return Draft(
        "write",
        (turn(_say(rng, talk, text), [call]),),
        (event_want(day.iso, at, *groups),),
        forbidden,
        spoken=talk,
    )


def two_writes(rng: random.Random, talk: bool) -> Draft:
    t = pick(rng, range(17, 25), avoid=[21])
    said_time, at = rng.choice(ALARMS)
    text = rng.choice([
        f"Set the thermostat to {t} and an alarm for {said_time}.",
        f"Alarm for {said_time}, and turn the thermostat to {t} degrees.",
    ])  # fmt: skip
    calls = [Call("set_thermostat", {"temperature_c": t}), Call("set_alarm", {"time": at})]
    wants = (Want("thermostat", {"temperature_c": Is(t)}), Want("alarm", {"time": Is(at)}))
    return Draft("write", (turn(_say(rng, talk, text), calls),), wants, spoken=talk)


WRITE_TEMPLATES: tuple[Template, ...] = (
    Template("thermostat", 5, thermostat, 0.5),
    Template("alarm", 4, alarm, 0.3),
    Template("reminder", 6, reminder, 0.4),
    Template("note", 4, note, 0.2),
    Template("message", 6, message, 0.4),
    Template("calendar-event", 4, calendar_event, 0.3),
    Template("two-writes", 3, two_writes, 0.0),
)
