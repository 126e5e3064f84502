"""Speech in as a peripheral: audio frames -> VAD -> Whisper -> timed user-speech events.

Per 32 ms window the Silero VAD says whether the user is speaking (cheap, on the loop).
Recognition runs on its own worker, one job at a time, in order:

* while the user speaks, every ``partial_every_s`` of new audio the utterance so far is
  re-transcribed; words two successive passes agree on are passed on as a partial update;
* when the user pauses (``tentative_silence_s``), the utterance is transcribed at once, in
  case the pause is the end of the turn: the result is ready, or nearly, when the VAD ends the
  turn, so recognition hides inside the silence the VAD must wait anyway. The words are
  judged (:mod:`.turn_end`): the pause then ends the turn after a short silence if they look
  complete, a long one if not, and a :class:`TurnEndGuess` tells the agent, which may start
  a preemptive reply; :class:`VoiceResumed` tells it the guess is stale;
* when the turn ends, the final update carries the words not yet passed on (from the
  tentative pass if the user did not resume since, else from a fresh pass). No final update
  is sent for words the agent has claimed (:meth:`Listener.claim`: its preemptive reply
  already answers those very words, from the pause in which the turn ended).

With ``unclear_below`` set, words Whisper was too unsure of (mean token log-probability below
it, see :class:`~.asr.Transcript`) are not acted on: a partial pass that unsure passes no
words on, a tentative pass is marked unclear in its :class:`TurnEndGuess` (the agent starts no
preemptive reply on it), and an unsure final is not sent as the user's words: a
:class:`VoiceUnclear` goes out instead.

Frames keep arriving and the VAD keeps listening while recognition computes, so the user
starting to speak (the barge-in signal) is noticed within one window whatever else runs.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import numpy as np

from ..clock import Clock
from ..events import Event, UserSpeech
from .asr import Transcript, WhisperAsr, agreed_words, hear, same_word
from .audio import ASR_RATE
from .compute import Worker
from .events import TurnEndGuess, VoiceEnded, VoiceResumed, VoiceStarted, VoiceUnclear
from .stream import Frame
from .turn_end import TurnEndConfig, judge_turn_end
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
    turn_end: TurnEndConfig = field(default_factory=TurnEndConfig)
    """End-of-turn silence by how complete the words look (``adaptive=False``: fixed)."""
    prompt: str | None = None
    """Words Whisper should expect (see :func:`~.asr.vocabulary_prompt`); None: none."""
    unclear_below: float | None = None
    """Words whose mean token log-probability is below this are not acted on (the voice
    agent uses :data:`~.asr.WHISPER_LOG_PROB_THRESHOLD`); None: every word is."""


@dataclass
class ListenerStats:
    windows: int = 0
    vad_s: float = 0.0  # measured wall time in the VAD
    passes: int = 0
    asr_s: float = 0.0
    revised_finals: int = 0  # finals that disagreed with words already passed on
    passes_by_kind: dict[str, int] = field(default_factory=dict)  # partial|tentative|final
    asr_s_by_kind: dict[str, float] = field(default_factory=dict)
    guesses: int = 0  # tentative passes judged while the user was still paused
    complete_guesses: int = 0
    claimed_finals: int = 0  # finals not sent: the agent's preemptive reply had the words
    unclear_partials: int = 0  # partial passes too unsure to pass words on
    unclear_finals: int = 0  # finals not sent as words: VoiceUnclear instead


@dataclass
class _Utterance:
    index: int
    chunks: list[np.ndarray]
    committed: list[str] = field(default_factory=list)
    previous: list[str] = field(default_factory=list)
    previous_heard: Transcript | None = None  # the last partial pass (``previous``'s words)
    last_partial_at: int = 0  # samples when the last partial pass was queued
    partial_done_at: int = 0  # samples the last finished partial pass covered
    tentative_by_partial: int | None = None  # the pause a partial pass in flight stands for
    pause: int = 0  # bumped at every pause and resume: a tentative pass is for one pause
    tentative: tuple[int, Transcript] | None = None  # (pause, what it heard)
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
        self._claims: dict[int, tuple[int, str]] = {}

    def claim(self, utterance: int, pause: int, text: str) -> None:
        """The agent answers ``text`` as utterance ``utterance``'s words (a preemptive reply
        started in pause ``pause``): if the utterance ends in that pause with those words,
        its final update is not sent (the agent's reply already has them)."""
        self._claims[utterance] = (pause, text)

    def unclaim(self, utterance: int) -> None:
        """The preemptive reply was discarded: the final update goes out as usual."""
        self._claims.pop(utterance, None)

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
                self._pause(utterance, end_t - signal.at_s)
            elif signal.change is VadChange.RESUMED:
                self._emit(
                    VoiceResumed(
                        t=self._clock.now(), utterance=utterance.index, pause=utterance.pause
                    )
                )
                utterance.pause += 1
            elif signal.change is VadChange.ENDED:
                self._end_utterance(self._clock.now(), signal.at_s)
                return
        utterance = self._utterance
        every = self.config.partial_every_s
        # No partial pass during a pause: the tentative pass already covers those words.
        if (
            utterance is not None
            and every > 0
            and self._endpointer.speaking
            and not (self._endpointer.paused)
        ):
            length = utterance.length
            if (
                length >= self.config.min_partial_s * ASR_RATE
                and length - utterance.last_partial_at >= every * ASR_RATE
            ):
                utterance.last_partial_at = length
                self._queue(_Job("partial", utterance, utterance.samples()))

    def _pause(self, utterance: _Utterance, silence_s: float) -> None:
        """The user paused: transcribe the words so far, unless the last partial pass
        already covers all of the speech (then its words stand for the tentative pass).

        With the adaptive end of turn, the pause cannot end the turn before its words are
        judged (up to the long silence): ending it sooner would not hear the words sooner,
        since the final update needs that same pass."""
        if self.config.turn_end.adaptive:
            self._endpointer.end_after(self.config.turn_end.incomplete_silence_s)
        speech_end = utterance.length - round(silence_s * ASR_RATE)
        if utterance.last_partial_at >= speech_end:
            if utterance.partial_done_at == utterance.last_partial_at:  # it has finished
                heard = utterance.previous_heard or Transcript("", None, None)
                utterance.tentative = (utterance.pause, heard)
                self._judge(utterance, utterance.pause, heard)
            else:
                utterance.tentative_by_partial = utterance.pause
            return
        self._queue(_Job("tentative", utterance, utterance.samples(), pause=utterance.pause))

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

    async def _transcribe(self, samples: np.ndarray, kind: str) -> Transcript:
        heard, seconds = await self._worker.run(hear, self._asr, samples, self.config.prompt)
        stats = self.stats
        stats.passes += 1
        stats.asr_s += seconds
        stats.passes_by_kind[kind] = stats.passes_by_kind.get(kind, 0) + 1
        stats.asr_s_by_kind[kind] = stats.asr_s_by_kind.get(kind, 0.0) + seconds
        return dataclasses.replace(heard, text=" ".join(heard.text.split()))

    def _unclear(self, heard: Transcript) -> bool:
        return heard.below(self.config.unclear_below)

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
                heard = await self._transcribe(job.samples, "partial")
                words = heard.text.split()
                agreed = agreed_words(utterance.previous, words)
                utterance.previous, utterance.previous_heard = words, heard
                utterance.partial_done_at = len(job.samples)
                pause = utterance.tentative_by_partial
                if pause is not None and len(job.samples) == utterance.last_partial_at:
                    utterance.tentative_by_partial = None
                    utterance.tentative = (pause, heard)
                    if pause == utterance.pause and not utterance.ended:
                        self._judge(utterance, pause, heard)
                done = utterance.committed
                unsure = self._unclear(heard)
                self.stats.unclear_partials += unsure
                # Once the turn has ended the final update carries every word not yet passed
                # on; words from a pass too unsure to act on are not passed on.
                if (
                    not utterance.ended
                    and not unsure
                    and len(agreed) > len(done)
                    and _matches(agreed, done)
                ):
                    fresh = agreed[len(done) :]
                    utterance.committed = done + fresh
                    self._emit(UserSpeech(t=self._clock.now(), text=" ".join(fresh)))
            elif job.kind == "tentative":
                assert job.samples is not None
                if job.pause != utterance.pause:  # the user resumed since
                    continue
                heard = await self._transcribe(job.samples, "tentative")
                utterance.tentative = (job.pause, heard)
                if job.pause == utterance.pause and not utterance.ended:
                    self._judge(utterance, job.pause, heard)
            else:
                tentative = utterance.tentative
                if tentative is not None and tentative[0] == utterance.pause:
                    heard = tentative[1]
                else:
                    heard = await self._transcribe(utterance.samples(), "final")
                words = heard.text.split()
                if self._unclear(heard):
                    self._claims.pop(utterance.index, None)
                    self._say_unclear(utterance, heard)
                    continue
                claim = self._claims.pop(utterance.index, None)
                if claim is not None and claim == (utterance.pause, " ".join(words)):
                    self.stats.claimed_finals += 1
                    continue
                done = utterance.committed
                if not _matches(words, done):
                    self.stats.revised_finals += 1
                rest = words[len(done) :]
                self._emit(UserSpeech(t=self._clock.now(), text=" ".join(rest), final=True))

    def _say_unclear(self, utterance: _Utterance, heard: Transcript) -> None:
        """The utterance's final words are too unsure to act on: say so instead of them."""
        assert heard.avg_logprob is not None and self.config.unclear_below is not None
        self.stats.unclear_finals += 1
        self._emit(
            VoiceUnclear(
                t=self._clock.now(),
                utterance=utterance.index,
                text=heard.text,
                avg_logprob=heard.avg_logprob,
                no_speech_prob=heard.no_speech_prob,
                threshold=self.config.unclear_below,
            )
        )

    def _judge(self, utterance: _Utterance, pause: int, heard: Transcript) -> None:
        """The user is still paused after ``heard``: judge it, set how long this pause may
        last before the turn ends, and tell the agent."""
        text = heard.text
        judgement = judge_turn_end(text)
        config = self.config.turn_end
        end_s = None
        if config.adaptive and self._endpointer.paused:
            end_s = config.silence_for(judgement.complete)
            self._endpointer.end_after(end_s)
        self.stats.guesses += 1
        self.stats.complete_guesses += judgement.complete
        self._emit(
            TurnEndGuess(
                t=self._clock.now(),
                utterance=utterance.index,
                pause=pause,
                text=text,
                complete=judgement.complete,
                reason=judgement.reason,
                end_silence_s=end_s,
                unclear=self._unclear(heard),
            )
        )

    def _newer_job_for(self, utterance: _Utterance) -> bool:
        return any(job is not None and job.utterance is utterance for job in self._jobs)


def _matches(words: list[str], prefix: list[str]) -> bool:
    return len(words) >= len(prefix) and all(
        same_word(a, b) for a, b in zip(words, prefix, strict=False)
    )
