"""How the user's words reach a session: timed speech played on the clock, or a live source.

Each policy hears differently, and that difference lives here (and is asked of the policy,
never tested by name): a streaming policy hears every partial update when it comes; ``sync``
hears each utterance whole at its final update; a policy that hears the whole request up front
(``oracle``) gets it all at the first word's time. ``verified``'s speculator hears only the
partial updates, then silence (:func:`partials_then_silence`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Callable, Sequence

from ..clock import Clock
from ..events import Event, UserSpeech
from .policies import Policy

__all__ = ["feed_live", "feed_timed", "partials_then_silence"]

Emit = Callable[[Event], None]


async def feed_timed(
    clock: Clock, policy: Policy, speech: Sequence[UserSpeech], emit: Emit
) -> None:
    """Play timed speech (absolute clock times) as the policy hears it. Empty ``speech`` (a
    resumed turn that had heard everything) plays nothing."""
    if not speech:
        return
    if policy.hears_request_up_front:
        await clock.sleep_until(speech[0].t)
        emit(UserSpeech(t=clock.now(), text=" ".join(s.text for s in speech), final=True))
    elif policy.streams_partial_speech:
        for chunk in speech:
            await clock.sleep_until(chunk.t)
            emit(UserSpeech(t=clock.now(), text=chunk.text, final=chunk.final))
    else:
        await clock.sleep_until(speech[-1].t)
        emit(UserSpeech(t=clock.now(), text=" ".join(s.text for s in speech), final=True))


async def feed_live(
    clock: Clock, policy: Policy, speech: AsyncIterable[UserSpeech], emit: Emit
) -> None:
    """Pass on updates from a live source as it yields them; a policy that does not stream
    partial speech hears each utterance whole, at its final update."""
    words: list[str] = []
    async for chunk in speech:
        if policy.streams_partial_speech:
            if chunk.text or chunk.final:
                emit(UserSpeech(t=clock.now(), text=chunk.text, final=chunk.final))
            continue
        words.append(chunk.text)
        if chunk.final:
            emit(UserSpeech(t=clock.now(), text=" ".join(w for w in words if w), final=True))
            words = []


async def partials_then_silence(
    clock: Clock, speech: Sequence[UserSpeech]
) -> AsyncIterator[UserSpeech]:
    """The speech before the final update, live (times relative to now), then silence until
    cancelled: what ``verified``'s speculator hears."""
    t0 = clock.now()
    for chunk in speech:
        if chunk.final:
            break
        await clock.sleep_until(t0 + chunk.t)
        yield chunk
    await asyncio.Event().wait()
