"""Effect classes of every BFCL tool: the reviewed table that decides what may run early.

The speculative policy runs a read-only call the moment the model asks, runs a sandboxable
state-changing call at once on a private copy of its state, and holds any other state-changing
call until its commit point. Getting a class wrong is a safety bug (a held call run early) or a
lost speed-up (a read held), so the classes are written out here, one reviewed line per tool.

**Multi-turn backends** (:data:`MULTI_TURN_EFFECTS`). Every public method of the eight BFCL
multi-turn classes, read from the backend source (``bfcl_eval/eval_checker/multi_turn_eval/
func_source_code``) and confirmed by running every ground-truth call (a test re-checks that each
read-only method leaves the whole instance, private attributes included, unchanged). The
backends are plain in-memory Python objects, so every state-changing method is sandboxable:
a copy-on-write run touches only the copy (see :mod:`specagent.sandbox`). Methods that only
*read* but draw from the backend's seeded random generator count as state-changing: run early
on the real object, a withdrawn call would shift every later random value (and BFCL compares
results), so they run on a copy too.

**Single-turn functions** (simple, multiple, parallel, live) have no implementation and stand
for real services, so a state-changing one is *not* sandboxable: it is held until its commit
point. Their class comes from :func:`single_turn_effect`: the function name's leading verb
(last dotted segment first, then the earlier segments) is looked up in :data:`WRITE_VERBS` and
:data:`READ_VERBS`; no known verb means read-only (most are calculators and look-ups).
:data:`SINGLE_TURN_OVERRIDES` lists every name (among the 1,217 in the five categories) where
that rule was reviewed and found wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ...tools import Effect

__all__ = [
    "MULTI_TURN_EFFECTS",
    "READ_VERBS",
    "SINGLE_TURN_OVERRIDES",
    "WRITE_VERBS",
    "MethodEffect",
    "multi_turn_effect",
    "single_turn_effect",
]


@dataclass(frozen=True)
class MethodEffect:
    """The effect class of one tool and whether it may run early on a sandbox copy."""

    effect: Effect
    sandboxable: bool
    note: str = ""


_READ = MethodEffect(Effect.READ_ONLY, False)
_WRITE = MethodEffect(Effect.IRREVERSIBLE, True)


def _rng(note: str) -> MethodEffect:
    return MethodEffect(Effect.IRREVERSIBLE, True, note)


MULTI_TURN_EFFECTS: dict[str, dict[str, MethodEffect]] = {
    "GorillaFileSystem": {
        "pwd": _READ,
        "ls": _READ,
        "cat": _READ,
        "find": _READ,
        "wc": _READ,
        "sort": _READ,  # returns the sorted text; the file is not rewritten
        "grep": _READ,
        "du": _READ,
        "tail": _READ,
        "diff": _READ,
        "cd": MethodEffect(
            Effect.IRREVERSIBLE, True, "moves the private working directory later calls use"
        ),
        "mkdir": _WRITE,
        "touch": _WRITE,
        "echo": MethodEffect(
            Effect.IRREVERSIBLE, True, "writes the file when file_name is given, else only prints"
        ),
        "mv": _WRITE,
        "rm": _WRITE,
        "rmdir": _WRITE,
        "cp": _WRITE,
    },
    "MathAPI": {  # stateless: every method is a pure calculation
        name: _READ
        for name in (
            "absolute_value",
            "add",
            "divide",
            "imperial_si_conversion",
            "logarithm",
            "max_value",
            "mean",
            "min_value",
            "multiply",
            "percentage",
            "power",
            "round_number",
            "si_unit_conversion",
            "square_root",
            "standard_deviation",
            "subtract",
            "sum_values",
        )
    },
    "MessageAPI": {
        "list_users": _READ,
        "get_user_id": _READ,
        "message_get_login_status": _READ,
        "view_messages_sent": _READ,
        "search_messages": _READ,
        "get_message_stats": _READ,
        "message_login": MethodEffect(Effect.IRREVERSIBLE, True, "sets the current user"),
        "send_message": MethodEffect(
            Effect.IRREVERSIBLE, True, "appends to the inbox; draws a message id from the RNG"
        ),
        "delete_message": _WRITE,
        "add_contact": _WRITE,
    },
    "TwitterAPI": {
        "get_tweet": _READ,
        "get_tweet_comments": _READ,
        "get_user_stats": _READ,
        "get_user_tweets": _READ,
        "list_all_following": _READ,
        "posting_get_login_status": _READ,
        "search_tweets": _READ,
        "authenticate_twitter": MethodEffect(Effect.IRREVERSIBLE, True, "sets authenticated"),
        "post_tweet": _WRITE,
        "retweet": _WRITE,
        "comment": _WRITE,
        "mention": _WRITE,
        "follow_user": _WRITE,
        "unfollow_user": _WRITE,
    },
    "TicketAPI": {
        "get_ticket": _READ,
        "get_user_tickets": _READ,
        "ticket_get_login_status": _READ,
        "ticket_login": MethodEffect(Effect.IRREVERSIBLE, True, "sets the current user"),
        "logout": MethodEffect(Effect.IRREVERSIBLE, True, "clears the current user"),
        "create_ticket": _WRITE,
        "close_ticket": _WRITE,
        "resolve_ticket": _WRITE,
        "edit_ticket": _WRITE,
    },
    "TradingBot": {
        "get_current_time": _READ,
        "get_symbol_by_name": _READ,
        "get_stock_info": _READ,
        "get_order_details": _READ,
        "get_order_history": _READ,
        "get_account_info": _READ,
        "get_transaction_history": _READ,
        "get_watchlist": _READ,
        "get_available_stocks": _READ,
        "filter_stocks_by_price": _READ,
        "notify_price_change": _READ,
        "trading_get_login_status": _READ,
        "trading_login": MethodEffect(Effect.IRREVERSIBLE, True, "sets authenticated"),
        "trading_logout": MethodEffect(Effect.IRREVERSIBLE, True, "clears authenticated"),
        "place_order": _WRITE,
        "cancel_order": _WRITE,
        "fund_account": _WRITE,
        "withdraw_funds": _WRITE,
        "add_to_watchlist": _WRITE,
        "remove_stock_from_watchlist": _WRITE,
    },
    "TravelAPI": {
        "travel_get_login_status": _READ,
        "get_budget_fiscal_year": _READ,
        "get_flight_cost": MethodEffect(
            Effect.READ_ONLY,
            False,
            "refreshes a private price cache that book_flight rebuilds itself before use",
        ),
        "get_credit_card_balance": _READ,
        "retrieve_invoice": _READ,
        "get_booking_history": _READ,
        "list_all_airports": _READ,
        "compute_exchange_rate": _READ,
        "verify_traveler_information": _READ,
        "get_nearest_airport_by_city": _READ,
        "contact_customer_support": _READ,  # returns a canned acknowledgement; stores nothing
        "get_all_credit_cards": _READ,
        "authenticate_travel": MethodEffect(
            Effect.IRREVERSIBLE, True, "issues an access token drawn from the RNG"
        ),
        "register_credit_card": _WRITE,
        "book_flight": _WRITE,
        "cancel_booking": _WRITE,
        "set_budget_limit": _WRITE,
        "purchase_insurance": _WRITE,
    },
    "VehicleControlAPI": {
        "check_tire_pressure": _READ,
        "displayCarStatus": _READ,
        "display_log": _READ,
        "estimate_distance": _READ,
        "estimate_drive_feasibility_by_mileage": _READ,
        "find_nearest_tire_shop": _READ,
        "gallon_to_liter": _READ,
        "liter_to_gallon": _READ,
        "get_outside_temperature_from_weather_com": _READ,
        "get_zipcode_based_on_city": _READ,
        "get_current_speed": _rng("a reading drawn from the backend's seeded RNG"),
        "get_outside_temperature_from_google": _rng("a reading drawn from the seeded RNG"),
        "startEngine": _WRITE,
        "fillFuelTank": _WRITE,
        "lockDoors": _WRITE,
        "adjustClimateControl": _WRITE,
        "setHeadlights": _WRITE,
        "activateParkingBrake": _WRITE,
        "pressBrakePedal": _WRITE,
        "releaseBrakePedal": _WRITE,
        "setCruiseControl": _WRITE,
        "set_navigation": _WRITE,
    },
}


def multi_turn_effect(class_name: str, method: str) -> MethodEffect:
    """The reviewed effect of a multi-turn backend method (KeyError if it was never reviewed)."""
    try:
        return MULTI_TURN_EFFECTS[class_name][method]
    except KeyError:
        raise KeyError(
            f"BFCL method {class_name}.{method} has no reviewed effect class; "
            "add it to MULTI_TURN_EFFECTS"
        ) from None


WRITE_VERBS: frozenset[str] = frozenset(
    [
        "activate",
        "add",
        "adjust",
        "apply",
        "approve",
        "archive",
        "assign",
        "attack",
        "backup",
        "bet",
        "book",
        "buy",
        "call",
        "cancel",
        "cha",
        "change",
        "charge",
        "checkout",
        "clear",
        "close",
        "collect",
        "commit",
        "compose",
        "confirm",
        "connect",
        "cook",
        "create",
        "deactivate",
        "decline",
        "delete",
        "deploy",
        "deposit",
        "disable",
        "donate",
        "draw",
        "edit",
        "email",
        "enable",
        "encrypt",
        "enroll",
        "execute",
        "export",
        "finish",
        "follow",
        "handover",
        "hire",
        "initialize",
        "insert",
        "install",
        "invest",
        "invite",
        "join",
        "kill",
        "launch",
        "leave",
        "lock",
        "login",
        "logout",
        "make",
        "mark",
        "merge",
        "message",
        "modify",
        "move",
        "mute",
        "notify",
        "open",
        "order",
        "pause",
        "pay",
        "place",
        "plant",
        "play",
        "post",
        "publish",
        "purchase",
        "push",
        "put",
        "register",
        "remind",
        "remove",
        "rename",
        "rent",
        "reschedule",
        "reserve",
        "reset",
        "restart",
        "restore",
        "resume",
        "run",
        "save",
        "schedule",
        "sell",
        "send",
        "set",
        "share",
        "shuffle",
        "sign",
        "start",
        "stop",
        "submit",
        "subscribe",
        "toggle",
        "trade",
        "transfer",
        "turn",
        "unlock",
        "unmute",
        "update",
        "upload",
        "vote",
        "withdraw",
        "write",
    ]
)
"""Leading verbs of a state-changing single-turn function."""

READ_VERBS: frozenset[str] = frozenset(
    [
        "analyse",
        "analyze",
        "answer",
        "ask",
        "assess",
        "average",
        "browse",
        "buscar",
        "calc",
        "calculate",
        "check",
        "compare",
        "comprobar",
        "compute",
        "convert",
        "count",
        "dartfx",
        "derive",
        "describe",
        "design",
        "detect",
        "determine",
        "display",
        "estimate",
        "evaluate",
        "explore",
        "extract",
        "fetch",
        "filter",
        "find",
        "flip",
        "forecast",
        "generate",
        "get",
        "help",
        "identify",
        "integrate",
        "interpret",
        "inspect",
        "intersect",
        "is",
        "judge",
        "list",
        "locate",
        "lookup",
        "measure",
        "mix",
        "multiply",
        "nomore403",
        "osint",
        "plot",
        "predict",
        "process",
        "query",
        "random",
        "read",
        "recall",
        "recommend",
        "render",
        "resize",
        "retrieve",
        "review",
        "roll",
        "rotate",
        "scan",
        "search",
        "segment",
        "show",
        "simulate",
        "solve",
        "sort",
        "sum",
        "summarize",
        "test",
        "trace",
        "translate",
        "tts",
        "validate",
        "verify",
        "view",
    ]
)
"""Leading verbs of a read-only single-turn function."""

SINGLE_TURN_OVERRIDES: dict[str, Effect] = {
    # The verb rule says state-changing; the function only computes or looks up.
    "add": Effect.READ_ONLY,  # integer addition
    "Crypto_tool.encrypt_decrypt": Effect.READ_ONLY,
    "cards.shuffle_and_draw": Effect.READ_ONLY,
    "collect_customer_names": Effect.READ_ONLY,
    "compose_melody": Effect.READ_ONLY,
    "create_histogram": Effect.READ_ONLY,
    "default.add_default_value": Effect.READ_ONLY,  # returns an updated dictionary
    "draw_rectangle": Effect.READ_ONLY,
    "finish": Effect.READ_ONLY,  # a translation model
    "game_of_life.play": Effect.READ_ONLY,
    "initialize_question_answering_pipeline": Effect.READ_ONLY,  # local, no outside effect
    "message_chatgpt": Effect.READ_ONLY,  # a question to a model
    "music_composer.create_mix": Effect.READ_ONLY,
    "music_generation.create_chord_progression": Effect.READ_ONLY,
    "open_times_query": Effect.READ_ONLY,
    "order_status_check": Effect.READ_ONLY,
    "removeBackgroundAction": Effect.READ_ONLY,  # returns an edited image
    "run_linear_regression": Effect.READ_ONLY,
    "run_two_sample_ttest": Effect.READ_ONLY,
    "shuffle_card_probability": Effect.READ_ONLY,
    "sports.match_schedule": Effect.READ_ONLY,
    "walmart.purchase": Effect.READ_ONLY,  # its description: retrieves item information
    # The verb rule says read-only (or finds no verb); the function changes the world.
    "Payment_1_RequestPayment": Effect.IRREVERSIBLE,
    "TransactionsV2": Effect.IRREVERSIBLE,
    "answer_question": Effect.IRREVERSIBLE,  # hands the chat over to a human agent
    "banking_service": Effect.IRREVERSIBLE,  # makes a deposit
    "car.rental": Effect.IRREVERSIBLE,
    "car_rental": Effect.IRREVERSIBLE,
    "core_memory_append": Effect.IRREVERSIBLE,
    "core_memory_replace": Effect.IRREVERSIBLE,
    "generate_image_tool": Effect.IRREVERSIBLE,  # saves a file
    "generate_sound_wave": Effect.IRREVERSIBLE,  # saves a file
    "hotel_booking": Effect.IRREVERSIBLE,
    "http_request": Effect.IRREVERSIBLE,  # any method, POST included
    "inventory_management": Effect.IRREVERSIBLE,  # includes stock updates
    "oven_preheat": Effect.IRREVERSIBLE,
    "process_transaction": Effect.IRREVERSIBLE,
    "reminders_complete": Effect.IRREVERSIBLE,
    "todo.list_action": Effect.IRREVERSIBLE,  # adds and deletes items
    "todoIdx": Effect.IRREVERSIBLE,
    "tts_tool": Effect.IRREVERSIBLE,  # saves a file
    "user_authenticate": Effect.IRREVERSIBLE,  # opens a session, like the *login functions
    "user_authentication": Effect.IRREVERSIBLE,
}
"""Single-turn functions where the verb rule was reviewed and found wrong."""

_CAMEL = re.compile(r"([a-z0-9])([A-Z])")
_SPLIT = re.compile(r"[_\W\d]+")


def _segments(name: str) -> list[list[str]]:
    out = []
    for segment in name.split("."):
        words = _CAMEL.sub(r"\1_\2", segment).lower()
        out.append([w for w in _SPLIT.split(words) if w])
    return out


def verb_rule(name: str) -> Effect:
    """The verb rule alone (without overrides): see the module docstring."""
    segments = _segments(name)
    ordered = [w for segment in reversed(segments) for w in segment]
    for word in ordered:
        if word in WRITE_VERBS:
            return Effect.IRREVERSIBLE
        if word in READ_VERBS:
            return Effect.READ_ONLY
    return Effect.READ_ONLY


def single_turn_effect(name: str) -> Effect:
    """The effect class of a single-turn BFCL function (override first, then the verb rule)."""
    override = SINGLE_TURN_OVERRIDES.get(name)
    return override if override is not None else verb_rule(name)
