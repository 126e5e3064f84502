"""Speech out: piper (en_US-joe-medium) and the splitter that feeds it as the answer streams.

The agent's answer arrives token by token; waiting for all of it before speaking would add
the whole generation time to the reply latency. :class:`SentenceSplitter` cuts the stream
into speakable pieces as soon as one is complete: a sentence, or a clause ending in a comma,
semicolon or colon once it has ``clause_words`` words (so a long first sentence does not hold
the first audio back). The answer's first piece may be cut shorter still, after
``first_words`` words, so that the first audio waits for a few words rather than a sentence
(the rest of the sentence is written and synthesised while those words play). Each piece is
synthesised on its own, while the next is generated.
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
_WORD_END = re.compile(r"\S+(?=\s)")


class SentenceSplitter:
    """Accumulates streamed text and hands back speakable pieces as they complete."""

    def __init__(self, clause_words: int = 5, first_words: int | None = None) -> None:
        if clause_words < 1:
            raise ValueError("clause_words must be at least 1")
        if first_words is not None and first_words < 1:
            raise ValueError("first_words must be at least 1 (or None)")
        self.clause_words = clause_words
        self.first_words = first_words
        self._buffer = ""
        self._pieces = 0

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
                self._pieces += 1

    def flush(self) -> str | None:
        """What is left at the end of the answer (None if nothing)."""
        piece, self._buffer = self._buffer.strip(), ""
        return piece or None

    def clear(self) -> None:
        """Forget the text so far; the next text starts a new answer."""
        self._buffer = ""
        self._pieces = 0

    def _cut(self) -> int | None:
        m = _SENTENCE_END.search(self._buffer)
        best = m.end() if m else None
        if self._pieces == 0 and self.first_words is not None:
            # The first piece: at the first sentence or clause end, or after ``first_words``
            # whole words (each followed by a space), whichever comes first.
            cuts = [c.end() for c in _CLAUSE_END.finditer(self._buffer)][:1]
            words = list(_WORD_END.finditer(self._buffer))
            if len(words) >= self.first_words:
                cuts.append(words[self.first_words - 1].end())
            if best is not None:
                cuts.append(best)
            return min(cuts, default=None)
        for c in _CLAUSE_END.finditer(self._buffer):
            if best is not None and c.end() >= best:
                break
            if len(self._buffer[: c.end()].split()) >= self.clause_words:
                return c.end()
        return best
