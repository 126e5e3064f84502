"""What a voice conversation leaves behind: its ledgers, its audio, and each reply's timing.

:class:`VoiceResult` is returned by :meth:`~specagent.voice.agent.VoiceAgent.run`; its
:meth:`~VoiceResult.timings` measure every reply from the ground truth of the audio stream (when
the user's speech really ended) to the first audio of the agent's answer, the latency the voice
layer reports. Kept apart from the agent so benchmarks and the CLI read results without the
conversation loop.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..agent import SessionResult
from ..events import AnswerStarted, Event, UserSpeech
from ..ledger import Ledger
from .audio import Audio
from .events import AgentSpoke, SpeechOut, VoiceEnded
from .listener import ListenerStats
from .stream import Segment

__all__ = ["ReplyTiming", "VoiceResult"]


@dataclass(frozen=True)
class ReplyTiming:
    """One user utterance and the agent's reply to it (clock seconds; None: did not happen).

    ``latency_s`` is the figure the voice layer reports: from the end of the user's speech
    (ground truth from the audio) to the first audio of the reply.
    """

    label: str
    speech_end_t: float
    vad_end_t: float | None
    final_heard_t: float | None
    answer_started_t: float | None
    first_audio_t: float | None

    @property
    def latency_s(self) -> float | None:
        return None if self.first_audio_t is None else self.first_audio_t - self.speech_end_t

    def to_json(self) -> dict[str, object]:
        def rel(t: float | None) -> float | None:
            return None if t is None else round(t - self.speech_end_t, 4)

        return {
            "label": self.label,
            "speech_end_t": round(self.speech_end_t, 4),
            "vad_end_after_s": rel(self.vad_end_t),
            "final_heard_after_s": rel(self.final_heard_t),
            "answer_started_after_s": rel(self.answer_started_t),
            "first_audio_after_s": rel(self.first_audio_t),
        }


@dataclass
class VoiceResult:
    policy: str
    ended: str  # finished | tail_timeout
    turns: list[SessionResult]
    ledger: Ledger
    """Everything: the sessions' events and the voice events, in the order they happened."""
    conversation: Ledger
    """The model's own ledger (what the turns' sessions saw)."""
    segments: list[Segment]
    stream_t0: float
    reply: Audio
    """The agent's audio on the conversation's timeline (silence where it said nothing)."""
    listener: ListenerStats
    synth_s: list[float]
    sub_agent_ledgers: dict[int, Ledger]

    def timings(self) -> list[ReplyTiming]:
        """Per utterance (ground truth from the stream): when each reply step happened."""
        events = list(self.ledger)
        segments = sorted(self.segments, key=lambda s: s.speech_start_s)
        out = []
        for i, seg in enumerate(segments):
            end_t = self.stream_t0 + seg.speech_end_s
            limit = (
                self.stream_t0 + segments[i + 1].speech_start_s
                if i + 1 < len(segments)
                else float("inf")
            )
            window = [e for e in events if end_t <= e.t < limit]
            out.append(
                ReplyTiming(
                    label=seg.label,
                    speech_end_t=end_t,
                    vad_end_t=_first(window, VoiceEnded),
                    final_heard_t=_first(
                        [e for e in window if isinstance(e, UserSpeech) and e.final], UserSpeech
                    ),
                    answer_started_t=_first(window, AnswerStarted),
                    first_audio_t=_first(window, SpeechOut),
                )
            )
        return out

    def spoken(self) -> list[AgentSpoke]:
        return [e for e in self.ledger if isinstance(e, AgentSpoke)]


def _first(events: list[Event], kind: type[Event]) -> float | None:
    return next((e.t for e in events if isinstance(e, kind)), None)
