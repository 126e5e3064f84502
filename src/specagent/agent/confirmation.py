"""Asking the user before an irreversible call runs, and reading their reply.

Some actions should never happen on the model's word alone: a payment, a message to someone
else. A tool marked ``confirm`` (or every irreversible tool, with
``SessionConfig.confirm_irreversible``) is held like any state-changing call; when it reaches
its commit point the session does not run it but asks the user (the question is the turn's
answer, spoken in voice) and records :class:`~specagent.events.ConfirmationAsked`.

The user's next utterance decides, by a deliberately narrow rule (:func:`is_affirmative`): a
plain yes runs the call exactly as asked, under its id, and the model reads its result;
anything else (no, a change, a question, silence) leaves it unrun, and the model reads the
user's words and goes on from them. The runtime, not the model, runs the confirmed call, so
the arguments that run are the ones the user heard.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..events import ConfirmationAnswered, ConfirmationAsked, Event, SessionEnded, UserSpeech
from ..tools import Effect, Tool

__all__ = ["is_affirmative", "needs_confirmation", "unanswered_asks", "reply_in"]

_YES = (
    "yes",
    "yeah",
    "yep",
    "yup",
    "sure",
    "ok",
    "okay",
    "correct",
    "confirm",
    "confirmed",
    "absolutely",
    "affirmative",
    "right",
    "please do",
    "go ahead",
    "do it",
    "sounds good",
    "that's right",
    "that is right",
    "yes please",
)
_NOT_YES = {
    "no",
    "not",
    "don't",
    "dont",
    "nope",
    "wait",
    "stop",
    "cancel",
    "instead",
    "but",
    "change",
    "actually",
    "never",
    "hold",
}
_WORD_RE = re.compile(r"[a-z']+")


def is_affirmative(reply: str) -> bool:
    """A plain yes: it starts with an affirmative phrase and holds no word that takes it back
    or changes it ("yes, but to Denver" is not a yes)."""
    words = _WORD_RE.findall(reply.lower())
    if not words or any(w in _NOT_YES for w in words):
        return False
    text = " ".join(words)
    return any(text == phrase or text.startswith(phrase + " ") for phrase in _YES)


def needs_confirmation(tool: Tool | None, confirm_irreversible: bool) -> bool:
    if tool is None:
        return False
    return bool(tool.confirm) or (confirm_irreversible and tool.effect is Effect.IRREVERSIBLE)


def unanswered_asks(events: Sequence[Event]) -> list[ConfirmationAsked]:
    """The questions the previous turn asked that no reply has answered yet."""
    ended = [i for i, e in enumerate(events) if isinstance(e, SessionEnded)]
    if not ended:
        return []
    start = ended[-2] + 1 if len(ended) > 1 else 0
    asked = [e for e in events[start : ended[-1]] if isinstance(e, ConfirmationAsked)]
    answered = {e.call_id for e in events if isinstance(e, ConfirmationAnswered)}
    return [a for a in asked if a.call_id not in answered]


def reply_in(turn: Sequence[Event]) -> str:
    """What the user has said in this turn so far."""
    return " ".join(e.text for e in turn if isinstance(e, UserSpeech))
