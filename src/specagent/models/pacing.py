"""Charging a backend's streamed pieces to the clock: the one place backends spend time.

A backend measures what each piece really cost (compute, or a network wait) and hands it here;
the latency profile decides what the clock is charged (see :mod:`specagent.profiles`).
"""

from __future__ import annotations

from ..clock import Clock
from ..profiles import LatencyProfile, ModelledProfile

__all__ = ["charge_piece", "charge_end"]


def _seconds(
    clock: Clock, profile: LatencyProfile | None, measured_s: float, first: bool, prompt_tokens: int
) -> float:
    if isinstance(profile, ModelledProfile):
        return profile.prefill_s(prompt_tokens) if first else profile.decode_s()
    # Measured: on the virtual clock the real cost must be charged; on the real clock it has
    # already passed.
    return measured_s if clock.is_virtual else 0.0


async def charge_piece(
    clock: Clock,
    profile: LatencyProfile | None,
    measured_s: float,
    *,
    first: bool,
    prompt_tokens: int,
) -> float:
    """Sleep the clock time one piece costs; return the seconds charged."""
    dt = _seconds(clock, profile, measured_s, first, prompt_tokens)
    await clock.sleep(dt)
    return dt


async def charge_end(
    clock: Clock,
    profile: LatencyProfile | None,
    measured_s: float,
    *,
    pieces: int,
    prompt_tokens: int,
) -> float:
    """Charge the end of a stream: the end-of-turn token's measured cost, or, if the stream
    showed nothing at all, what its first piece would have cost. Modelled profiles charge no
    extra time for the end of a stream that showed pieces."""
    if pieces and isinstance(profile, ModelledProfile):
        return 0.0
    return await charge_piece(
        clock, profile, measured_s, first=pieces == 0, prompt_tokens=prompt_tokens
    )
