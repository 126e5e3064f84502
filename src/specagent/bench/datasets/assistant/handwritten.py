"""Requests written by hand, one by one, in the words a person would use.

Templates give volume; these give variety: reasons given in passing ("I need to call the
dentist's office"), references to relations ("my sister, Lena"), choices the model must make
from a result (the earliest flight, two hours before the party), five-call chains, natural
speech with corrections, and conversations of two turns. Ids ``hw-NN`` are fixed; new
requests get new numbers. Facts and arguments are computed from the reference world, never
typed in, so they cannot disagree with the tools.
"""

from __future__ import annotations

from typing import Any

from . import seed
from .drafting import (
    REF,
    cheapest_flight,
    contact_call,
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
    price_fact,
    reminder_want,
    street,
    turn,
    weather_call,
    weather_facts,
)
from .spec import (
    Call,
    Category,
    EpisodeSpec,
    Has,
    Is,
    TurnSpec,
    Want,
    condition,
    number,
    said,
    time,
)

__all__ = ["HANDWRITTEN"]

C = {c.first: c for c in seed.CONTACTS}
SAT, SUN, TUE, WED, THU, FRI = (
    "2026-06-06",
    "2026-06-07",
    "2026-06-02",
    "2026-06-03",
    "2026-06-04",
    "2026-06-05",
)
TODAY, TOMORROW, NEXT_MON, NEXT_TUE, NEXT_FRI = (
    "2026-06-01",
    "2026-06-02",
    "2026-06-08",
    "2026-06-09",
    "2026-06-12",
)


def hw(
    number_: int,
    category: Category,
    turns: list[TurnSpec],
    effects: tuple[Want, ...] = (),
    forbidden: tuple[Any, ...] = (),
    spoken: bool = False,
) -> EpisodeSpec:
    return EpisodeSpec(
        f"hw-{number_:02d}",
        category,
        tuple(turns),
        effects,
        forbidden,
        spoken,
        "handwritten",
        "handwritten",
    )


def _restaurant(name: str) -> seed.Restaurant:
    return next(r for r in seed.RESTAURANTS if r.name == name)


def _reserve(name: str, iso: str, at: str, size: int) -> tuple[Call, Want]:
    call = Call("reserve_table", {"restaurant": name, "date": iso, "time": at, "party_size": size})
    return call, Want(
        "reservation",
        {"restaurant": Is(name), "date": Is(iso), "time": Is(at), "party_size": Is(size)},
    )


def _earliest(origin: str, dest: str, iso: str) -> dict[str, Any]:
    return min(REF.search_flights(origin, dest, iso)["flights"], key=lambda f: f["departs"])


def _flight(number_: str) -> Want:
    return Want("flight", {"flight_number": Is(number_)})


def _find_files(query: str) -> Call:
    return Call("search_files", {"query": query})


def _share(file_name: str, person: seed.Contact) -> tuple[Call, Want]:
    return (Call("share_file", {"file_name": file_name, "email": person.first}),
            Want("share", {"file": Is(file_name), "email": Is(person.email)}))  # fmt: skip


