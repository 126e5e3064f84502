"""Turns a written request into the timed partial updates a listener would receive.

Words are spoken at a steady rate (default 150 words a minute, an ordinary conversational
pace) and delivered in chunks of a few words, each at the moment its last word ends. The last
chunk is the final update: its time is the user's last word, from which latency is measured.
"""

from __future__ import annotations

from ..events import UserSpeech

__all__ = ["simulate_speech", "DEFAULT_WPM"]

DEFAULT_WPM = 150.0


def simulate_speech(
    text: str,
    *,
    words_per_minute: float = DEFAULT_WPM,
    chunk_words: int = 3,
    start_s: float = 0.0,
) -> list[UserSpeech]:
    """Split ``text`` into timed :class:`UserSpeech` chunks ending with a final one."""
    if words_per_minute <= 0:
        raise ValueError("words_per_minute must be positive")
    if chunk_words < 1:
        raise ValueError("chunk_words must be at least 1")
    words = text.split()
    if not words:
        raise ValueError("cannot simulate speech of an empty request")
    seconds_per_word = 60.0 / words_per_minute
    chunks: list[UserSpeech] = []
    for i in range(0, len(words), chunk_words):
        piece = words[i : i + chunk_words]
        end_word = i + len(piece)
        chunks.append(
            UserSpeech(
                t=round(start_s + end_word * seconds_per_word, 9),
                text=" ".join(piece),
                final=end_word == len(words),
            )
        )
    return chunks
