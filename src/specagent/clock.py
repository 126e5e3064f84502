"""The one source of time.

Every component reads time and waits through a :class:`Clock`, so the same agent code runs in
wall-clock time (:class:`RealClock`) or in simulated time (:class:`VirtualClock`).

The virtual clock is a discrete-event clock built into the asyncio event loop itself: when no
task is ready and no real I/O is pending, the loop jumps straight to the next timer instead of
waiting. ``asyncio.sleep``, ``asyncio.timeout`` and friends therefore all run on virtual time,
and a 30-second conversation simulates in milliseconds, deterministically.

Real work that happens outside the loop (a llama.cpp token computed in a thread, an HTTP call to
a model server) must not let virtual time run ahead while it is in flight: wrap it in
``with clock.hold():`` and the virtual loop waits for it in real time with the clock frozen.
The model layer then charges the measured cost explicitly (see :mod:`specagent.profiles`).
"""

from __future__ import annotations

import asyncio
import contextlib
import selectors
from abc import ABC, abstractmethod
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

from .errors import SpecagentError

T = TypeVar("T")

__all__ = ["Clock", "RealClock", "VirtualClock", "ClockError"]


class ClockError(SpecagentError, RuntimeError):
    """A clock was used outside the event loop it belongs to."""


class Clock(ABC):
    """Reads time and waits. ``now()`` is seconds since the clock's origin."""

    def now(self) -> float:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError as exc:  # pragma: no cover - programming error
            raise ClockError("Clock.now() needs a running event loop; use clock.run(...)") from exc
        return loop.time() - self._origin_for(loop)

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time (no-op for zero or negative)."""
        if seconds > 0:
            await asyncio.sleep(seconds)
        else:
            await asyncio.sleep(0)

    async def sleep_until(self, t: float) -> None:
        """Wait until ``now() >= t``."""
        await self.sleep(t - self.now())

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Freeze simulated time while real work outside the loop is in flight.

        A no-op on the real clock, where time passes anyway.
        """
        yield

    @property
    @abstractmethod
    def is_virtual(self) -> bool: ...

    @abstractmethod
    def run(self, main: Coroutine[Any, Any, T]) -> T:
        """Run ``main`` to completion on an event loop driven by this clock."""

    @abstractmethod
    def _origin_for(self, loop: asyncio.AbstractEventLoop) -> float: ...


class RealClock(Clock):
    """Wall-clock time: the asyncio loop's own monotonic time."""

    def __init__(self) -> None:
        self._origins: dict[int, float] = {}

    @property
    def is_virtual(self) -> bool:
        return False

    def _origin_for(self, loop: asyncio.AbstractEventLoop) -> float:
        return self._origins.setdefault(id(loop), loop.time())

    def run(self, main: Coroutine[Any, Any, T]) -> T:
        return asyncio.run(main)


class _VirtualSelector(selectors.DefaultSelector):  # type: ignore[misc,valid-type]
    """A selector that advances virtual time instead of blocking on timers."""

    def __init__(self, clock: VirtualClock) -> None:
        super().__init__()
        self._clock = clock

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if self._clock._holds:
            # Real work is in flight: wait for it in real time, clock frozen.
            return super().select(0 if timeout == 0 else None)
        ready = super().select(0)
        if ready or timeout == 0:
            return ready
        if timeout is None:
            # Nothing scheduled and nothing held: only real I/O can wake us.
            return super().select(None)
        self._clock._now += timeout
        return []


class _VirtualEventLoop(asyncio.SelectorEventLoop):
    def __init__(self, clock: VirtualClock) -> None:
        super().__init__(selector=_VirtualSelector(clock))
        self._vclock = clock

    def time(self) -> float:
        return self._vclock._now


class VirtualClock(Clock):
    """Discrete-event simulated time; starts at ``start_s`` (0.0) and jumps to the next timer
    when idle. A resumed session starts its clock where its ledger ended."""

    def __init__(self, start_s: float = 0.0) -> None:
        self._now = float(start_s)
        self._holds = 0

    @property
    def is_virtual(self) -> bool:
        return True

    def _origin_for(self, loop: asyncio.AbstractEventLoop) -> float:
        if not isinstance(loop, _VirtualEventLoop) or loop._vclock is not self:
            raise ClockError("this VirtualClock is read outside its own loop; use clock.run(...)")
        return 0.0

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        self._holds += 1
        try:
            yield
        finally:
            self._holds -= 1

    def new_loop(self) -> asyncio.AbstractEventLoop:
        return _VirtualEventLoop(self)

    def run(self, main: Coroutine[Any, Any, T]) -> T:
        with asyncio.Runner(loop_factory=self.new_loop) as runner:
            return runner.run(main)