def _lookups() -> list[EpisodeSpec]:
    w = REF.weather("Seattle", SAT)
    return [
        hw(1, "lookup", [turn("Is it going to rain in Seattle this weekend, on Saturday?", [weather_call("Seattle", SAT)], [condition(w["condition"])])]),
        hw(2, "lookup", [turn("I have a meeting at the office later. How long will it take me to walk there from home?",
                              [Call("get_directions", {"origin": "home", "destination": "work"})], [duration_fact("home", "work", "walking")])]),
        hw(3, "lookup", [turn("What's Grace's phone number? I need to call the dentist's office.", [contact_call(C["Grace"])], [phone_fact(C["Grace"])])]),
        hw(4, "lookup", [turn("Did Sam send me anything about the slides for Friday? What time is the demo?",
                              [Call("search_emails", {"query": "slides"})], [time("demo time", "11:00")])]),
        hw(5, "lookup", [turn("What time is my flight to Chicago next Tuesday?", [Call("get_calendar", {"date": NEXT_TUE})], [time("departure", "08:05")])]),
        hw(6, "lookup", [turn("When's book club this week? I think Elena emailed about it.",
                              [Call("search_emails", {"query": "book club"})], [said("day", "sunday", "june 7", "7 june"), time("time", "16:00")])]),
        hw(7, "lookup", [turn("How much would it cost to fly from New York to Miami next Friday, cheapest option?",
                              [flight_call("New York", "Miami", NEXT_FRI)], [price_fact(cheapest_flight("New York", "Miami", NEXT_FRI))])]),
        hw(8, "lookup", [turn("Where should I park at the office now? Ben sent an email about it.",
                              [Call("search_emails", {"query": "parking"})], [said("garage", "atlantic")])]),
        hw(9, "lookup", [turn("What's the address of Oishii Sushi here in Boston?",
                              [Call("find_restaurants", {"city": "Boston", "cuisine": "sushi"})], [street(_restaurant("Oishii Sushi").address)])]),
        hw(10, "lookup", [turn("Do I have anything going on Saturday evening?", [Call("get_calendar", {"date": SAT})], [said("event", "birthday")])]),
        hw(11, "lookup", [turn("How far is Fenway Park from my office if I bike?",
                               [Call("get_directions", {"origin": "work", "destination": "Fenway Park"})],
                               [number("distance in km", REF.directions("work", "Fenway Park")["distance_km"])])]),
        hw(12, "lookup", [turn("What's Elena's email? I want to ask her about book club.", [contact_call(C["Elena"])], [email_fact(C["Elena"])])]),
    ]  # fmt: skip


def _parallel() -> list[EpisodeSpec]:
    out_b, back = (
        cheapest_flight("Boston", "Chicago", TUE),
        cheapest_flight("Chicago", "Boston", THU),
    )
    return [
        hw(13, "parallel", [turn("I'm deciding between Denver and Austin for the weekend trip. What's the weather on Saturday in both?",
                                 [weather_call("Denver", SAT), weather_call("Austin", SAT)], [*weather_facts("Denver", SAT), *weather_facts("Austin", SAT)])]),
        hw(14, "parallel", [turn("Pull up Tom's and Sam's email addresses, please.", [contact_call(C["Tom"]), contact_call(C["Sam"])],
                                 [email_fact(C["Tom"]), email_fact(C["Sam"])])]),
        hw(15, "parallel", [turn("What's the cheapest flight from Boston to Chicago on Tuesday, and the cheapest one back on Thursday?",
                                 [flight_call("Boston", "Chicago", TUE), flight_call("Chicago", "Boston", THU)],
                                 [flight_fact(out_b), price_fact(out_b), flight_fact(back), price_fact(back)])]),
        hw(16, "parallel", [turn("How's the weather at home today, and in New York where my brother is?",
                                 [weather_call("Boston", TODAY), weather_call("New York", TODAY)], [*weather_facts("Boston", TODAY), *weather_facts("New York", TODAY)])]),
        hw(17, "parallel", [turn("What do I have on Tuesday and on Wednesday?", [Call("get_calendar", {"date": TUE}), Call("get_calendar", {"date": WED})],
                                 [*event_facts(TUE), *event_facts(WED)])]),
    ]  # fmt: skip


