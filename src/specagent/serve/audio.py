"""Speech in over the WebSocket: the client's microphone, heard by the voice layer's listener.

With the ``voice`` extra and its models installed, a client may send its microphone as binary
WebSocket messages: 16-bit little-endian mono PCM at 16 kHz, any number of samples a message
(the page sends 32 ms). Each connection gets its own :class:`~specagent.voice.listener.Listener`
(Silero VAD, with its own recurrent state) and shares the server's Whisper model and its one
recognition thread, so recognitions of all connections take turns on it. The listener's
partial and final updates go to the conversation exactly like typed ``speech`` messages; its
voice-activity events are sent to the client (``voice_started``, ``voice_ended``); the user
starting to speak while the agent writes its answer interrupts it (barge-in).

``{"type": "audio_end"}`` says the microphone stopped: the utterance under way ends there (its
final update is recognised) and the next audio message starts a fresh listener.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import numpy as np

from ..agent import AgentState
from ..clock import Clock
from ..errors import SpecagentError
from ..events import Event, UserSpeech
from ..voice.asr import WhisperAsr
from ..voice.compute import Worker
from ..voice.events import VoiceStarted
from ..voice.listener import Listener, ListenerConfig
from ..voice.stream import Frame
from ..voice.vad import SileroVad
from .conversation import ConversationRunner

__all__ = ["AudioEngines", "AudioListener", "AudioMessageError"]

SAMPLE_RATE = 16_000


class AudioMessageError(SpecagentError, ValueError):
    """A binary message that is not 16-bit PCM (an odd number of bytes)."""


class AudioEngines:
    """The speech models every connection shares (loaded once, at server start)."""

    def __init__(self, clock: Clock, *, asr_threads: int = 2) -> None:
        self.clock = clock
        self.asr = WhisperAsr(cpu_threads=asr_threads)
        SileroVad()  # fail at start, not at the first audio message, if the model is missing
        self.worker = Worker(clock, "serve-asr")

    def close(self) -> None:
        self.worker.close()


class AudioListener:
    """One connection's microphone (see the module docstring)."""

    def __init__(
        self,
        engines: AudioEngines,
        runner: ConversationRunner,
        send_event: Callable[[Event], None],
        config: ListenerConfig | None = None,
    ) -> None:
        self._engines = engines
        self._runner = runner
        self._send_event = send_event
        self._config = config or ListenerConfig()
        self._frames: asyncio.Queue[Frame | None] = asyncio.Queue()
        self.samples = 0

    def feed(self, data: bytes) -> None:
        if len(data) % 2:
            raise AudioMessageError(
                f"audio messages are 16-bit PCM: {len(data)} bytes is not a whole number of samples"
            )
        pcm = np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0
        self.samples += len(pcm)
        self._frames.put_nowait(Frame(t=self._engines.clock.now(), samples=pcm))

    def end(self) -> None:
        """The microphone stopped: finish the utterance under way, then stop listening."""
        self._frames.put_nowait(None)

    async def run(self) -> None:
        listener = Listener(
            self._engines.clock,
            SileroVad(),
            self._engines.asr,
            self._engines.worker,
            self._emit,
            self._config,
        )
        await listener.run(self._stream())

    async def _stream(self) -> AsyncIterator[Frame]:
        pending = np.zeros(0, np.float32)
        while True:
            frame = await self._frames.get()
            if frame is None:
                return
            # the listener reads whole VAD windows: carry a remainder to the next message
            pending = np.concatenate([pending, frame.samples])
            whole = len(pending) - len(pending) % 512
            if whole:
                yield Frame(t=frame.t, samples=pending[:whole])
                pending = pending[whole:]

    def _emit(self, event: Event) -> None:
        if isinstance(event, UserSpeech):
            if event.text or event.final:
                self._runner.hear(event.text, event.final)
            return
        self._send_event(event)
        session = self._runner.session
        if isinstance(event, VoiceStarted) and session is not None:
            if session.state is AgentState.EMITTING:
                self._runner.interrupt("barge-in")
