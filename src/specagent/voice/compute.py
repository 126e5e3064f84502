"""The one place the voice layer runs blocking engines (Whisper, piper) off the event loop.

Each engine gets one dedicated worker thread, so an engine's native thread pool always sees
the same calling thread and two engines can compute at once (recognition goes on while speech
is synthesised). While a job runs, ``clock.hold()`` freezes a virtual clock; when it returns
its measured wall time is charged to the clock, so on virtual time a result arrives exactly as
late as the real computation made it. On the real clock the time has simply passed.

A job cannot be stopped half-way: a caller that is cancelled waits (inside the hold) for the
job to finish before the cancellation goes on, so nothing computes after its owner is gone.

A worker may instead charge a *modelled* time per job (:class:`EngineCosts`): the engine
still computes for real (its output is real), but a virtual clock advances by the modelled
time, so a test or a study does not depend on how busy the machine happens to be (a Whisper
pass took 0.35 s on an idle machine of this kind and over 1 s with other jobs running).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from ..clock import Clock

__all__ = ["EngineCosts", "Worker"]

T = TypeVar("T")


@dataclass(frozen=True)
class EngineCosts:
    """Modelled compute per job charged on a virtual clock (None: the measured time)."""

    asr_pass_s: float | None = None
    """One Whisper pass (about constant: Whisper pads every input to 30 s)."""
    tts_piece_s: float | None = None
    """Synthesising one answer piece."""

    def __post_init__(self) -> None:
        for name in ("asr_pass_s", "tts_piece_s"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} cannot be negative")


class Worker:
    """One thread for one blocking engine; ``await run(fn, *args)`` -> (result, seconds).

    ``seconds`` is the measured compute; ``charge_s`` (if given) is what a virtual clock is
    charged per job instead."""

    def __init__(self, clock: Clock, name: str, *, charge_s: float | None = None) -> None:
        self._clock = clock
        self._charge_s = charge_s
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix=name)
        self.jobs = 0
        self.busy_s = 0.0

    async def run(self, fn: Callable[..., T], *args: object) -> tuple[T, float]:
        def timed() -> tuple[T, float]:
            start = time.perf_counter()
            result = fn(*args)
            return result, time.perf_counter() - start

        loop = asyncio.get_running_loop()
        with self._clock.hold():
            future = loop.run_in_executor(self._pool, timed)
            try:
                result, seconds = await asyncio.shield(future)
            except asyncio.CancelledError:
                await asyncio.wait([future])
                raise
        self.jobs += 1
        self.busy_s += seconds
        if self._clock.is_virtual:
            await self._clock.sleep(seconds if self._charge_s is None else self._charge_s)
        return result, seconds

    def close(self) -> None:
        """Stop the thread (after the job in flight, if any)."""
        self._pool.shutdown(wait=True)