def _chains() -> list[EpisodeSpec]:
    seattle, ny = cheapest_flight("Boston", "Seattle", SUN), _earliest("Boston", "New York", WED)
    sakura, sakura_want = _reserve("Sakura Tei", SAT, "20:00", 2)
    pequod, pequod_want = _reserve("Pequod Pie", FRI, "19:30", 6)
    lease, lease_want = _share("Lease agreement.pdf", C["Lena"])
    deck_sam, deck_sam_want = _share("Client deck.pptx", C["Sam"])
    deck_ben, deck_ben_want = _share("Client deck.pptx", C["Ben"])
    miami = REF.weather("Miami", TOMORROW)
    return [
        hw(18, "write", [turn("Email Priya that I'll have the revised numbers ready for Thursday.",
                              [Call("send_email", {"to": "Priya", "subject": "Revised numbers", "body": "I'll have the revised numbers ready for Thursday."})])],
           (email_want(C["Priya"], ("numbers",), ("thursday",)),)),
        hw(19, "chain", [turn("Can you share the lease agreement with my sister? She's Lena.", [_find_files("lease"), lease])], (lease_want,)),
        hw(20, "chain", [turn("Book me the cheapest flight to Seattle on Sunday out of Boston.",
                              [flight_call("Boston", "Seattle", SUN), Call("book_flight", {"flight_number": seattle["flight_number"]})])], (_flight(seattle["flight_number"]),)),
        hw(21, "chain", [turn("Get me a table at the best sushi place in Seattle, Saturday at 8, for two.",
                              [Call("find_restaurants", {"city": "Seattle", "cuisine": "sushi"}), sakura])], (sakura_want,)),
        hw(22, "chain", [turn("Text Omar the address of Harbor Oyster so he can meet me there.",
                              [Call("find_restaurants", {"city": "Boston"}), Call("send_message", {"to": "Omar", "text": _restaurant("Harbor Oyster").address})])],
           (message_want(C["Omar"], ("1 atlantic",)),)),
        hw(23, "lookup", [turn("How long is the bike ride from my place to Hana's?",
                              [Call("get_directions", {"origin": "home", "destination": "Hana"})],
                              [duration_fact("home", C["Hana"].address, "cycling")])]),
        hw(24, "chain", [turn("Send Jordan the wifi password, they're house-sitting tomorrow.",
                              [Call("search_notes", {"query": "wifi"}), Call("send_message", {"to": "Jordan", "text": "bluefalcon42"})])],
           (message_want(C["Jordan"], ("bluefalcon42",)),)),
        hw(25, "chain", [turn("Find a free half hour on Wednesday morning and set up a call with Chris then.",
                              [Call("find_free_time", {"date": WED, "duration_minutes": 30, "after": "09:00", "before": "12:00"}),
                               Call("add_calendar_event", {"title": "Call with Chris", "date": WED, "time": first_free(WED, 30), "duration_minutes": 30})])],
           (event_want(WED, first_free(WED, 30), ("chris",), minutes=30),)),
        hw(26, "chain", [turn("My mom's birthday party is Saturday; remind me two hours before it starts to pick up the cake.",
                              [Call("get_calendar", {"date": SAT}), Call("create_reminder", {"text": "Pick up the cake", "date": SAT, "time": "16:00"})])],
           (reminder_want(SAT, "16:00", ("cake",)),)),
        hw(27, "write", [turn("Email Marcus to say I can't make Tuesday's tennis practice.",
                              [Call("send_email", {"to": "Marcus", "subject": "Tennis", "body": "I can't make Tuesday's tennis practice."})])],
           (email_want(C["Marcus"], ("tennis", "practice")),)),
        hw(28, "chain", [turn("Look up Nina's address and text it to Alex.",
                              [contact_call(C["Nina"]), Call("send_message", {"to": "Alex", "text": C["Nina"].address})])], (message_want(C["Alex"], ("18 elm",)),)),
        hw(29, "chain", [turn("Book the earliest flight from Boston to New York on Wednesday.",
                              [flight_call("Boston", "New York", WED), Call("book_flight", {"flight_number": ny["flight_number"]})])], (_flight(ny["flight_number"]),)),
        hw(30, "chain", [turn("What's the forecast in Miami tomorrow? Email it to David.",
                              [weather_call("Miami", TOMORROW),
                               Call("send_email", {"to": "David", "subject": "Miami forecast", "body": f"{miami['condition']}, high {miami['high_c']} C"})],
                              weather_facts("Miami", TOMORROW))],
           (email_want(C["David"], (*seed.CONDITION_WORDS[miami["condition"]], str(miami["high_c"]))),)),
        hw(31, "chain", [turn("Reserve the top-rated Italian place in Chicago for six on Friday at 7:30.",
                              [Call("find_restaurants", {"city": "Chicago", "cuisine": "italian"}), pequod])], (pequod_want,)),
        hw(32, "chain", [turn("Share the client deck with Sam and Ben.", [_find_files("deck"), deck_sam, deck_ben])],
           (deck_sam_want, deck_ben_want)),
    ]  # fmt: skip


