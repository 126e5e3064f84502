"""A live speech source: recognised or received words, put in as they come, read by a session.

A :class:`~specagent.agent.session.Session` reads a turn's speech from any async iterator of
:class:`~specagent.events.UserSpeech`. A simulated request is a list; live speech (the voice
layer's recogniser, a client over a WebSocket) arrives while the session runs, so it goes
through this queue. What the session never read is taken back to open the next turn.
"""

from __future__ import annotations

import asyncio
import collections

from ..events import UserSpeech

__all__ = ["LiveSpeech"]


class LiveSpeech:
    """An async iterator of recognised speech, fed by the listener, read by a session."""

    def __init__(self) -> None:
        self._items: collections.deque[UserSpeech] = collections.deque()
        self._changed = asyncio.Event()
        self._closed = False
        self.taken = 0

    def put(self, speech: UserSpeech) -> None:
        if self._closed:
            raise RuntimeError("speech put into a closed LiveSpeech")
        self._items.append(speech)
        self._changed.set()

    def close(self) -> None:
        """No more speech will come; the reader still gets what is waiting, then stops."""
        self._closed = True
        self._changed.set()

    def leftovers(self) -> list[UserSpeech]:
        """Close, and take back what the reader never took (it opens the next turn)."""
        self.close()
        left = list(self._items)
        self._items.clear()
        return left

    @property
    def closed(self) -> bool:
        return self._closed

    def __aiter__(self) -> LiveSpeech:
        return self

    async def __anext__(self) -> UserSpeech:
        while not self._items:
            if self._closed:
                raise StopAsyncIteration
            self._changed.clear()
            await self._changed.wait()
        self.taken += 1
        return self._items.popleft()
