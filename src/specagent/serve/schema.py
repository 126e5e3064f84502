"""The messages of ``specagent serve``, defined once as pydantic models.

A client sends :data:`ClientMessage` objects (what the user says, a policy choice, a barge-in).
The server sends one message per session event, plus a few of its own (``ready``,
``model_delta``, ``answer``, ``policy_set``, ``error``).

The event messages are not written out here: each is derived from its dataclass in
:mod:`specagent.events` (same field names and types, ``type`` is the class name in snake case,
e.g. ``ToolCallHeld`` -> ``tool_call_held``), plus the conversation's ``turn`` number and, for
events that name a tool, the tool's ``effect`` class. An event added to the runtime therefore
reaches clients with no change here. :func:`server_message_schema` gives the whole vocabulary
as JSON Schema (served at ``/schema.json``; documented in docs/serve.md).
"""

from __future__ import annotations

import dataclasses
import re
import typing
from functools import cache
from typing import Annotated, Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field

from .. import events as _events
from ..events import Event

__all__ = [
    "AnswerMessage",
    "AudioEndIn",
    "ClientMessage",
    "ErrorCode",
    "ErrorMessage",
    "EventMessage",
    "InterruptIn",
    "ModelDeltaMessage",
    "PolicyIn",
    "PolicySetMessage",
    "ReadyMessage",
    "SpeechIn",
    "client_adapter",
    "event_message",
    "event_type_name",
    "server_adapter",
    "server_message_schema",
    "wire_model",
]


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# -- client -> server ---------------------------------------------------------------------------


class SpeechIn(_Message):
    """What the user said since the last update; ``final`` marks their last words of a turn."""

    type: Literal["speech"]
    text: str
    final: bool = False


class PolicyIn(_Message):
    """Play the next turns under ``policy`` (one of the ``policies`` listed in ``ready``)."""

    type: Literal["policy"]
    policy: str = Field(max_length=32)


class InterruptIn(_Message):
    """Barge-in: stop the agent's generation or answer now."""

    type: Literal["interrupt"]
    reason: str = Field(default="barge-in", max_length=200)


class AudioEndIn(_Message):
    """The microphone stopped (audio itself comes as binary messages: 16-bit PCM, 16 kHz)."""

    type: Literal["audio_end"]


ClientMessage = Annotated[
    SpeechIn | PolicyIn | InterruptIn | AudioEndIn, Field(discriminator="type")
]


@cache
def client_adapter() -> pydantic.TypeAdapter[SpeechIn | PolicyIn | InterruptIn | AudioEndIn]:
    return pydantic.TypeAdapter(ClientMessage)


# -- server -> client: the server's own messages --------------------------------------------------


class ReadyMessage(_Message):
    """First message of a connection. ``clock_origin_s``: the server's monotonic clock reading
    (``time.monotonic()`` on its machine) at clock time 0, so a client on the same machine can
    turn an event's ``t`` into its own clock and measure delivery delay."""

    type: Literal["ready"] = "ready"
    conversation_id: str
    policy: str
    policies: list[str]
    resumed: bool
    turns: int
    model: str
    clock_origin_s: float
    max_text_chars: int
    audio: bool


class PolicySetMessage(_Message):
    type: Literal["policy_set"] = "policy_set"
    policy: str


class ModelDeltaMessage(_Message):
    """Text the model just wrote (one streamed piece of a generation, before it is parsed)."""

    type: Literal["model_delta"] = "model_delta"
    t: float
    turn: int
    text: str


class AnswerMessage(_Message):
    """End of a turn. ``latency_s``: from the user's final words to the answer complete."""

    type: Literal["answer"] = "answer"
    t: float
    turn: int
    text: str | None
    latency_s: float | None
    first_token_latency_s: float | None
    ended: str
    policy: str


ErrorCode = Literal[
    "not_json",
    "invalid_message",
    "unknown_type",
    "text_too_long",
    "message_too_large",
    "binary_not_supported",
    "bad_audio",
    "unknown_policy",
    "policy_not_live",
    "turn_failed",
]


class ErrorMessage(_Message):
    """Bad input or a failed turn; the connection stays open unless a close follows."""

    type: Literal["error"] = "error"
    code: ErrorCode
    message: str


# -- server -> client: events, derived from specagent.events -------------------------------------


class EventMessage(_Message):
    """Base of the messages derived from session events."""


def event_type_name(cls: type[Event]) -> str:
    """``ToolCallHeld`` -> ``tool_call_held``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", cls.__name__).lower()


def _names_a_tool(cls: type[Event]) -> bool:
    names = {f.name for f in dataclasses.fields(cls)}
    return {"call_id", "name"} <= names


@cache
def wire_model(cls: type[Event]) -> type[EventMessage]:
    """The message model of one event class (built once per class)."""
    hints = typing.get_type_hints(cls)
    name = event_type_name(cls)
    fields: dict[str, Any] = {
        "type": (Literal[name], name),  # type: ignore[valid-type]
        "t": (float, ...),
        "turn": (int, ...),
    }
    for f in dataclasses.fields(cls):
        if f.name == "t":
            continue
        if f.default is not dataclasses.MISSING:
            default: Any = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = Field(default_factory=f.default_factory)
        else:
            default = ...
        fields[f.name] = (hints[f.name], default)
    if _names_a_tool(cls):
        fields["effect"] = (str | None, None)
    model = pydantic.create_model(
        f"{cls.__name__}Message", __base__=EventMessage, __doc__=cls.__doc__, **fields
    )
    return model


def event_message(event: Event, turn: int, *, effect: str | None = None) -> EventMessage:
    """The message for ``event`` (no validation: the event is already typed)."""
    cls = type(event)
    data = {f.name: getattr(event, f.name) for f in dataclasses.fields(cls)}
    if _names_a_tool(cls):
        data["effect"] = effect
    return wire_model(cls).model_construct(type=event_type_name(cls), turn=turn, **data)


def core_event_classes() -> list[type[Event]]:
    """Every event class of :mod:`specagent.events` (the runtime's vocabulary), and the voice
    activity events a client sending audio receives (when the ``voice`` extra is installed)."""
    found = [
        obj
        for obj in vars(_events).values()
        if isinstance(obj, type) and issubclass(obj, Event) and obj is not Event
    ]
    try:
        from ..voice.events import VoiceEnded, VoiceStarted
    except ImportError:  # pragma: no cover - without the voice extra
        pass
    else:
        found += [VoiceStarted, VoiceEnded]
    # a class others derive from (e.g. a shared base of the call events) is never emitted
    leaves = [c for c in found if not any(o is not c and issubclass(o, c) for o in found)]
    return sorted(leaves, key=lambda c: c.__name__)


@cache
def server_adapter() -> pydantic.TypeAdapter[Any]:
    """Validates any message the server sends (its own and every core event's)."""
    models: list[type[BaseModel]] = [
        ReadyMessage,
        PolicySetMessage,
        ModelDeltaMessage,
        AnswerMessage,
        ErrorMessage,
        *(wire_model(c) for c in core_event_classes()),
    ]
    union = typing.Union[tuple(models)]  # type: ignore[valid-type]  # noqa: UP007
    return pydantic.TypeAdapter(Annotated[union, Field(discriminator="type")])


def server_message_schema() -> dict[str, Any]:
    """JSON Schema of what the server sends and what it accepts."""
    return {
        "server": server_adapter().json_schema(),
        "client": client_adapter().json_schema(),
    }
