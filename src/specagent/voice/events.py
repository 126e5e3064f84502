"""Events of the voice layer, recorded in the voice ledger beside the session's own.

They are ordinary :class:`specagent.events.Event` subclasses (registered for storage by
subclassing), stamped with clock time. A model never sees them directly; what it must know
(an answer cut off by the user, a sub-agent's report) is told to it as a ``Brief`` in the
conversation ledger (see :mod:`specagent.voice.agent`).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..events import Event

__all__ = [
    "AgentSpoke",
    "BargeIn",
    "SpeechOut",
    "SubAgentCancelled",
    "SubAgentReported",
    "SubAgentStarted",
    "VoiceEnded",
    "VoiceStarted",
]


@dataclass(frozen=True, kw_only=True)
class VoiceStarted(Event):
    """The VAD heard the user start an utterance; ``speech_t`` is where speech began."""

    utterance: int
    speech_t: float


@dataclass(frozen=True, kw_only=True)
class VoiceEnded(Event):
    """The VAD ended the user's turn after enough silence; ``speech_t`` is the last speech."""

    utterance: int
    speech_t: float


@dataclass(frozen=True, kw_only=True)
class BargeIn(Event):
    """The user spoke over the agent: playback and generation are being stopped."""

    answer_id: int


@dataclass(frozen=True, kw_only=True)
class SpeechOut(Event):
    """A piece of an answer started playing (the first of an answer is its first audio)."""

    answer_id: int
    text: str


@dataclass(frozen=True, kw_only=True)
class AgentSpoke(Event):
    """What of an answer the user actually heard. ``interrupted``: cut off by barge-in, and
    ``audio_end_t`` is when the last audio chunk handed to the speaker ends."""

    answer_id: int
    text: str
    interrupted: bool
    audio_end_t: float


@dataclass(frozen=True, kw_only=True)
class SubAgentStarted(Event):
    task_id: int
    mode: str  # fork | spawn
    task: str


@dataclass(frozen=True, kw_only=True)
class SubAgentReported(Event):
    """A sub-agent finished; ``text`` is its answer (or why it had none)."""

    task_id: int
    text: str
    ended: str


@dataclass(frozen=True, kw_only=True)
class SubAgentCancelled(Event):
    """A sub-agent still running when the conversation ended was stopped."""

    task_id: int
