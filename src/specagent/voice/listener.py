"""Speech in as a peripheral: audio frames -> VAD -> Whisper -> timed user-speech events.

Per 32 ms window the Silero VAD says whether the user is speaking (cheap, on the loop).
Recognition runs on its own worker, one job at a time, in order:

* while the user speaks, every ``partial_every_s`` of new audio the utterance so far is
  re-transcribed; words two successive passes agree on are passed on as a partial update;
* when the user pauses (``tentative_silence_s``), the utterance is transcribed at once, in
  case the pause is the end of the turn: the result is ready, or nearly, when the VAD ends the
  turn (``end_silence_s``), so recognition hides inside the silence the VAD must wait anyway;
* when the turn ends, the final update carries the words not yet passed on (from the
  tentative pass if the user did not resume since, else from a fresh pass).

Frames keep arriving and the VAD keeps listening while recognition computes, so the user
starting to speak (the barge-in signal) is noticed within one window whatever else runs.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import numpy as np

from ..clock import Clock
from ..events import Event, UserSpeech
from .asr import WhisperAsr, agreed_words, same_word
from .audio import ASR_RATE
from .compute import Worker
from .events import VoiceEnded, VoiceStarted
from .stream import Frame
from .vad import WINDOW, EndpointConfig, Endpointer, SileroVad, VadChange

__all__ = ["Listener", "ListenerConfig", "ListenerStats"]


@dataclass(frozen=True)
class ListenerConfig:
    endpoint: EndpointConfig = field(default_factory=EndpointConfig)
    partial_every_s: float = 1.0
    """Re-transcribe the growing utterance this often (0: no partial updates)."""
    min_partial_s: float = 0.5
    """Shortest utterance worth a partial pass (Whisper invents words on a fragment)."""
    preroll_s: float = 0.25
    """Audio kept from before the VAD's start signal (the onset it needed to be sure)."""


@dataclass
class ListenerStats:
    windows: int = 0
    vad_s: float = 0.0  # measured wall time in the VAD
    passes: int = 0
    asr_s: float = 0.0
    revised_finals: int = 0  # finals that disagreed with words already passed on


@dataclass
class _Utterance:
    index: int
    chunks: list[np.ndarray]
    committed: list[str] = field(default_factory=list)
    previous: list[str] = field(default_factory=list)
    last_partial_at: int = 0  # samples when the last partial pass was queued
    pause: int = 0  # bumped at every pause and resume: a tentative pass is for one pause
    tentative: tuple[int, str] | None = None  # (pause, text)
    ended: bool = False

    def samples(self) -> np.ndarray:
        return np.concatenate(self.chunks) if self.chunks else np.zeros(0, np.float32)

    @property
    def length(self) -> int:
        return sum(len(c) for c in self.chunks)


@dataclass(frozen=True)
class _Job:
    kind: str  # partial | tentative | final
    utterance: _Utterance
    samples: np.ndarray | None = None
    pause: int = 0