def _reads_and_writes() -> list[EpisodeSpec]:
    return [
        hw(33, "read_write", [turn("Check whether it's stormy in Boston on Thursday, and set my alarm for 6:15 either way.",
                                   [weather_call("Boston", THU), Call("set_alarm", {"time": "06:15"})], [condition(REF.weather("Boston", THU)["condition"])])],
           (Want("alarm", {"time": Is("06:15")}),)),
        hw(34, "read_write", [turn("Turn the thermostat down to 19 and tell me how warm it'll get outside today.",
                                   [Call("set_thermostat", {"temperature_c": 19}), weather_call("Boston", TODAY)], weather_facts("Boston", TODAY, high_only=True))],
           (Want("thermostat", {"temperature_c": Is(19)}),)),
        hw(35, "write", [turn("Note down that the garage code changed to 9023, and remind me tomorrow at 9 to tell Jordan.",
                              [Call("create_note", {"title": "Garage code", "text": "The garage code changed to 9023"}),
                               Call("create_reminder", {"text": "Tell Jordan the garage code", "date": TOMORROW, "time": "09:00"})])],
           (Want("note", {"title+text": Has((("9023",),))}), reminder_want(TOMORROW, "09:00", ("jordan",)))),
        hw(36, "read_write", [turn("What's on my calendar Friday? And put lunch with Alex on Thursday at 12:30.",
                                   [Call("get_calendar", {"date": FRI}), Call("add_calendar_event", {"title": "Lunch with Alex", "date": THU, "time": "12:30"})],
                                   event_facts(FRI))], (event_want(THU, "12:30", ("alex",)),)),
        hw(37, "read_write", [turn("How long will it take to get to the airport by transit? Also, remind me at 6 am tomorrow to pack.",
                                   [Call("get_directions", {"origin": "home", "destination": "Logan Airport"}),
                                    Call("create_reminder", {"text": "Pack", "date": TOMORROW, "time": "06:00"})],
                                   [duration_fact("home", "Logan Airport", "transit")])], (reminder_want(TOMORROW, "06:00", ("pack",)),)),
        hw(38, "write", [turn("It's freezing in here, bump the thermostat up to 23.", [Call("set_thermostat", {"temperature_c": 23})])],
           (Want("thermostat", {"temperature_c": Is(23)}),)),
        hw(39, "write", [turn("Text Maria: running late, save me a seat.", [Call("send_message", {"to": "Maria", "text": "Running late, save me a seat."})])],
           (message_want(C["Maria"], ("late",), ("seat",)),)),
        hw(40, "write", [turn("Set an alarm for 5:30 tomorrow morning, I have an early flight.", [Call("set_alarm", {"time": "05:30"})])],
           (Want("alarm", {"time": Is("05:30")}),)),
        hw(41, "write", [turn("Add my car service to the calendar for Thursday at 8 in the morning.",
                              [Call("add_calendar_event", {"title": "Car service", "date": THU, "time": "08:00"})])], (event_want(THU, "08:00", ("car",)),)),
        hw(42, "write", [turn("Remind me Friday at 5 to call my brother.", [Call("create_reminder", {"text": "Call my brother", "date": FRI, "time": "17:00"})])],
           (reminder_want(FRI, "17:00", ("brother", "david")),)),
        hw(43, "write", [turn("Make a note: Priya's kids like dinosaurs and trains.", [Call("create_note", {"title": "Priya's kids", "text": "They like dinosaurs and trains"})])],
           (Want("note", {"title+text": Has((("dinosaurs",), ("trains",)))}),)),
        hw(44, "write", [turn("Send a text to 617-555-0199 saying the package is at the front desk.",
                              [Call("send_message", {"to": "617-555-0199", "text": "The package is at the front desk."})])],
           (Want("message", {"to": Is("6175550199"), "text": Has((("package",),))}),)),
        hw(45, "write", [turn("Please set the thermostat to 22 degrees and set an alarm for 7 for the gym.",
                              [Call("set_thermostat", {"temperature_c": 22}), Call("set_alarm", {"time": "07:00"})])],
           (Want("thermostat", {"temperature_c": Is(22)}), Want("alarm", {"time": Is("07:00")}))),
    ]  # fmt: skip


