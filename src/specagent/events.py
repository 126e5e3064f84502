"""The small, typed vocabulary of things that happen in a session.

Every event is an immutable dataclass stamped with the clock time ``t`` at which it happened.
The ledger stores them, the protocol renders the ones a model must see, and observers (the CLI
timeline, benchmarks) read them. Events are serialisable to plain JSON records so a session can
be stored in SQLite and resumed.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, get_args

__all__ = [
    "Event",
    "CallEvent",
    "UserSpeech",
    "Brief",
    "EarlyCallsReview",
    "ModelOutput",
    "ToolCallIssued",
    "ToolCallRevised",
    "ToolCallRemoved",
    "ToolCallHeld",
    "ToolCallStarted",
    "ToolCallFinished",
    "ToolCallFailed",
    "ToolCallCancelled",
    "ToolCallCommitted",
    "ToolCallCompensated",
    "ConfirmationAsked",
    "ConfirmationAnswered",
    "AnswerStarted",
    "AnswerDelta",
    "AnswerCompleted",
    "AnswerSuppressed",
    "Interrupt",
    "Timer",
    "ProtocolError",
    "SessionEnded",
    "END_REASONS",
    "EndReason",
    "TOOL_ERROR_TYPES",
    "ToolErrorType",
    "event_to_record",
    "event_from_record",
    "final_speech_t",
]

ToolErrorType = Literal[
    "unknown_tool",  # the call names no tool in the toolset
    "invalid_arguments",  # its arguments fail the tool's schema, or a $N reference cannot resolve
    "tool_error",  # the tool itself raised (its own bug or refusal)
    "timeout",  # the tool took longer than its timeout
    "dependency_failed",  # a call it depends on is unknown or ended without a result
    "interrupted",  # the process stopped while it was in flight (said on resume)
    "replay_failed",  # committed from a stale sandbox copy, its replay on the real state failed
    "compensation_failed",  # undoing it failed: the world may still hold its effect
    "needs_confirmation",  # not run: the user was asked first (rendered from ConfirmationAsked)
]
"""Why a tool call ended in error: the ``error`` the model reads in ``<tool_result>``."""

TOOL_ERROR_TYPES: frozenset[str] = frozenset(get_args(ToolErrorType))

EndReason = Literal[
    "answered",  # the model gave its answer (or asked the user to confirm a call)
    "stalled",  # the model kept waiting when no speech, call or input could still come
    "too_many_protocol_errors",  # the model wrote unreadable output too many times in a row
    "generation_limit",  # the turn used up its generations
    "context_full",  # the context no longer fits the model's window
    "running",  # not ended yet (the value while a turn is in progress)
]
"""How a session's turn ended (:attr:`SessionResult.ended`)."""

END_REASONS: frozenset[str] = frozenset(get_args(EndReason))

_REGISTRY: dict[str, type[Event]] = {}


@dataclass(frozen=True, kw_only=True)
class Event:
    """Base of all events. ``t`` is clock time in seconds."""

    t: float
    kind: ClassVar[str] = "event"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _REGISTRY[cls.__name__] = cls


# -- the user ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class UserSpeech(Event):
    """A chunk of the user's request. ``final`` marks the user's last words of the turn."""

    text: str
    final: bool = False


@dataclass(frozen=True, kw_only=True)
class EarlyCallsReview(Event):
    """At the user's final words, the whole request beside the calls the model made while the
    user was still speaking, so it can revise or remove the ones that no longer fit
    (``SessionConfig.review_early_calls``). ``calls``: each as ``#N name {arguments}``."""

    request: str
    calls: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class Brief(Event):
    """The starting instruction of a spawned sub-agent (it sees nothing else of the parent)."""

    text: str


# -- the model --------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ModelOutput(Event):
    """What the model wrote in one generation, as it stands in its context.

    ``interrupted`` generations end with ``</think_interrupted>``; ``tokens`` counts decoded
    tokens (for waste accounting); ``started_t`` is when generation began.
    """

    text: str
    interrupted: bool = False
    tokens: int = 0
    started_t: float = 0.0


@dataclass(frozen=True, kw_only=True)
class AnswerStarted(Event):
    """The first token of the answer was produced."""


@dataclass(frozen=True, kw_only=True)
class AnswerDelta(Event):
    """Answer text written since the previous delta, as it streams (speech can start on the
    first sentence). The deltas of one answer concatenate to what was written of it so far;
    a model never sees them (its context holds its whole output)."""

    text: str


@dataclass(frozen=True, kw_only=True)
class AnswerCompleted(Event):
    text: str


@dataclass(frozen=True, kw_only=True)
class AnswerSuppressed(Event):
    """The model began an answer it may not give yet (the user is still speaking, or its own
    calls are still running). It is stopped and treated as a pause; the model never sees it."""

    reason: str


