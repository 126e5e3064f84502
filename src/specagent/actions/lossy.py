"""Lossy speculation for control loops: the fast guess acts now, the slow decision overwrites.

Some loops need no lossless guarantee, only a good setting soon: a tuner adjusting a live
system's parameter. Here the Speculator's action is *applied at once* (not merely prepared),
and when the Actor decides, its action is applied over it: last write wins, the Actor always
writes last in its step. If the Actor agrees with what is already applied (the guard), nothing
is rewritten. The safety envelope still holds: an action whose effect is irreversible and not
sandboxable is never applied on a guess.

With ``speculator_interval_s`` the Speculator keeps proposing at that interval while the Actor
thinks (a fast inner loop under a slow outer one); otherwise it proposes once per step.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from ..clock import Clock
from .accounting import CallRecord, Fate, Role
from .engine import SpeculationConfigError
from .environment import A, ActionEnvironment, S

__all__ = ["LossyConfig", "LossyResult", "LossyRunner", "LossyWrite"]

T = TypeVar("T")


@dataclass(frozen=True)
class LossyConfig:
    speculate: bool = True
    """False gives the Actor-only baseline."""
    speculator_interval_s: float | None = None
    max_steps: int | None = None

    def __post_init__(self) -> None:
        if self.speculator_interval_s is not None and self.speculator_interval_s <= 0:
            raise SpeculationConfigError("speculator_interval_s must be positive or None")
        if self.max_steps is not None and self.max_steps < 1:
            raise SpeculationConfigError("max_steps must be >= 1 or None")


@dataclass(frozen=True)
class LossyWrite(Generic[A]):
    """One action applied to the system."""

    t_s: float
    source: str
    """``"speculator"`` or ``"actor"``."""
    action: A
    step: int


@dataclass(frozen=True)
class LossyResult(Generic[A]):
    writes: tuple[LossyWrite[A], ...]
    steps: int
    confirmed: int
    """Steps where the Actor agreed with the Speculator's applied action (no overwrite)."""
    overwritten: int
    """Steps where the Actor overwrote a speculative write."""
    held: int
    """Guesses not applied because their effect is unsafe."""
    calls: tuple[CallRecord, ...]
    elapsed_s: float


class LossyRunner(Generic[S, A]):
    def __init__(self, env: ActionEnvironment[S, A], clock: Clock, config: LossyConfig) -> None:
        self.env = env
        self.clock = clock
        self.config = config

    async def run(self, initial: S) -> LossyResult[A]:
        return await _LossyRun(self).run(initial)


class _LossyRun(Generic[S, A]):
    def __init__(self, owner: LossyRunner[S, A]) -> None:
        self.env = owner.env
        self.clock = owner.clock
        self.cfg = owner.config
        self.t0 = 0.0
        self.state: S
        self.writes: list[LossyWrite[A]] = []
        self.calls: list[CallRecord] = []
        self.held = 0
        self.applied: list[A] = []
        """Speculative actions applied during the current step, in order."""

    def now(self) -> float:
        return self.clock.now() - self.t0

    async def _timed(
        self, role: Role, step: int, fate: Fate, call: Callable[[], Awaitable[T]]
    ) -> T:
        rec = CallRecord(role=role, step=step, start_s=self.now(), speculative=False, fate=fate)
        self.calls.append(rec)
        try:
            return await call()
        except asyncio.CancelledError:
            rec.cancelled = True
            raise
        finally:
            rec.end_s = self.now()

    async def _apply(self, action: A, source: str, step: int) -> None:
        """Apply ``action``; a cancelled caller still waits for the write to land."""
        fate = Fate.COMMITTED if source == "actor" else Fate.OVERHEAD
        state = self.state
        write = asyncio.ensure_future(
            self._timed(Role.FOLLOW_UP, step, fate, lambda: self.env.execute(state, action))
        )
        try:
            self.state = await asyncio.shield(write)
        except asyncio.CancelledError:
            await asyncio.wait([write])
            if not write.cancelled() and write.exception() is None:
                self.state = write.result()
            raise
        finally:
            self.writes.append(LossyWrite(self.now(), source, action, step))

    async def _speculate(self, step: int) -> None:
        env = self.env
        while True:
            state = self.state
            guesses = await self._timed(
                Role.SPECULATOR, step, Fate.OVERHEAD, lambda s=state: env.propose(s, 1)
            )
            if guesses:
                guess = guesses[0]
                if not env.envelope(self.state, guess).prelaunchable:
                    self.held += 1
                elif not (self.applied and env.equivalent(self.state, self.applied[-1], guess)):
                    self.applied.append(guess)
                    await self._apply(guess, "speculator", step)
            if self.cfg.speculator_interval_s is None:
                return
            await self.clock.sleep(self.cfg.speculator_interval_s)

    async def run(self, initial: S) -> LossyResult[A]:
        env, cfg = self.env, self.cfg
        self.t0 = self.clock.now()
        self.state = initial
        steps = confirmed = overwritten = 0
        while not env.is_terminal(self.state) and (cfg.max_steps is None or steps < cfg.max_steps):
            self.applied = []
            state = self.state
            async with asyncio.TaskGroup() as tg:
                actor = tg.create_task(
                    self._timed(Role.ACTOR, steps, Fate.COMMITTED, lambda s=state: env.act(s))
                )
                spec = tg.create_task(self._speculate(steps)) if cfg.speculate else None
                action = await actor
                if spec is not None:
                    spec.cancel()
            if self.applied:
                if env.equivalent(self.state, self.applied[-1], action):
                    confirmed += 1
                    steps += 1
                    continue
                overwritten += 1
            await self._apply(action, "actor", steps)
            steps += 1
        return LossyResult(
            writes=tuple(self.writes),
            steps=steps,
            confirmed=confirmed,
            overwritten=overwritten,
            held=self.held,
            calls=tuple(self.calls),
            elapsed_s=self.now(),
        )
