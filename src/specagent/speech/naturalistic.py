"""Naturalistic speech: the same request said the way people talk, deterministic by seed.

People do not speak a request as it is written. They say "um", stop to think, restart a phrase
and correct themselves ("at seven, no, at eight"). A benchmark that only streams clean text
flatters a speculative agent, which starts work on early words; one that includes these
disfluencies tests whether it recovers. :func:`naturalise` rewrites the word sequence and
returns the pauses to insert; :func:`simulate_natural_speech` times it like
:func:`~specagent.speech.simulate_speech`.

Self-corrections only ever touch numbers (a wrong number said first, then the right one), so
the request keeps its meaning: the corrected value is always the last one said.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from ..events import UserSpeech

__all__ = ["NaturalStyle", "naturalise", "simulate_natural_speech"]

_FILLERS = ("um", "uh", "er", "you know", "like")
_NUMBER = re.compile(r"^(\d+)([.,!?]?)$")


@dataclass(frozen=True)
class NaturalStyle:
    """How disfluent the speaker is (probabilities per word, pause lengths in seconds)."""

    filler_p: float = 0.06
    hesitation_p: float = 0.05
    hesitation_s: tuple[float, float] = (0.3, 0.9)
    restart_p: float = 0.03
    correction_p: float = 0.5
    """Chance that a number is first said wrong and then corrected."""


@dataclass(frozen=True)
class _Word:
    text: str
    pause_before_s: float = 0.0


def naturalise(text: str, seed: int, style: NaturalStyle = NaturalStyle()) -> list[_Word]:
    """The words actually spoken, with a pause before some of them."""
    rng = random.Random(f"natural:{seed}:{text}")
    words = text.split()
    out: list[_Word] = []
    for index, word in enumerate(words):
        pause = 0.0
        if index and rng.random() < style.hesitation_p:
            pause = rng.uniform(*style.hesitation_s)
        if index and rng.random() < style.filler_p:
            out.append(_Word(f"{rng.choice(_FILLERS)},", pause))
            pause = 0.0
        if index >= 2 and rng.random() < style.restart_p:
            # "book a, book a table": repeat the last two words after a short stop
            out.append(_Word(out[-2].text, 0.2))
            out.append(_Word(out[-2].text))
        number = _NUMBER.match(word)
        if number and rng.random() < style.correction_p:
            wrong = str(int(number.group(1)) + rng.choice((-1, 1, 2)))
            out.append(_Word(f"{wrong},", pause))
            out.append(_Word("no,"))
            out.append(_Word("sorry,"))
            pause = 0.25
        out.append(_Word(word, pause))
    return out


def simulate_natural_speech(
    text: str,
    *,
    seed: int = 0,
    words_per_minute: float = 150.0,
    chunk_words: int = 3,
    style: NaturalStyle = NaturalStyle(),
) -> list[UserSpeech]:
    """Timed partial updates of the naturalised request (the last one final)."""
    if words_per_minute <= 0:
        raise ValueError("words_per_minute must be positive")
    if chunk_words < 1:
        raise ValueError("chunk_words must be at least 1")
    spoken = naturalise(text, seed, style)
    if not spoken:
        raise ValueError("cannot simulate speech of an empty request")
    per_word = 60.0 / words_per_minute
    t = 0.0
    ends: list[float] = []
    for word in spoken:
        t += word.pause_before_s + per_word
        ends.append(t)
    chunks: list[UserSpeech] = []
    for i in range(0, len(spoken), chunk_words):
        piece = spoken[i : i + chunk_words]
        last = i + len(piece) - 1
        chunks.append(
            UserSpeech(
                t=round(ends[last], 9),
                text=" ".join(w.text for w in piece),
                final=last == len(spoken) - 1,
            )
        )
    return chunks