@dataclass(frozen=True, kw_only=True)
class ProtocolError(Event):
    """Model output that could not be read, or an action that is not allowed now."""

    message: str
    raw: str = ""


# -- tool calls -------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class CallEvent(Event):
    """Something that happened to one version of one tool call."""

    call_id: int
    version: int = 0
    """Which version of the call: 1 for the first, one more for each revision of its id (0
    where unknown, e.g. in a store written before versions were recorded). Outcomes of an
    earlier version can arrive after a revision; the version says whose they are."""


@dataclass(frozen=True, kw_only=True)
class ToolCallIssued(CallEvent):
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    depends: tuple[int, ...] = ()


@dataclass(frozen=True, kw_only=True)
class ToolCallRevised(CallEvent):
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    depends: tuple[int, ...] = ()


@dataclass(frozen=True, kw_only=True)
class ToolCallRemoved(CallEvent):
    """The model withdrew a call (and, in cascade, those depending on it)."""


@dataclass(frozen=True, kw_only=True)
class ToolCallHeld(CallEvent):
    """A state-changing call waits for its commit point."""

    reason: str


@dataclass(frozen=True, kw_only=True)
class ToolCallStarted(CallEvent):
    """A call's tool began to run. ``sandboxed``: on a private copy of its state (nothing real
    changes until it is committed). ``early``: it started before it was committed, so its
    effect may still be dropped or undone (a resumed session needs both to restore it)."""

    sandboxed: bool = False
    early: bool = False


@dataclass(frozen=True, kw_only=True)
class ToolCallFinished(CallEvent):
    """A call returned. ``notify_model`` is False for an earlier version of a revised call."""

    result: Any = None
    notify_model: bool = True


@dataclass(frozen=True, kw_only=True)
class ToolCallFailed(CallEvent):
    """A call ended in error; ``error_type`` says why (see :data:`ToolErrorType`)."""

    error: str
    error_type: ToolErrorType
    notify_model: bool = True


@dataclass(frozen=True, kw_only=True)
class ToolCallCancelled(CallEvent):
    """A call was stopped. ``notify_model`` is False when the model itself caused it in a way
    it already knows about (a revision replaces the call under the same id)."""

    reason: str
    notify_model: bool = True


@dataclass(frozen=True, kw_only=True)
class ToolCallCommitted(CallEvent):
    """A call's effect is final: part of the session's committed outcome."""


@dataclass(frozen=True, kw_only=True)
class ToolCallCompensated(CallEvent):
    """A reversible call that ran was undone by its compensating action."""

    notify_model: bool = True


@dataclass(frozen=True, kw_only=True)
class ConfirmationAsked(CallEvent):
    """A call that needs the user's consent reached its commit point: it was not run, and the
    agent asked ``question`` instead (the turn's answer)."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    question: str = ""


@dataclass(frozen=True, kw_only=True)
class ConfirmationAnswered(CallEvent):
    """The user's next words answered a :class:`ConfirmationAsked`: ``granted`` runs the call
    (under its id, as asked), anything else leaves it unrun."""

    granted: bool


# -- control ----------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Interrupt(Event):
    """Stops the agent's generation or speech now (barge-in, shutdown)."""

    reason: str


@dataclass(frozen=True, kw_only=True)
class Timer(Event):
    name: str


@dataclass(frozen=True, kw_only=True)
class SessionEnded(Event):
    """A turn is over. ``reason`` is an :data:`EndReason` when the turn ran to its end;
    a turn cut off carries the reason of whoever cut it (``Session.cut(reason)`` or the
    session's ``cut_reason``: ``disconnected``, ``unclear``; ``turn_failed`` when the model
    failed mid-turn; ``server_restarted`` for a stored turn closed after a restart; a voice
    agent's notes and sub-agent hand-overs)."""

    reason: EndReason | str


# -- serialisation ----------------------------------------------------------------------------


def event_to_record(event: Event) -> tuple[str, str]:
    """Return ``(type name, JSON payload)`` for storage."""
    payload = dataclasses.asdict(event)
    return type(event).__name__, json.dumps(payload, sort_keys=True, default=str)


def event_from_record(type_name: str, payload: str) -> Event:
    try:
        cls = _REGISTRY[type_name]
    except KeyError as exc:
        raise ValueError(f"unknown event type in store: {type_name!r}") from exc
    data = json.loads(payload)
    for name in ("depends", "calls"):  # tuples, stored as JSON lists
        if name in data:
            data[name] = tuple(data[name])
    return cls(**data)


def final_speech_t(events: Iterable[Event]) -> float | None:
    """When the user's last words arrived: the time of the last final :class:`UserSpeech`, or
    None if the user has not finished (latency is measured from here)."""
    finals = [e.t for e in events if isinstance(e, UserSpeech) and e.final]
    return finals[-1] if finals else None
