"""What a voice conversation leaves behind: its ledgers, its audio, and each reply's timing.

:class:`VoiceResult` is returned by :meth:`~specagent.voice.agent.VoiceAgent.run`; its
:meth:`~VoiceResult.timings` measure every reply from the ground truth of the audio stream (when
the user's speech really ended) to the first audio of the agent's answer, the latency the voice
layer reports. Kept apart from the agent so benchmarks and the CLI read results without the
conversation loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..agent import SessionResult
from ..events import AnswerStarted, Event, UserSpeech
from ..ledger import Ledger
from .audio import Audio
from .events import AgentSpoke, SpeechOut, VoiceEnded, VoiceUnclear
from .listener import ListenerStats
from .preempt import PreemptionStats
from .stream import Segment

__all__ = ["ReplyTiming", "VoiceResult"]


@dataclass(frozen=True)
class ReplyTiming:
    """One user utterance and the agent's reply to it (clock seconds; None: did not happen).

    ``latency_s``: from the end of the user's speech (ground truth from the waveform's
    energy) to the first audio of the reply. ``first_audio_latency_s``: from the acoustic end
    of speech as the VAD placed it (the end of its last speech window, known only once the
    turn has ended) to the first audio: what a deployed agent can measure on live audio.
    """

    label: str
    speech_end_t: float
    vad_speech_end_t: float | None
    """Where the VAD put the end of the user's speech (the turn's last speech window)."""
    vad_end_t: float | None
    final_heard_t: float | None
    answer_started_t: float | None
    first_audio_t: float | None

    @property
    def latency_s(self) -> float | None:
        return None if self.first_audio_t is None else self.first_audio_t - self.speech_end_t

    @property
    def first_audio_latency_s(self) -> float | None:
        if self.first_audio_t is None or self.vad_speech_end_t is None:
            return None
        return self.first_audio_t - self.vad_speech_end_t

    def to_json(self) -> dict[str, object]:
        def rel(t: float | None) -> float | None:
            return None if t is None else round(t - self.speech_end_t, 4)

        gap = self.first_audio_latency_s
        return {
            "label": self.label,
            "speech_end_t": round(self.speech_end_t, 4),
            "first_audio_latency_s": None if gap is None else round(gap, 4),
            "vad_speech_end_after_s": rel(self.vad_speech_end_t),
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
    preemption: PreemptionStats = field(default_factory=PreemptionStats)

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
            ended = next((e for e in window if isinstance(e, VoiceEnded)), None)
            out.append(
                ReplyTiming(
                    label=seg.label,
                    speech_end_t=end_t,
                    vad_speech_end_t=None if ended is None else ended.speech_t,
                    vad_end_t=_first(window, VoiceEnded),
                    final_heard_t=_first(
                        [e for e in window if isinstance(e, UserSpeech) and e.final], UserSpeech
                    ),
                    answer_started_t=_first(window, AnswerStarted),
                    first_audio_t=_first(window, SpeechOut),
                )
            )
        return out

    def unclear(self) -> list[VoiceUnclear]:
        """Utterances heard too unsure to act on (the agent asked the user to repeat)."""
        return [e for e in self.ledger if isinstance(e, VoiceUnclear)]

    def spoken(self) -> list[AgentSpoke]:
        return [e for e in self.ledger if isinstance(e, AgentSpoke)]

    def false_starts(self) -> list[SpeechOut]:
        """Answers whose first audio began while the user was in the middle of an
        utterance (ground truth from the waveform): the agent spoke before the user had
        finished. A user speaking over an answer already playing is a barge-in, not this."""
        firsts: dict[int, SpeechOut] = {}
        for event in self.ledger:
            if isinstance(event, SpeechOut):
                firsts.setdefault(event.answer_id, event)
        spans = [
            (self.stream_t0 + s.speech_start_s, self.stream_t0 + s.speech_end_s)
            for s in self.segments
        ]
        return [e for e in firsts.values() if any(a < e.t < b for a, b in spans)]

    def summary_counts(self) -> dict[str, int]:
        """Preemptive replies started / confirmed / discarded, false starts, and utterances
        too unclear to act on."""
        return {
            "preemptive_started": self.preemption.started,
            "preemptive_confirmed": self.preemption.confirmed,
            "preemptive_discarded": self.preemption.discarded,
            "false_starts": len(self.false_starts()),
            "unclear": len(self.unclear()),
        }


def _first(events: list[Event], kind: type[Event]) -> float | None:
    return next((e.t for e in events if isinstance(e, kind)), None)
