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
    "PreemptiveConfirmed",
    "PreemptiveDiscarded",
    "PreemptiveStarted",
    "SpeechOut",
    "SubAgentCancelled",
    "SubAgentReported",
    "SubAgentStarted",
    "TurnEndGuess",
    "VoiceEnded",
    "VoiceResumed",
    "VoiceStarted",
    "VoiceUnclear",
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
class VoiceResumed(Event):
    """The user spoke again after a pause (``tentative_silence_s``) of the same utterance:
    whatever was started on the guess that the turn had ended is now stale."""

    utterance: int
    pause: int
    """The pause that just ended (the listener numbers the pauses of an utterance)."""


@dataclass(frozen=True, kw_only=True)
class TurnEndGuess(Event):
    """The user has paused; the words so far (``text``, the whole utterance) were
    transcribed and judged (:func:`~specagent.voice.turn_end.judge_turn_end`)."""

    utterance: int
    pause: int
    text: str
    complete: bool
    reason: str
    end_silence_s: float | None
    """The silence after which this pause now ends the turn (None: unchanged)."""
    unclear: bool = False
    """Whisper was too unsure of these words to act on (no preemptive reply starts)."""


@dataclass(frozen=True, kw_only=True)
class VoiceUnclear(Event):
    """The utterance's words were heard too unsure to act on: Whisper's mean token
    log-probability ``avg_logprob`` is below ``threshold``. They are not given to the
    session as the user's request; the agent asks the user to say them again."""

    utterance: int
    text: str
    """What Whisper wrote (for the record; nothing acts on it)."""
    avg_logprob: float
    no_speech_prob: float | None
    threshold: float


@dataclass(frozen=True, kw_only=True)
class PreemptiveStarted(Event):
    """A reply started, held unplayed, on the guess that the utterance had ended."""

    utterance: int
    pause: int
    text: str


@dataclass(frozen=True, kw_only=True)
class PreemptiveConfirmed(Event):
    """The end of turn was confirmed: the preemptive reply is the turn; its audio may play
    and its state-changing calls may run."""

    utterance: int
    waited_s: float
    """How long after it started the confirmation came."""


@dataclass(frozen=True, kw_only=True)
class PreemptiveDiscarded(Event):
    """The preemptive reply was thrown away unheard, with everything it started."""

    utterance: int
    reason: str


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
