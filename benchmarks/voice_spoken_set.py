"""The spoken set for the voice benchmarks: requests, voices, and the audio made from them.

Eighteen requests to the example assistant (``specagent.envs.assistant``): eight it can answer
without a tool, ten that need one (read-only tools: weather, flights, restaurants,
calendar). Six of them hold a pause in the middle, the case that decides how soon a turn may
be taken as over: after words that need more ("Book a table for ... two"), or after a whole
sentence that the user then continues ("I need to send a message to Sam. ... Tell him").

Voices, all offline: piper ``en_US-joe-medium`` (the package the voice layer speaks with)
and three espeak-ng voices (US male, British male, US female variant). A pause is written
``|0.6|`` in the text: the parts around it are synthesised separately and joined with that
much silence, so every voice makes the same pause.

Word error rate (:func:`wer`) compares words lower-cased, without punctuation, with "'m"
and similar contractions spelt out, so "I'm" and "I am" count as the same words.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from specagent.voice.audio import Audio, read_wav
from specagent.voice.tts import PiperTts

__all__ = ["REQUESTS", "VOICES", "SpokenRequest", "plain_text", "synthesise", "wer"]


@dataclass(frozen=True)
class SpokenRequest:
    id: str
    text: str
    """What is said; ``|S|`` marks a pause of S seconds."""
    tool: str | None
    """The tool the request needs (None: answered without one)."""


REQUESTS: list[SpokenRequest] = [
    SpokenRequest("thanks", "Thank you, that is all for now.", None),
    SpokenRequest("greeting", "Good morning, how are you today?", None),
    SpokenRequest("help", "What can you help me with?", None),
    SpokenRequest("joke", "Tell me a short joke.", None),
    SpokenRequest("moon", "Tell me something interesting about the moon.", None),
    SpokenRequest("bye", "Thanks a lot. Goodbye.", None),
    SpokenRequest("slower", "Could you |0.7| speak a little more slowly?", None),
    SpokenRequest("name", "What is your name?", None),
    SpokenRequest("weather-boston", "What is the weather in Boston on Friday?", "get_weather"),
    SpokenRequest(
        "weather-paris", "What will the weather be like in Paris tomorrow?", "get_weather"
    ),
    SpokenRequest("rain-london", "Is it going to rain in London today?", "get_weather"),
    SpokenRequest("flights", "Find flights from New York to Denver on Friday.", "search_flights"),
    SpokenRequest("restaurant", "Find a French restaurant in Paris.", "find_restaurants"),
    SpokenRequest("calendar", "What is on my calendar for Friday?", "get_calendar"),
    SpokenRequest("weather-pause", "What is the weather in |0.8| Tokyo on Monday?", "get_weather"),
    SpokenRequest(
        "flights-pause", "Find me a flight to |0.9| Denver from Boston on Sunday.", "search_flights"
    ),
    SpokenRequest(
        "weather-then",
        "I am going to Denver. |0.4| What will the weather be there on Friday?",
        "get_weather",
    ),
    SpokenRequest(
        "restaurant-then",
        "I am in Tokyo today. |0.35| Can you find me a Japanese restaurant?",
        "find_restaurants",
    ),
]

VOICES: dict[str, tuple[str, ...]] = {
    "piper-joe": (),
    "espeak-us": ("-v", "en-us", "-s", "160"),
    "espeak-gb": ("-v", "en-gb", "-s", "150"),
    "espeak-us-f3": ("-v", "en-us+f3", "-s", "165"),
}
"""Voice name -> espeak-ng options (piper-joe: the piper voice)."""

_PAUSE = re.compile(r"\|([0-9.]+)\|")


def plain_text(text: str) -> str:
    """The words of a request, without pause marks."""
    return " ".join(_PAUSE.sub(" ", text).split())


def _espeak(text: str, options: tuple[str, ...]) -> Audio:
    if shutil.which("espeak-ng") is None:
        raise RuntimeError("espeak-ng is missing: apt-get install espeak-ng")
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "s.wav"
        subprocess.run(["espeak-ng", *options, "-w", str(path), text], check=True)
        return read_wav(path)


def synthesise(text: str, voice: str, piper: PiperTts | None = None) -> Audio:
    """``text`` spoken by ``voice`` (16 kHz), pauses made of silence."""
    if voice not in VOICES:
        raise ValueError(f"unknown voice {voice!r}; known: {', '.join(VOICES)}")
    pieces = _PAUSE.split(text)
    out: list[np.ndarray] = []
    for i, piece in enumerate(pieces):
        if i % 2:  # a pause length
            out.append(np.zeros(round(float(piece) * 16000), np.float32))
            continue
        if not piece.strip():
            continue
        if voice == "piper-joe":
            audio = (piper or PiperTts()).synthesize(piece.strip())
        else:
            audio = _espeak(piece.strip(), VOICES[voice])
        out.append(_trim(audio.resampled(16000).samples))
    return Audio(np.concatenate(out), 16000)


def _trim(samples: np.ndarray, floor: float = 1e-3) -> np.ndarray:
    """Cut the silence a synthesiser leaves before and after a piece (so a pause is the
    length asked for)."""
    loud = np.flatnonzero(np.abs(samples) > floor)
    if not len(loud):
        return samples
    return samples[max(0, loud[0] - 160) : loud[-1] + 160]


_CONTRACTIONS = {"i'm": "i am", "it's": "it is", "what's": "what is", "that's": "that is"}


def _words(text: str) -> list[str]:
    words = []
    for w in re.findall(r"[a-z0-9']+", plain_text(text).lower()):
        words += _CONTRACTIONS.get(w, w).split()
    return words


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate: (substitutions + deletions + insertions) / reference words."""
    r, h = _words(reference), _words(hypothesis)
    d = np.zeros((len(r) + 1, len(h) + 1), dtype=int)
    d[:, 0] = np.arange(len(r) + 1)
    d[0, :] = np.arange(len(h) + 1)
    for i in range(1, len(r) + 1):
        for j in range(1, len(h) + 1):
            d[i, j] = min(
                d[i - 1, j] + 1, d[i, j - 1] + 1, d[i - 1, j - 1] + (r[i - 1] != h[j - 1])
            )
    return float(d[len(r), len(h)] / max(1, len(r)))
