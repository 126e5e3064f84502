"""Speech out as a peripheral: synthesise answer pieces in order, play them in real time,
stop within one audio chunk when the user barges in, and know what was actually heard.

Two loops run under the speaker's task group. The synthesis loop turns queued text pieces into
audio on the TTS worker (while the previous piece plays). The playback loop hands audio to the
"device" one chunk (``chunk_s``) at a time on the clock: a chunk handed over plays to its end,
so :meth:`Speaker.stop` silences the agent at the end of the chunk in flight, never later.
Every chunk played is kept with its start time, so the reply track can be written on the
conversation's timeline. An answer can be *held* (:meth:`Speaker.hold`): its pieces are
synthesised as they come but not played until :meth:`Speaker.release`, or thrown away
unheard by :meth:`Speaker.drop` (a preemptive reply whose turn did not end). An answer's pieces played in full are what the user heard; a piece
cut short counts the share of its words that the played share of its samples covers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..clock import Clock
from ..events import Event
from .audio import Audio
from .compute import Worker
from .events import AgentSpoke, SpeechOut
from .tts import PiperTts

__all__ = ["Speaker"]

_END = None  # marks the end of an answer in the queues


@dataclass
class _Playing:
    answer_id: int
    text: str
    total: int
    played: int = 0
    chunk_end_t: float = 0.0


@dataclass
class _Answer:
    spoken: list[str] = field(default_factory=list)


class Speaker:
    """Queue answer text with :meth:`say`, close an answer with :meth:`end_answer`."""

    def __init__(
        self,
        clock: Clock,
        tts: PiperTts,
        worker: Worker,
        emit: Callable[[Event], None],
        *,
        chunk_s: float = 0.04,
        on_idle: Callable[[], None] | None = None,
    ) -> None:
        if chunk_s <= 0:
            raise ValueError("chunk_s must be positive")
        self._clock = clock
        self._tts = tts
        self._worker = worker
        self._emit = emit
        self._on_idle = on_idle
        self.rate = tts.rate
        self.chunk_samples = max(1, round(chunk_s * tts.rate))
        self._texts: asyncio.Queue[tuple[int, int, str | None]] = asyncio.Queue()
        self._audio: asyncio.Queue[tuple[int, int, str | None, Audio | None]] = asyncio.Queue()
        self._epoch = 0
        self._outstanding = 0
        self._answers: dict[int, _Answer] = {}
        self._playing: _Playing | None = None
        self._held: set[int] = set()
        self._dropped: set[int] = set()
        self._unheld = asyncio.Event()
        self.track: list[tuple[float, np.ndarray]] = []
        self.synth_s: list[float] = []

    @property
    def chunk_s(self) -> float:
        return self.chunk_samples / self.rate

    @property
    def busy(self) -> bool:
        """Something is queued, being synthesised or playing."""
        return self._outstanding > 0

    @property
    def playing(self) -> bool:
        return self._playing is not None

    def hold(self, answer_id: int) -> None:
        """Synthesise this answer's pieces as they come, but play none before release."""
        self._held.add(answer_id)

    def release(self, answer_id: int) -> None:
        """Play the held answer now (from its first piece, in order)."""
        self._held.discard(answer_id)
        self._unheld.set()

    def drop(self, answer_id: int) -> None:
        """Throw a held (or queued) answer away unheard: nothing of it plays, no
        ``AgentSpoke`` is recorded for it."""
        self._held.discard(answer_id)
        self._dropped.add(answer_id)
        self._answers.pop(answer_id, None)
        self._unheld.set()

    def held(self, answer_id: int) -> bool:
        return answer_id in self._held

    def say(self, answer_id: int, text: str) -> None:
        self._answers.setdefault(answer_id, _Answer())
        self._put(answer_id, text)

    def end_answer(self, answer_id: int) -> None:
        """No more pieces for this answer: once played, record what was heard."""
        self._answers.setdefault(answer_id, _Answer())
        self._put(answer_id, _END)

    def _put(self, answer_id: int, text: str | None) -> None:
        self._outstanding += 1
        self._texts.put_nowait((self._epoch, answer_id, text))

    def stop(self) -> AgentSpoke | None:
        """Barge-in: drop everything queued and end playback with the chunk in flight.

        Returns (and records) what the user heard of the answer being spoken, if any.
        """
        self._epoch += 1
        self._unheld.set()  # a playback loop waiting on a held answer sees the new epoch
        cut: set[int] = set()
        for queue in (self._texts, self._audio):
            while not queue.empty():
                item = queue.get_nowait()
                cut.add(item[1])
                self._done_one()
        now = self._clock.now()
        playing = self._playing
        if playing is not None:
            cut.add(playing.answer_id)
        spoke = None
        for answer_id in sorted(cut):
            answer = self._answers.pop(answer_id, None)
            if answer is None:
                continue
            words = list(answer.spoken)
            end_t = now
            if playing is not None and playing.answer_id == answer_id:
                share = playing.played / max(1, playing.total)
                piece = playing.text.split()
                words += piece[: round(share * len(piece))]
                end_t = max(now, playing.chunk_end_t)
            spoke = AgentSpoke(
                t=now,
                answer_id=answer_id,
                text=" ".join(words),
                interrupted=True,
                audio_end_t=end_t,
            )
            self._emit(spoke)
        return spoke

    def _done_one(self) -> None:
        self._outstanding -= 1
        if self._outstanding == 0 and self._on_idle is not None:
            self._on_idle()

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(self._synthesise(), name="tts-synth")
            group.create_task(self._play(), name="tts-play")

    async def _synthesise(self) -> None:
        while True:
            epoch, answer_id, text = await self._texts.get()
            if epoch != self._epoch or answer_id in self._dropped:
                self._done_one()
                continue
            audio = None
            if text is not _END:
                audio, seconds = await self._worker.run(self._tts.synthesize, text)
                self.synth_s.append(seconds)
                if epoch != self._epoch or answer_id in self._dropped:
                    self._done_one()
                    continue
            self._audio.put_nowait((epoch, answer_id, text, audio))

    async def _play(self) -> None:
        while True:
            epoch, answer_id, text, audio = await self._audio.get()
            try:
                while answer_id in self._held and epoch == self._epoch:
                    self._unheld.clear()
                    await self._unheld.wait()
                if epoch != self._epoch or answer_id in self._dropped:
                    continue
                if audio is None:
                    answer = self._answers.pop(answer_id, _Answer())
                    now = self._clock.now()
                    self._emit(
                        AgentSpoke(
                            t=now,
                            answer_id=answer_id,
                            text=" ".join(answer.spoken),
                            interrupted=False,
                            audio_end_t=now,
                        )
                    )
                    continue
                assert text is not None
                await self._play_piece(epoch, answer_id, text, audio)
            finally:
                self._done_one()

    async def _play_piece(self, epoch: int, answer_id: int, text: str, audio: Audio) -> None:
        samples = audio.samples
        playing = self._playing = _Playing(answer_id, text, len(samples))
        self._emit(SpeechOut(t=self._clock.now(), answer_id=answer_id, text=text))
        t = self._clock.now()
        try:
            for offset in range(0, len(samples), self.chunk_samples):
                if epoch != self._epoch:
                    return
                chunk = samples[offset : offset + self.chunk_samples]
                self.track.append((t, chunk))
                playing.played = offset + len(chunk)
                playing.chunk_end_t = t + len(chunk) / self.rate
                await self._clock.sleep_until(playing.chunk_end_t)
                t = playing.chunk_end_t
            if epoch == self._epoch:
                self._answers.setdefault(answer_id, _Answer()).spoken.append(text)
        finally:
            self._playing = None

    def reply_track(self, t0: float, duration_s: float) -> Audio:
        """Everything played, placed at its time from ``t0`` on a silent track."""
        end = max([duration_s] + [t - t0 + len(c) / self.rate for t, c in self.track])
        out = np.zeros(int(np.ceil(end * self.rate)) + 1, dtype=np.float32)
        for t, chunk in self.track:
            start = max(0, round((t - t0) * self.rate))
            out[start : start + len(chunk)] += chunk[: len(out) - start]
        return Audio(np.clip(out, -1.0, 1.0), self.rate)