def _spoken() -> list[EpisodeSpec]:
    giulia, giulia_want = _reserve("Giulia", SAT, "19:30", 5)
    atlanta = cheapest_flight("Boston", "Atlanta", THU)
    return [
        hw(46, "lookup", [turn("Uh, what's the weather gonna be in, um, Chicago, no wait, Denver on Friday?", [weather_call("Denver", FRI)], weather_facts("Denver", FRI))], spoken=True),
        hw(47, "write", [turn("So, um, text Tom that I'll, uh, I'll be there at six, sorry, at seven.", [Call("send_message", {"to": "Tom", "text": "I'll be there at seven."})])],
           (message_want(C["Tom"], ("7", "19:00")),), spoken=True),
        hw(48, "write", [turn("Book a table for, uh, four, no, five people at Giulia on Saturday at, let me think, seven thirty.", [giulia])],
           (giulia_want,), (4,), spoken=True),
        hw(49, "write", [turn("Hey, um, can you set the thermostat to like 20, actually no, 19.", [Call("set_thermostat", {"temperature_c": 19})])],
           (Want("thermostat", {"temperature_c": Is(19)}),), (20,), spoken=True),
        hw(50, "chain", [turn("Okay so I need, um, the cheapest flight from Boston to, uh, Miami, sorry, Atlanta, on Thursday, and book it.",
                              [flight_call("Boston", "Atlanta", THU), Call("book_flight", {"flight_number": atlanta["flight_number"]})])],
           (_flight(atlanta["flight_number"]),), ("Miami",), spoken=True),
        hw(51, "write", [turn("Remind me to, uh, call the landlord tomorrow at, hmm, 10, no, 11 am.",
                              [Call("create_reminder", {"text": "Call the landlord", "date": TOMORROW, "time": "11:00"})])],
           (reminder_want(TOMORROW, "11:00", ("landlord",)),), ("10:00",), spoken=True),
        hw(52, "lookup", [turn("Um, what's Alex's, you know, email? No wait, I meant their phone number.", [contact_call(C["Alex"])], [phone_fact(C["Alex"])])], spoken=True),
        hw(53, "write", [turn("So, uh, email Chris, um, that the code review, uh, can wait till Thursday.",
                              [Call("send_email", {"to": "Chris", "subject": "Code review", "body": "The code review can wait till Thursday."})])],
           (email_want(C["Chris"], ("review",), ("thursday",)),), spoken=True),
        hw(54, "lookup", [turn("Er, how long to drive to, um, Fenway Park? No, make that South Station.",
                               [Call("get_directions", {"origin": "home", "destination": "South Station"})], [duration_fact("home", "South Station")])], spoken=True),
        hw(55, "write", [turn("Add, uh, a haircut on, um, Tuesday, no, Wednesday at 4 pm.", [Call("add_calendar_event", {"title": "Haircut", "date": WED, "time": "16:00"})])],
           (event_want(WED, "16:00", ("haircut",)),), (TUE,), spoken=True),
    ]  # fmt: skip


