"""Speech out: piper (en_US-joe-medium) and the splitter that feeds it as the answer streams.

The agent's answer arrives token by token; waiting for all of it before speaking would add
the whole generation time to the reply latency. :class:`SentenceSplitter` cuts the stream
into speakable pieces as soon as one is complete: a sentence, or a clause ending in a comma,
semicolon or colon once it has ``clause_words`` words (so a long first sentence does not hold
the first audio back). Each piece is synthesised on its own, while the next is generated.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..extras import require
from .assets import piper_voice_paths
from .audio import Audio

__all__ = ["PiperTts", "SentenceSplitter"]


class PiperTts:
    """Text to 22.05 kHz speech with the bundled piper voice; blocking (use a Worker)."""

    def __init__(self, model: Path | None = None, config: Path | None = None) -> None:
        PiperVoice = require("piper", extra="voice", feature="speech synthesis").PiperVoice

        if model is None:
            model, config = piper_voice_paths()
        self._voice = PiperVoice.load(str(model), config_path=str(config) if config else None)
        self.rate = int(self._voice.config.sample_rate)

    def synthesize(self, text: str) -> Audio:
        pieces = [chunk.audio_float_array for chunk in self._voice.synthesize(text)]
        samples = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)
        return Audio(samples.astype(np.float32), self.rate)


_SENTENCE_END = re.compile(r"[.!?]+[\"')\]]*(?=\s)")
_CLAUSE_END = re.compile(r"[,;:](?=\s)")


class SentenceSplitter:
    """Accumulates streamed text and hands back speakable pieces as they complete."""

    def __init__(self, clause_words: int = 5) -> None:
        if clause_words < 1:
            raise ValueError("clause_words must be at least 1")
        self.clause_words = clause_words
        self._buffer = ""

    def push(self, delta: str) -> list[str]:
        self._buffer += delta
        out: list[str] = []
        while True:
            cut = self._cut()
            if cut is None:
                return out
            piece, self._buffer = self._buffer[:cut].strip(), self._buffer[cut:]
            if piece:
                out.append(piece)

    def flush(self) -> str | None:
        """What is left at the end of the answer (None if nothing)."""
        piece, self._buffer = self._buffer.strip(), ""
        return piece or None

    def clear(self) -> None:
        self._buffer = ""

    def _cut(self) -> int | None:
        m = _SENTENCE_END.search(self._buffer)
        best = m.end() if m else None
        for c in _CLAUSE_END.finditer(self._buffer):
            if best is not None and c.end() >= best:
                break
            if len(self._buffer[: c.end()].split()) >= self.clause_words:
                return c.end()
        return best
