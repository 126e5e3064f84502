"""The session's priority event queue.

Events are taken most urgent first (interrupt > user speech > tool result > timer), and in
arrival order within one priority, so the order in which simultaneous events reach the model is
written down here rather than emerging from task scheduling.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools

from ..events import (
    Event,
    Interrupt,
    ToolCallCancelled,
    ToolCallFailed,
    ToolCallFinished,
    UserSpeech,
)

__all__ = ["Inbox", "priority_of"]


def priority_of(event: Event) -> int:
    """Smaller is more urgent."""
    if isinstance(event, Interrupt):
        return 0
    if isinstance(event, UserSpeech):
        return 1
    if isinstance(event, (ToolCallFinished, ToolCallFailed, ToolCallCancelled)):
        return 2
    return 3


class Inbox:
    """A priority queue of events with a non-destructive look at what is waiting."""

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, Event]] = []
        self._seq = itertools.count()
        self._arrived = asyncio.Event()

    def put(self, event: Event) -> None:
        heapq.heappush(self._heap, (priority_of(event), next(self._seq), event))
        self._arrived.set()

    def __len__(self) -> int:
        return len(self._heap)

    def peek(self) -> Event | None:
        return self._heap[0][2] if self._heap else None

    def pop(self) -> Event:
        event = heapq.heappop(self._heap)[2]
        if not self._heap:
            self._arrived.clear()
        return event

    def drain(self) -> list[Event]:
        """Everything waiting, most urgent first."""
        out = [self.pop() for _ in range(len(self._heap))]
        return out

    async def wait(self) -> None:
        """Return once at least one event is waiting."""
        while not self._heap:
            self._arrived.clear()
            await self._arrived.wait()