def _conversations() -> list[EpisodeSpec]:
    lena, hana, priya = C["Lena"], C["Hana"], C["Priya"]
    cd = cheapest_flight("Chicago", "Denver", NEXT_MON)
    sf = cheapest_flight("Boston", "San Francisco", THU)
    green, green_want = _reserve("Green Fork", TOMORROW, "18:30", 2)
    plan, plan_want = _share("Project plan.docx", priya)
    lone_star = REF.find_restaurants("Austin")["restaurants"][0]
    return [
        hw(56, "parallel", [turn("Which restaurant has the best rating in Austin?", [Call("find_restaurants", {"city": "Austin"})], [said("restaurant", lone_star["name"])]),
                            turn("Cool, what's the weather there on Saturday?", [weather_call("Austin", SAT)], weather_facts("Austin", SAT))]),
        hw(57, "chain", [turn("What's my sister Lena's address?", [contact_call(lena)], [street(lena.address)]),
                         turn("How long would it take to walk there from home?", [Call("get_directions", {"origin": "home", "destination": lena.address})],
                              [duration_fact("home", lena.address, "walking")])]),
        hw(58, "write", [turn("Set an alarm for 6:30.", [Call("set_alarm", {"time": "06:30"})]),
                         turn("Oh, and remind me at 7 to take my vitamins.", [Call("create_reminder", {"text": "Take my vitamins", "date": TODAY, "time": "07:00"})])],
           (Want("alarm", {"time": Is("06:30")}), reminder_want(TODAY, "07:00", ("vitamins",)))),
        hw(59, "chain", [turn("What's the cheapest flight from Chicago to Denver next Monday?", [flight_call("Chicago", "Denver", NEXT_MON)], [flight_fact(cd), price_fact(cd)]),
                         turn("Book it, and text Omar the flight number.", [Call("book_flight", {"flight_number": cd["flight_number"]}),
                                                                             Call("send_message", {"to": "Omar", "text": cd["flight_number"]})])],
           (_flight(cd["flight_number"]), message_want(C["Omar"], (cd["flight_number"],)))),
        hw(60, "chain", [turn("What did Omar say about the concert?", [Call("search_emails", {"query": "concert"})], [said("date", "june 13", "13 june", "saturday")]),
                         turn("Remind me the day before at 6 pm to print the tickets.", [Call("create_reminder", {"text": "Print the tickets", "date": NEXT_FRI, "time": "18:00"})])],
           (reminder_want(NEXT_FRI, "18:00", ("tickets",)),)),
        hw(61, "write", [turn("Text David happy birthday.", [Call("send_message", {"to": "David", "text": "Happy birthday!"})]),
                         turn("And make a note to buy him a gift.", [Call("create_note", {"title": "Gift", "text": "Buy David a gift"})])],
           (message_want(C["David"], ("birthday",)), Want("note", {"title+text": Has((("gift",),))}))),
        hw(62, "parallel", [turn("What's the weather in San Francisco on Thursday?", [weather_call("San Francisco", THU)], weather_facts("San Francisco", THU)),
                            turn("Hmm, and the cheapest flight there from Boston that day?", [flight_call("Boston", "San Francisco", THU)], [flight_fact(sf), price_fact(sf)])]),
        hw(63, "chain", [turn("Is there a vegan place in Boston?", [Call("find_restaurants", {"city": "Boston", "cuisine": "vegan"})], [said("restaurant", "Green Fork")]),
                         turn("Book it for two tomorrow at 6:30.", [green])], (green_want,)),
        hw(64, "read_write", [turn("When am I free on Thursday afternoon?", [Call("find_free_time", {"date": THU, "after": "12:00"})], [time("first free time", first_free(THU, 60, "12:00"))]),
                              turn("Schedule a 30 minute call with Ben at 3 pm then.", [Call("add_calendar_event", {"title": "Call with Ben", "date": THU, "time": "15:00", "duration_minutes": 30})])],
           (event_want(THU, "15:00", ("ben",), minutes=30),)),
        hw(65, "chain", [turn("What's Hana's number?", [contact_call(hana)], [phone_fact(hana)]),
                         turn("Actually, send her an email instead saying I'll call tonight.",
                              [Call("send_email", {"to": hana.email, "subject": "Tonight", "body": "I'll call tonight."})])], (email_want(hana, ("call",)),)),
        hw(66, "read_write", [turn("Um, what's on my calendar tomorrow?", [Call("get_calendar", {"date": TOMORROW})], event_facts(TOMORROW)),
                              turn("Okay, uh, add a gym session at 7 in the morning.", [Call("add_calendar_event", {"title": "Gym", "date": TOMORROW, "time": "07:00"})])],
           (event_want(TOMORROW, "07:00", ("gym",)),), spoken=True),
        hw(67, "parallel", [turn("How warm is it in Miami today?", [weather_call("Miami", TODAY)], weather_facts("Miami", TODAY, high_only=True)),
                            turn("And tomorrow?", [weather_call("Miami", TOMORROW)], weather_facts("Miami", TOMORROW, high_only=True))]),
        hw(68, "chain", [turn("Share the project plan with Priya.", [_find_files("project plan"), plan]),
                         turn("And email her that it's ready for review.", [Call("send_email", {"to": priya.email, "subject": "Project plan", "body": "It's ready for review."})])],
           (plan_want, email_want(priya, ("review",)))),
    ]  # fmt: skip