class Listener:
    """Turns a stream of frames into VoiceStarted/VoiceEnded and UserSpeech events."""

    def __init__(
        self,
        clock: Clock,
        vad: SileroVad,
        asr: WhisperAsr,
        worker: Worker,
        emit: Callable[[Event], None],
        config: ListenerConfig | None = None,
    ) -> None:
        self._clock = clock
        self._vad = vad
        self._asr = asr
        self._worker = worker
        self._emit = emit
        self.config = config or ListenerConfig()
        self.stats = ListenerStats()
        self._endpointer = Endpointer(self.config.endpoint)
        self._jobs: collections.deque[_Job | None] = collections.deque()
        self._job_added = asyncio.Event()
        self._utterance: _Utterance | None = None
        self._count = 0

    @property
    def hearing_user(self) -> bool:
        """The user is in the middle of an utterance (or its final is being recognised)."""
        return self._utterance is not None or bool(self._jobs)

    async def run(self, frames: AsyncIterator[Frame]) -> None:
        """Listen until the frames end; return once the last utterance's final is out."""
        self._vad.reset()
        preroll: collections.deque[np.ndarray] = collections.deque(
            maxlen=max(1, round(self.config.preroll_s * ASR_RATE / WINDOW))
        )
        async with asyncio.TaskGroup() as group:
            group.create_task(self._recognise(), name="asr")
            async for frame in frames:
                n = len(frame.samples) // WINDOW
                for i in range(n):
                    window = frame.samples[i * WINDOW : (i + 1) * WINDOW]
                    end_t = frame.t - (n - 1 - i) * WINDOW / ASR_RATE
                    start = time.perf_counter()
                    probability = self._vad.probability(window)
                    self.stats.vad_s += time.perf_counter() - start
                    self.stats.windows += 1
                    preroll.append(window)
                    self._on_window(window, probability, end_t, preroll)
            if self._utterance is not None:  # the stream ended mid-utterance
                self._end_utterance(self._clock.now(), self._clock.now())
            self._queue(None)

    def _on_window(
        self,
        window: np.ndarray,
        probability: float,
        end_t: float,
        preroll: collections.deque[np.ndarray],
    ) -> None:
        utterance = self._utterance
        if utterance is not None:
            utterance.chunks.append(window)
        for signal in self._endpointer.feed(probability, end_t):
            if signal.change is VadChange.STARTED:
                self._count += 1
                utterance = self._utterance = _Utterance(self._count, list(preroll))
                self._emit(
                    VoiceStarted(t=self._clock.now(), utterance=self._count, speech_t=signal.at_s)
                )
            elif utterance is None:
                continue
            elif signal.change is VadChange.PAUSED:
                utterance.pause += 1
                self._queue(
                    _Job("tentative", utterance, utterance.samples(), pause=utterance.pause)
                )
            elif signal.change is VadChange.RESUMED:
                utterance.pause += 1
            elif signal.change is VadChange.ENDED:
                self._end_utterance(self._clock.now(), signal.at_s)
                return
        utterance = self._utterance
        every = self.config.partial_every_s
        if utterance is not None and every > 0 and self._endpointer.speaking:
            length = utterance.length
            if (
                length >= self.config.min_partial_s * ASR_RATE
                and length - utterance.last_partial_at >= every * ASR_RATE
            ):
                utterance.last_partial_at = length
                self._queue(_Job("partial", utterance, utterance.samples()))

    def _end_utterance(self, now: float, speech_t: float) -> None:
        utterance = self._utterance
        assert utterance is not None
        utterance.ended = True
        self._utterance = None
        self._emit(VoiceEnded(t=now, utterance=utterance.index, speech_t=speech_t))
        self._queue(_Job("final", utterance))

    def _queue(self, job: _Job | None) -> None:
        self._jobs.append(job)
        self._job_added.set()

    async def _next_job(self) -> _Job | None:
        while not self._jobs:
            self._job_added.clear()
            await self._job_added.wait()
        return self._jobs.popleft()

    async def _transcribe(self, samples: np.ndarray) -> list[str]:
        text, seconds = await self._worker.run(self._asr.transcribe, samples)
        self.stats.passes += 1
        self.stats.asr_s += seconds
        return text.split()

    async def _recognise(self) -> None:
        while True:
            job = await self._next_job()
            if job is None:
                return
            utterance = job.utterance
            if job.kind == "partial":
                if utterance.ended or self._newer_job_for(utterance):
                    continue
                assert job.samples is not None
                words = await self._transcribe(job.samples)
                agreed = agreed_words(utterance.previous, words)
                utterance.previous = words
                done = utterance.committed
                # Once the turn has ended the final update carries every word not yet passed on.
                if not utterance.ended and len(agreed) > len(done) and _matches(agreed, done):
                    fresh = agreed[len(done) :]
                    utterance.committed = done + fresh
                    self._emit(UserSpeech(t=self._clock.now(), text=" ".join(fresh)))
            elif job.kind == "tentative":
                assert job.samples is not None
                if job.pause != utterance.pause:  # the user resumed since
                    continue
                text = " ".join(await self._transcribe(job.samples))
                utterance.tentative = (job.pause, text)
            else:
                tentative = utterance.tentative
                if tentative is not None and tentative[0] == utterance.pause:
                    words = tentative[1].split()
                else:
                    words = await self._transcribe(utterance.samples())
                done = utterance.committed
                if not _matches(words, done):
                    self.stats.revised_finals += 1
                rest = words[len(done) :]
                self._emit(UserSpeech(t=self._clock.now(), text=" ".join(rest), final=True))

    def _newer_job_for(self, utterance: _Utterance) -> bool:
        return any(job is not None and job.utterance is utterance for job in self._jobs)


def _matches(words: list[str], prefix: list[str]) -> bool:
    return len(words) >= len(prefix) and all(
        same_word(a, b) for a, b in zip(words, prefix, strict=False)
    )
