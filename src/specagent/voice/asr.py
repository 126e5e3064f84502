"""Speech recognition: Whisper tiny.en (faster-whisper, CTranslate2, int8 on CPU).

Whisper is not a streaming model; partial transcripts come from re-transcribing the growing
utterance (see :mod:`specagent.voice.listener` for when, and ``docs/voice.md`` for why this
and not pocketsphinx's native partials). :func:`agreed_words` is the stability rule for those
partials: a word is passed on to the agent once two successive hypotheses agree on it
(local agreement), so the agent is rarely told a word that the next pass takes back.

Each pass also says how sure Whisper was (:class:`Transcript`): the mean log-probability of
the tokens it wrote and the probability that the audio held no speech. Words below
:data:`WHISPER_LOG_PROB_THRESHOLD` are not acted on: the voice agent asks the user to say them
again (:mod:`specagent.voice.unclear`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..extras import require
from .assets import offline, whisper_model_dir

__all__ = [
    "WHISPER_LOG_PROB_THRESHOLD",
    "Transcript",
    "WhisperAsr",
    "agreed_words",
    "hear",
    "same_word",
    "vocabulary_prompt",
    "whisper_prompt",
]

WHISPER_LOG_PROB_THRESHOLD = -1.0
"""Whisper's own line between a decode it trusts and one it counts as failed: OpenAI
Whisper's ``transcribe(logprob_threshold=-1.0)`` and faster-whisper's
``transcribe(log_prob_threshold=-1.0)`` treat a segment whose average token log-probability
is below -1.0 as a failed decode (they retry it at a higher temperature, or, when its
no-speech probability is also above 0.6, drop it as silence). Taken as is, not tuned here."""


@dataclass(frozen=True)
class Transcript:
    """What one Whisper pass heard, and how sure it was."""

    text: str
    avg_logprob: float | None
    """Mean log-probability of the tokens written (each segment's ``avg_logprob`` weighted
    by its length in tokens, end-of-text included, as Whisper averages them); None: no
    segment (silence, too short, or an engine that reports no confidence)."""
    no_speech_prob: float | None
    """The highest of the segments' probabilities that their audio held no speech."""

    def below(self, threshold: float | None) -> bool:
        """Too unsure to act on: the mean log-probability is below ``threshold`` (None:
        never). Words with no confidence at all (no segment) are not judged."""
        if threshold is None or self.avg_logprob is None:
            return False
        return self.avg_logprob < threshold

    @classmethod
    def from_segments(cls, segments: list[Any]) -> Transcript:
        """From faster-whisper's segments (``text``, ``tokens``, ``avg_logprob``,
        ``no_speech_prob``)."""
        text = " ".join(s.text.strip() for s in segments).strip()
        if not segments:
            return cls(text, None, None)
        weights = [len(s.tokens) + 1 for s in segments]  # Whisper divides by tokens + 1
        total = sum(w * s.avg_logprob for w, s in zip(weights, segments, strict=True))
        return cls(text, total / sum(weights), max(s.no_speech_prob for s in segments))


class WhisperAsr:
    """Transcribes 16 kHz mono float32 audio; blocking (run it through a Worker)."""

    def __init__(
        self,
        model_dir: Path | None = None,
        *,
        cpu_threads: int = 2,
        beam_size: int = 5,
        prompt: str | None = None,
    ) -> None:
        """``beam_size``: Whisper's beam (1: greedy). A beam of 5 heard the spoken set with
        a quarter fewer word errors than greedy decoding in the same time a pass (tiny.en,
        docs/voice.md "Hear right"), so it is the default. ``prompt``: words to expect (e.g. the
        tools' and places' names), given to Whisper as the text before the audio. A
        multilingual model (Whisper base) is held to English."""
        offline()
        if beam_size < 1:
            raise ValueError("beam_size must be at least 1")
        self.beam_size = beam_size
        self.prompt = prompt
        WhisperModel = require(
            "faster_whisper", extra="voice", feature="speech recognition"
        ).WhisperModel

        self.model_dir = model_dir or whisper_model_dir()
        self._model = WhisperModel(
            str(self.model_dir), device="cpu", compute_type="int8", cpu_threads=cpu_threads
        )

    def transcribe(self, samples: np.ndarray, prompt: str | None = None) -> str:
        """The words in ``samples``; ``prompt`` (else the one given at construction) is the
        text Whisper takes as said before the audio."""
        return self.hear(samples, prompt).text

    def hear(self, samples: np.ndarray, prompt: str | None = None) -> Transcript:
        """The words in ``samples`` with Whisper's confidence in them (see
        :meth:`transcribe` for ``prompt``)."""
        if len(samples) < 1600:  # under 0.1 s: nothing Whisper can read
            return Transcript("", None, None)
        segments, _ = self._model.transcribe(
            samples.astype(np.float32),
            language="en",
            beam_size=self.beam_size,
            best_of=1,
            initial_prompt=self.prompt if prompt is None else prompt,
            temperature=0.0,
            without_timestamps=True,
            condition_on_previous_text=False,
            vad_filter=False,
        )
        return Transcript.from_segments(list(segments))


def hear(asr: Any, samples: np.ndarray, prompt: str | None = None) -> Transcript:
    """``asr.hear`` if the recogniser reports its confidence, else its ``transcribe`` words
    with none (such words are never judged unclear)."""
    scored = getattr(asr, "hear", None)
    if scored is not None:
        return scored(samples, prompt) if prompt is not None else scored(samples)
    text = asr.transcribe(samples, prompt) if prompt is not None else asr.transcribe(samples)
    return Transcript(text, None, None)


def vocabulary_prompt(tool_names: list[str]) -> str:
    """A prompt naming what the agent's tools deal in ("Get weather. Search flights. ..."),
    so Whisper expects those words. On the spoken set it lowered tiny.en's word error rate at
    no cost per pass (docs/voice.md, "Hear right")."""
    phrases = [" ".join(name.split("_")).capitalize() + "." for name in tool_names]
    return " ".join(phrases)


def whisper_prompt(tool_names: list[str], vocabulary: bool | str) -> str | None:
    """The prompt a voice agent gives Whisper: nothing (``False``), the tools' names
    (``True``), or those followed by the words an application expects its users to say (a
    string: "Boston, Denver, Dr. Okafor."). On the spoken set, the tools' names alone
    removed few errors and a list of the places and days said removed a quarter of them."""
    if vocabulary is False:
        return None
    words = vocabulary_prompt(tool_names)
    if isinstance(vocabulary, str) and vocabulary.strip():
        words = f"{words} {vocabulary.strip()}".strip()
    return words or None


_WORD_RE = re.compile(r"[^a-z0-9']+")


def same_word(a: str, b: str) -> bool:
    """Equal ignoring case and punctuation (Whisper moves commas between passes)."""
    return _WORD_RE.sub("", a.lower()) == _WORD_RE.sub("", b.lower())


def agreed_words(previous: list[str], current: list[str]) -> list[str]:
    """The longest common prefix of two hypotheses (words of ``current``)."""
    n = 0
    for a, b in zip(previous, current, strict=False):
        if not same_word(a, b):
            break
        n += 1
    return current[:n]
