"""A microphone as the audio stream, where one exists (PortAudio through ``sounddevice``).

It yields the same 16 kHz frames as :class:`~specagent.voice.stream.AudioStream`, so the
voice agent cannot tell them apart, but only on the real clock (a person does not speak in
virtual time) and without ground truth: a microphone conversation reports no latency
figures, only its timeline. PortAudio's own thread hands each block to the event loop; no
other thread is involved. No PortAudio library or no input device is a :class:`VoiceError`
that says what to install.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import numpy as np

from ..clock import Clock
from .audio import ASR_RATE, Audio
from .errors import VoiceError
from .stream import Frame, Segment
from .vad import WINDOW

__all__ = ["MicrophoneStream"]


def _sounddevice() -> Any:
    try:
        import sounddevice
    except (ImportError, OSError) as exc:  # OSError: the PortAudio library is missing
        raise VoiceError(
            f"no microphone support here ({exc}); install the PortAudio library "
            "(apt-get install libportaudio2) and sounddevice, or use --in FILE.wav"
        ) from None
    return sounddevice


class MicrophoneStream:
    """Listens to an input device for ``seconds``, frame by frame."""

    def __init__(self, seconds: float, *, device: int | str | None = None) -> None:
        if seconds <= 0:
            raise ValueError("seconds must be positive")
        self.seconds = seconds
        self.device = device
        self.segments: list[Segment] = []  # no ground truth from a live microphone
        self.started_t: float | None = None
        self.frame_samples = WINDOW
        self._recorded: list[np.ndarray] = []
        sd = _sounddevice()
        try:
            sd.check_input_settings(device=device, channels=1, samplerate=ASR_RATE)
        except Exception as exc:  # noqa: BLE001 - PortAudio reports many kinds of failure
            raise VoiceError(f"no usable input device ({exc}); use --in FILE.wav") from None

    @property
    def duration_s(self) -> float:
        return self.seconds

    @property
    def audio(self) -> Audio:
        samples = np.concatenate(self._recorded) if self._recorded else np.zeros(0, np.float32)
        return Audio(samples, ASR_RATE)

    async def frames(self, clock: Clock) -> AsyncIterator[Frame]:
        if clock.is_virtual:
            raise VoiceError("a microphone runs on the real clock only (--clock real)")
        sd = _sounddevice()
        loop = asyncio.get_running_loop()
        blocks: asyncio.Queue[np.ndarray] = asyncio.Queue()

        def on_block(data: np.ndarray, frames: int, time: Any, status: Any) -> None:
            loop.call_soon_threadsafe(blocks.put_nowait, data[:, 0].astype(np.float32).copy())

        self.started_t = clock.now()
        end = self.started_t + self.seconds
        with sd.InputStream(
            samplerate=ASR_RATE,
            channels=1,
            dtype="float32",
            blocksize=WINDOW,
            device=self.device,
            callback=on_block,
        ):
            while clock.now() < end:
                samples = await blocks.get()
                self._recorded.append(samples)
                yield Frame(t=clock.now(), samples=samples)
