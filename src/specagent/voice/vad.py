"""Voice activity: the Silero VAD run window by window, and the end-of-turn decision.

:class:`SileroVad` runs the v6 ONNX model that ships with faster-whisper on one 32 ms window
(512 samples at 16 kHz) at a time, carrying the model's recurrent state and the 64-sample
context the model expects from the previous window, so streaming gives the same
probabilities as faster-whisper's whole-file pass.

:class:`Endpointer` turns those probabilities into the moments a voice agent acts on: the
user started speaking (after ``min_speech_s`` of speech, so a click is not a barge-in), the
user paused (``tentative_silence_s`` of silence: recognition of the utterance so far can
start while the agent still waits), the user resumed, and the user's turn ended
(``end_silence_s`` of silence, or the silence :meth:`Endpointer.end_after` set for this pause
once the words so far were judged complete or not). Thresholds with hysteresis, as Silero's own defaults.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..extras import require
from .assets import silero_vad_path

__all__ = ["WINDOW", "EndpointConfig", "Endpointer", "SileroVad", "VadChange", "VadSignal"]

WINDOW = 512
"""Samples per VAD window at 16 kHz (32 ms)."""
_CONTEXT = 64


class SileroVad:
    """Streaming speech probability, one 512-sample window at a time."""

    def __init__(self, model_path: Path | None = None) -> None:
        onnxruntime = require("onnxruntime", extra="voice", feature="voice activity detection")

        options = onnxruntime.SessionOptions()
        options.inter_op_num_threads = 1
        options.intra_op_num_threads = 1
        options.log_severity_level = 4
        self._session = onnxruntime.InferenceSession(
            str(model_path or silero_vad_path()),
            providers=["CPUExecutionProvider"],
            sess_options=options,
        )
        self.reset()

    def reset(self) -> None:
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros(_CONTEXT, dtype=np.float32)

    def probability(self, window: np.ndarray) -> float:
        if window.shape != (WINDOW,):
            raise ValueError(f"a VAD window is {WINDOW} samples at 16 kHz, got {window.shape}")
        x = np.concatenate([self._context, window.astype(np.float32)])[None, :]
        out, self._h, self._c = self._session.run(None, {"input": x, "h": self._h, "c": self._c})
        self._context = window[-_CONTEXT:].astype(np.float32)
        return float(np.asarray(out).reshape(-1)[0])


@dataclass(frozen=True)
class EndpointConfig:
    threshold: float = 0.5
    """Probability at or above which a window is speech."""
    neg_threshold: float = 0.35
    """Probability below which a window is silence (between the two: no change)."""
    min_speech_s: float = 0.064
    """Speech needed before the user counts as speaking (two windows)."""
    tentative_silence_s: float = 0.16
    """Silence after which the utterance so far is transcribed, in case the turn has ended."""
    end_silence_s: float = 0.5
    """Silence that ends the user's turn."""

    def __post_init__(self) -> None:
        if not 0 < self.neg_threshold <= self.threshold < 1:
            raise ValueError("need 0 < neg_threshold <= threshold < 1")
        if not 0 < self.tentative_silence_s <= self.end_silence_s:
            raise ValueError("need 0 < tentative_silence_s <= end_silence_s")
        if self.min_speech_s <= 0:
            raise ValueError("min_speech_s must be positive")


class VadChange(enum.Enum):
    STARTED = "started"
    PAUSED = "paused"
    RESUMED = "resumed"
    ENDED = "ended"


@dataclass(frozen=True)
class VadSignal:
    change: VadChange
    at_s: float
    """When it happened in the audio: speech start for STARTED, the end of the last speech
    window for PAUSED and ENDED, the resumed window's start for RESUMED."""


class Endpointer:
    """Feeds on (probability, window end time) and says when the user's state changes."""

    def __init__(self, config: EndpointConfig | None = None, window_s: float = WINDOW / 16000):
        self.config = config or EndpointConfig()
        self._window_s = window_s
        self.speaking = False
        self._speech_run = 0
        self._silence_run = 0
        self._paused = False
        self._last_speech_end = 0.0
        self._end_silence: float | None = None

    @property
    def paused(self) -> bool:
        """The user is speaking but has been silent for at least ``tentative_silence_s``."""
        return self.speaking and self._paused

    def end_after(self, seconds: float) -> None:
        """End the turn after ``seconds`` of silence in the current pause (instead of
        ``end_silence_s``); forgotten when the user resumes. Called once the words so far
        have been judged (see :mod:`specagent.voice.turn_end`); if the silence is already
        that long, the next window ends the turn."""
        if seconds <= 0:
            raise ValueError("the end-of-turn silence must be positive")
        if self.paused:
            self._end_silence = seconds

    def feed(self, probability: float, end_s: float) -> list[VadSignal]:
        cfg, w = self.config, self._window_s
        out: list[VadSignal] = []
        if not self.speaking:
            if probability >= cfg.threshold:
                self._speech_run += 1
                if self._speech_run * w >= cfg.min_speech_s - 1e-9:
                    self.speaking = True
                    self._silence_run = 0
                    self._paused = False
                    self._last_speech_end = end_s
                    out.append(VadSignal(VadChange.STARTED, end_s - self._speech_run * w))
            else:
                self._speech_run = 0
            return out
        if probability < cfg.neg_threshold:
            self._silence_run += 1
        elif probability >= cfg.threshold or self._silence_run == 0:
            if self._paused:
                out.append(VadSignal(VadChange.RESUMED, end_s - w))
            self._silence_run = 0
            self._paused = False
            self._end_silence = None
            self._last_speech_end = end_s
            return out
        silence = self._silence_run * w
        if not self._paused and silence >= cfg.tentative_silence_s - 1e-9:
            self._paused = True
            out.append(VadSignal(VadChange.PAUSED, self._last_speech_end))
        end = cfg.end_silence_s if self._end_silence is None else self._end_silence
        if silence >= end - 1e-9:
            self.speaking = False
            self._speech_run = 0
            self._silence_run = 0
            self._paused = False
            self._end_silence = None
            out.append(VadSignal(VadChange.ENDED, self._last_speech_end))
        return out
