"""Mono audio buffers and WAV files: the one format every voice component exchanges.

Samples are float32 in [-1, 1] at a stated rate. Speech in runs at 16 kHz (what Whisper and
the Silero VAD expect); speech out keeps the TTS voice's own rate (22.05 kHz for piper's
medium voices). WAV files are read and written with the standard library; anything else is an
:class:`AudioFormatError` that says what was found.
"""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import AudioFormatError

__all__ = ["ASR_RATE", "Audio", "read_wav", "voiced_extent", "write_wav"]

ASR_RATE = 16_000


@dataclass(frozen=True)
class Audio:
    """Mono float32 samples at ``rate`` Hz."""

    samples: np.ndarray
    rate: int

    def __post_init__(self) -> None:
        if self.rate <= 0:
            raise AudioFormatError(f"sample rate must be positive, got {self.rate}")
        if self.samples.ndim != 1:
            raise AudioFormatError(f"audio must be mono (1-D), got shape {self.samples.shape}")

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.rate

    @classmethod
    def silence(cls, seconds: float, rate: int) -> Audio:
        return cls(np.zeros(max(0, round(seconds * rate)), dtype=np.float32), rate)

    def resampled(self, rate: int) -> Audio:
        """This audio at another rate (linear interpolation after a moving-average low-pass
        when going down: plenty for speech recognition and for listening)."""
        if rate == self.rate or not len(self.samples):
            return Audio(self.samples.astype(np.float32), rate)
        x = self.samples.astype(np.float64)
        if rate < self.rate:
            width = int(np.ceil(self.rate / rate))
            if width > 1:
                x = np.convolve(x, np.ones(width) / width, mode="same")
        n = max(1, round(len(x) * rate / self.rate))
        positions = np.arange(n) * (self.rate / rate)
        out = np.interp(positions, np.arange(len(x)), x)
        return Audio(out.astype(np.float32), rate)

    def mixed(self, other: Audio, at_s: float) -> Audio:
        """This audio with ``other`` added from ``at_s`` on (lengthened as needed)."""
        if other.rate != self.rate:
            other = other.resampled(self.rate)
        start = max(0, round(at_s * self.rate))
        end = start + len(other.samples)
        out = np.zeros(max(end, len(self.samples)), dtype=np.float32)
        out[: len(self.samples)] += self.samples
        out[start:end] += other.samples
        return Audio(np.clip(out, -1.0, 1.0), self.rate)


def read_wav(path: str | Path) -> Audio:
    """Read a PCM WAV file (8, 16 or 32-bit integer; any channel count, averaged to mono)."""
    path = Path(path)
    if not path.is_file():
        raise AudioFormatError(f"no such audio file: {path}")
    try:
        with wave.open(str(path), "rb") as wav:
            width, channels, rate = wav.getsampwidth(), wav.getnchannels(), wav.getframerate()
            raw = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError) as exc:
        raise AudioFormatError(f"{path} is not a PCM WAV file ({exc})") from None
    if width == 1:
        data = (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 2:
        data = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    elif width == 4:
        data = np.frombuffer(raw, dtype="<i4").astype(np.float32) / 2147483648.0
    else:
        raise AudioFormatError(f"{path}: {8 * width}-bit samples are not supported (use 16-bit)")
    if channels > 1:
        data = data.reshape(-1, channels).mean(axis=1)
    if not len(data):
        raise AudioFormatError(f"{path} holds no audio")
    return Audio(data.astype(np.float32), rate)


def write_wav(path: str | Path, audio: Audio | list[Audio]) -> None:
    """Write 16-bit PCM: one mono track, or several of one rate as channels (padded)."""
    tracks = [audio] if isinstance(audio, Audio) else audio
    if not tracks or len({t.rate for t in tracks}) != 1:
        raise AudioFormatError("write_wav needs one or more tracks of the same rate")
    length = max(len(t.samples) for t in tracks)
    frame = np.zeros((length, len(tracks)), dtype=np.float32)
    for i, t in enumerate(tracks):
        frame[: len(t.samples), i] = t.samples
    pcm = (np.clip(frame, -1.0, 1.0) * 32767.0).astype("<i2")
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(len(tracks))
        wav.setsampwidth(2)
        wav.setframerate(tracks[0].rate)
        wav.writeframes(pcm.tobytes())


def voiced_extent(
    audio: Audio, *, frame_s: float = 0.01, floor_db: float = -35.0
) -> tuple[float, float]:
    """(start, end) seconds of the part louder than ``floor_db`` below the peak frame.

    The ground truth of where a synthesised utterance's speech begins and ends, against
    which the VAD's decisions and the reply latency are measured.
    """
    n = max(1, round(frame_s * audio.rate))
    frames = len(audio.samples) // n
    if frames == 0:
        return 0.0, 0.0
    blocks = audio.samples[: frames * n].reshape(frames, n).astype(np.float64)
    rms = np.sqrt((blocks**2).mean(axis=1)) + 1e-12
    db = 20 * np.log10(rms / rms.max())
    loud = np.flatnonzero(db > floor_db)
    if not len(loud):
        return 0.0, 0.0
    return loud[0] * n / audio.rate, (loud[-1] + 1) * n / audio.rate