HANDWRITTEN: tuple[EpisodeSpec, ...] = tuple(
    _lookups() + _parallel() + _chains() + _reads_and_writes() + _spoken() + _conversations()
)


def _long() -> list[EpisodeSpec]:
    chicago = cheapest_flight("Boston", "Chicago", TUE)
    bangkok, bangkok_want = _reserve("Bangkok Garden", TUE, "20:00", 2)
    deck = [_share("Client deck.pptx", C[n]) for n in ("Sam", "Ben", "Tom")]
    cities = ("Seattle", "Denver", "Miami", "Austin")
    names = ("Maria", "Tom", "Lena")
    return [
        hw(69, "parallel", [turn("Give me the Friday forecast for Seattle, Denver, Miami and Austin.",
                                 [weather_call(c, FRI) for c in cities], [f for c in cities for f in weather_facts(c, FRI)])]),
        hw(70, "chain", [turn("Share the client deck with Sam, Ben and Tom.", [_find_files("deck"), *(c for c, _ in deck)])],
           tuple(w for _, w in deck)),
        hw(71, "write", [turn("Text Maria, Tom and Lena that dinner is at seven, and set an alarm for 6:30.",
                              [*(Call("send_message", {"to": n, "text": "Dinner is at seven."}) for n in names),
                               Call("set_alarm", {"time": "06:30"})])],
           (*(message_want(C[n], ("dinner",), ("7", "19:00")) for n in names), Want("alarm", {"time": Is("06:30")}))),
        hw(72, "chain", [turn("Book the cheapest flight from Boston to Chicago on Tuesday, get me a table for two at the best Thai "
                              "place in Chicago that evening at 8, and text Maria the flight number.",
                              [flight_call("Boston", "Chicago", TUE), Call("book_flight", {"flight_number": chicago["flight_number"]}),
                               Call("find_restaurants", {"city": "Chicago", "cuisine": "thai"}), bangkok,
                               Call("send_message", {"to": "Maria", "text": chicago["flight_number"]})])],
           (_flight(chicago["flight_number"]), bangkok_want, message_want(C["Maria"], (chicago["flight_number"],)))),
        hw(73, "read_write", [turn("What's on my calendar Wednesday and Thursday, what's the weather in Boston both days, "
                                   "and remind me Wednesday at 8 am to print the budget.",
                                   [Call("get_calendar", {"date": WED}), Call("get_calendar", {"date": THU}),
                                    weather_call("Boston", WED), weather_call("Boston", THU),
                                    Call("create_reminder", {"text": "Print the budget", "date": WED, "time": "08:00"})],
                                   [*event_facts(WED), *event_facts(THU), *weather_facts("Boston", WED), *weather_facts("Boston", THU)])],
           (reminder_want(WED, "08:00", ("budget",)),)),
    ]  # fmt: skip


HANDWRITTEN = HANDWRITTEN + tuple(_long())
