"""Effect classes of BFCL's single-turn functions: a verb rule and its reviewed exceptions.

The single-turn categories offer functions with no implementation (see ``single_turn.py``);
whether one of them may run early depends on what its name says it does.

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

from ....tools import Effect

__all__ = ["READ_VERBS", "SINGLE_TURN_OVERRIDES", "WRITE_VERBS", "single_turn_effect", "verb_rule"]


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
