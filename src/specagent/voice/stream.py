"""Audio as a real-time stream, and recognised speech as a live source for a session.

:class:`AudioStream` plays a recording (plus utterances injected at chosen times, e.g. a
barge-in) as consecutive frames, each delivered on the clock at the moment its last sample
would have left a microphone. It keeps the ground truth of where each utterance's speech
begins and ends, the reference for every latency the voice layer reports.

Recognised updates go into a :class:`~specagent.speech.live.LiveSpeech` (re-exported here),
the async iterator a :class:`~specagent.agent.Session` reads in place of a prepared list of
speech: the listener puts updates in, the session takes them out as they come, and closing it
tells the session no more speech will come.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ..clock import Clock
from ..speech.live import LiveSpeech
from .audio import ASR_RATE, Audio, voiced_extent
from .vad import WINDOW

__all__ = ["AudioStream", "Frame", "LiveSpeech", "Segment"]


@dataclass(frozen=True)
class Frame:
    """``samples`` at 16 kHz, available at clock time ``t`` (its end)."""

    t: float
    samples: np.ndarray


@dataclass(frozen=True)
class Segment:
    """An utterance in the stream; times are seconds from the stream's start."""

    label: str
    start_s: float
    speech_start_s: float
    speech_end_s: float


class AudioInput(Protocol):
    """What the voice agent listens to: a recording played live, or a microphone."""

    segments: list[Segment]
    started_t: float | None

    @property
    def duration_s(self) -> float: ...

    def frames(self, clock: Clock) -> AsyncIterator[Frame]: ...


class AudioStream:
    """A recording played as a live stream of 16 kHz frames."""

    def __init__(
        self,
        audio: Audio,
        *,
        label: str = "request",
        inserts: list[tuple[float, Audio, str]] | None = None,
        lead_s: float = 0.3,
        tail_s: float = 1.5,
        frame_windows: int = 1,
    ) -> None:
        """``inserts``: (stream time, audio, label) of further utterances mixed in; the
        recording starts after ``lead_s`` of silence and the stream ends ``tail_s`` after
        the last sound. A frame is ``frame_windows`` VAD windows (32 ms each)."""
        if frame_windows < 1:
            raise ValueError("frame_windows must be at least 1")
        self.frame_samples = frame_windows * WINDOW
        base = audio.resampled(ASR_RATE)
        track = Audio.silence(lead_s, ASR_RATE).mixed(base, lead_s)
        self.segments = [_segment(label, lead_s, base)]
        for at_s, extra, extra_label in inserts or []:
            if at_s < 0:
                raise ValueError("an inserted utterance cannot start before the stream")
            extra = extra.resampled(ASR_RATE)
            track = track.mixed(extra, at_s)
            self.segments.append(_segment(extra_label, at_s, extra))
        track = track.mixed(Audio.silence(tail_s, ASR_RATE), track.duration_s)
        pad = (-len(track.samples)) % self.frame_samples
        self.audio = Audio(np.concatenate([track.samples, np.zeros(pad, np.float32)]), ASR_RATE)
        self.started_t: float | None = None

    @property
    def frame_s(self) -> float:
        return self.frame_samples / ASR_RATE

    @property
    def duration_s(self) -> float:
        return self.audio.duration_s

    async def frames(self, clock: Clock) -> AsyncIterator[Frame]:
        """Yield every frame at its real-time moment on ``clock``."""
        t0 = self.started_t = clock.now()
        n = self.frame_samples
        for i in range(len(self.audio.samples) // n):
            end = t0 + (i + 1) * n / ASR_RATE
            await clock.sleep_until(end)
            yield Frame(t=end, samples=self.audio.samples[i * n : (i + 1) * n])


def _segment(label: str, at_s: float, audio: Audio) -> Segment:
    start, end = voiced_extent(audio)
    return Segment(label, at_s, at_s + start, at_s + end)
