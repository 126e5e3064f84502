"""The Actor/Speculator engine: speculative actions that commit only what the Actor decides.

While the Actor computes step *t*, the Speculator proposes its top-*k* guesses; for each guess
whose follow-up the safety envelope allows, the follow-up call (and, by default, the next
Actor call on the state it leads to) is launched at once, on a *branch*. When the Actor
decides, the semantic guard (:meth:`ActionEnvironment.equivalent`) picks the first matching
guess: that branch is committed and becomes the main line, every other branch is cancelled
and awaited (reversible effects are compensated); on a miss everything speculative is
discarded and the follow-up runs as it would have sequentially. With ``depth`` above 1 the
branches speculate in turn, so a chain of correct guesses runs further ahead.

The committed actions are exactly those of a sequential run (``k = 0``), provided the
environment's Actor is a function of its state: the Actor alone decides, a guess only ever
decides *when* a follow-up starts. Structured concurrency: every task lives in one
:class:`asyncio.TaskGroup`; a task's failure is captured rather than tearing the group down,
so a failing speculative branch is just a wasted branch, while a failure on the main line
surfaces exactly as it would sequentially. When :meth:`ActionSpeculator.run` returns or
raises, nothing it started is still running.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from ..clock import Clock
from ..errors import SpecagentError
from .accounting import CallRecord, Fate, Role, RunResult, StepRecord
from .environment import A, ActionEnvironment, Envelope, S

__all__ = ["ActionSpeculator", "SpeculationConfig", "SpeculationConfigError"]

T = TypeVar("T")


class SpeculationConfigError(SpecagentError, ValueError):
    """A speculation setting is out of range."""


@dataclass(frozen=True)
class SpeculationConfig:
    """How far the engine may run ahead of the Actor.

    ``k = 0`` or ``depth = 0`` is the sequential baseline: no Speculator call is made.
    """

    k: int = 3
    """Guesses per step."""
    depth: int = 1
    """Levels of speculation: 1 pre-launches the follow-ups of guesses of the current step;
    2 also guesses, on each branch, the step after, and so on."""
    prelaunch_actor: bool = True
    """A branch also starts the next Actor call on the state its follow-up leads to."""
    max_steps: int | None = None
    """Stop after this many committed steps (None: run to a terminal state)."""

    def __post_init__(self) -> None:
        if self.k < 0:
            raise SpeculationConfigError(f"k must be >= 0, got {self.k}")
        if self.depth < 0:
            raise SpeculationConfigError(f"depth must be >= 0, got {self.depth}")
        if self.max_steps is not None and self.max_steps < 1:
            raise SpeculationConfigError(f"max_steps must be >= 1 or None, got {self.max_steps}")

    @property
    def sequential(self) -> bool:
        return self.k == 0 or self.depth == 0


@dataclass
class _Outcome(Generic[T]):
    """A call's value or the exception it raised (kept out of the task group)."""

    value: Any = None
    error: BaseException | None = None

    def get(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.value


class ActionSpeculator(Generic[S, A]):
    """Runs an :class:`ActionEnvironment` with speculation on ``clock``."""

    def __init__(
        self,
        env: ActionEnvironment[S, A],
        clock: Clock,
        config: SpeculationConfig | None = None,
    ) -> None:
        self.env = env
        self.clock = clock
        self.config = config or SpeculationConfig()

    async def run(
        self,
        initial: S,
        *,
        on_step: Callable[[StepRecord[A]], None] | None = None,
    ) -> RunResult[A]:
        """Play from ``initial`` until a terminal state or the step limit."""
        return await _Run(self, on_step).main(initial)


class _Run(Generic[S, A]):
    """The state of one run: its task group, call records and the current main-line node."""

    def __init__(
        self,
        owner: ActionSpeculator[S, A],
        on_step: Callable[[StepRecord[A]], None] | None,
    ) -> None:
        self.env = owner.env
        self.clock = owner.clock
        cfg = owner.config
        self.k = 0 if cfg.sequential else cfg.k
        self.depth = 0 if cfg.sequential else cfg.depth
        self.prelaunch_actor = cfg.prelaunch_actor
        self.max_steps = cfg.max_steps
        self.on_step = on_step
        self.calls: list[CallRecord] = []
        self.tg: asyncio.TaskGroup | None = None

    # -- calls ------------------------------------------------------------------------------

    def record(self, role: Role, step: int, *, speculative: bool) -> CallRecord:
        rec = CallRecord(role=role, step=step, start_s=self.clock.now(), speculative=speculative)
        if role in (Role.SPECULATOR, Role.COMPENSATION):
            rec.fate = Fate.OVERHEAD
        self.calls.append(rec)
        return rec

    async def timed(self, rec: CallRecord, call: Callable[[], Awaitable[T]]) -> _Outcome[T]:
        """Await ``call()``, stamping ``rec``; exceptions are captured, cancellation is not.

        ``call`` is a factory so that a call cancelled before it starts is never created.
        """
        try:
            return _Outcome(value=await call())
        except asyncio.CancelledError:
            rec.cancelled = True
            raise
        except Exception as exc:  # noqa: BLE001 - handed to whoever uses the outcome
            rec.error = f"{type(exc).__name__}: {exc}"
            return _Outcome(error=exc)
        finally:
            rec.end_s = self.clock.now()

    def spawn(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        assert self.tg is not None
        return self.tg.create_task(coro)

    def spawn_call(
        self, rec: CallRecord, call: Callable[[], Awaitable[T]]
    ) -> asyncio.Task[_Outcome[T]]:
        return self.closing(rec, self.spawn(self.timed(rec, call)))

    def closing(self, rec: CallRecord, task: asyncio.Task[T]) -> asyncio.Task[T]:
        """Stamp ``rec`` even if ``task`` is cancelled before it starts."""

        def closed(t: asyncio.Task[T]) -> None:
            if rec.end_s is None:
                rec.end_s = self.clock.now()
                rec.cancelled = True

        task.add_done_callback(closed)
        return task

    # -- the main line ----------------------------------------------------------------------

    async def main(self, initial: S) -> RunResult[A]:
        self.t0 = self.clock.now()
        self.current: _Node[S, A] = _Node(self, initial, step=0, speculative=False)
        steps: list[StepRecord[A]] = []
        error: Exception | None = None
        async with asyncio.TaskGroup() as tg:
            self.tg = tg
            try:
                await self._loop(steps)
            except Exception as exc:  # noqa: BLE001 - re-raised unwrapped below
                error = exc
            finally:
                await _settle(self.current.discard())
        if error is not None:
            raise error
        node = self.current
        elapsed = self.clock.now() - self.t0
        pending = [c for c in self.calls if c.fate is Fate.PENDING]
        assert not pending, f"engine bug: calls left undecided: {pending}"
        return RunResult(
            steps=tuple(steps),
            elapsed_s=elapsed,
            calls=tuple(self.calls),
            k=self.k,
            depth=self.depth,
            final_state=node.state,
        )

    def _more(self, node: _Node[S, A], done: int) -> bool:
        if self.max_steps is not None and done >= self.max_steps:
            return False
        return not self.env.is_terminal(node.state)

    async def _loop(self, steps: list[StepRecord[A]]) -> None:
        node = self.current
        if self._more(node, 0):
            node.promote(self.depth)
        while self._more(node, len(steps)):
            assert node.actor_task is not None and node.actor_call is not None
            action: A = (await node.actor_task).get()
            node.actor_call.fate = Fate.COMMITTED
            decided = self.clock.now()
            late = await node.stop_speculator()
            guesses = node.guesses
            hit_rank = next(
                (i for i, g in enumerate(guesses) if self.env.equivalent(node.state, g, action)),
                None,
            )
            chosen = node.branches.get(hit_rank) if hit_rank is not None else None
            losers = [b for b in node.branches.values() if b is not chosen]
            for branch in losers:
                branch.cancel()  # all at once: none keeps running while another is undone
            for branch in losers:
                await branch.finish()
            child = await chosen.commit() if chosen is not None else None
            if child is None:
                rec = self.record(Role.FOLLOW_UP, node.step, speculative=False)
                rec.fate = Fate.COMMITTED
                outcome = await self.timed(
                    rec, lambda s=node.state, a=action: self.env.execute(s, a)
                )
                next_state: S = outcome.get()
                child = _Node(self, next_state, step=node.step + 1, speculative=False)
            step = StepRecord(
                index=node.step,
                action=action,
                guesses=guesses,
                hit_rank=hit_rank,
                prelaunched_hit=chosen is not None and chosen.committed,
                speculator_late=late,
                decided_s=decided - self.t0,
            )
            steps.append(step)
            node = self.current = child
            if self._more(node, len(steps)):
                node.promote(self.depth)
            if self.on_step is not None:
                self.on_step(step)


async def _settle(aw: Awaitable[Any]) -> None:
    """Run a clean-up to completion even if the surrounding task is being cancelled."""
    task = asyncio.ensure_future(aw)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        await asyncio.wait([task])
        raise


async def _wait_done(*tasks: asyncio.Task[Any] | None) -> None:
    live = [t for t in tasks if t is not None]
    if live:
        await asyncio.wait(live)


class _Node(Generic[S, A]):
    """One state on the main line or on a branch, with its Actor call and speculation."""

    def __init__(self, run: _Run[S, A], state: S, *, step: int, speculative: bool) -> None:
        self.run = run
        self.state = state
        self.step = step
        self.speculative = speculative
        self.budget = -1
        self.terminal = run.env.is_terminal(state)
        self.actor_task: asyncio.Task[_Outcome[A]] | None = None
        self.actor_call: CallRecord | None = None
        self.spec_task: asyncio.Task[None] | None = None
        self.spec_call: CallRecord | None = None
        self.guesses: tuple[A, ...] = ()
        self.branches: dict[int, _Branch[S, A]] = {}
        self.discarded = False
        self.finished = False

    def start_actor(self) -> None:
        if self.actor_task is not None or self.terminal or self.discarded:
            return
        rec = self.run.record(Role.ACTOR, self.step, speculative=self.speculative)
        self.actor_call = rec
        self.actor_task = self.run.spawn_call(rec, lambda: self.run.env.act(self.state))

    def promote(self, depth: int) -> None:
        """This node is now on the main line: its Actor must run; speculate ``depth`` deep."""
        self.speculative = False
        self.start_actor()
        self.extend(depth)

    def extend(self, budget: int) -> None:
        """Allow speculation ``budget`` levels below this node."""
        if budget <= self.budget or self.discarded:
            return
        self.budget = budget
        if self.terminal or budget < 1 or self.run.k < 1:
            return
        if self.spec_task is None:
            rec = self.run.record(Role.SPECULATOR, self.step, speculative=True)
            self.spec_call = rec
            self.spec_task = self.run.closing(rec, self.run.spawn(self._speculate(rec)))
        else:
            for branch in self.branches.values():
                branch.extend(budget - 1)

    async def _speculate(self, rec: CallRecord) -> None:
        env, k = self.run.env, self.run.k
        outcome = await self.run.timed(rec, lambda: env.propose(self.state, k))
        if outcome.error is not None:
            return  # a failing Speculator only costs its own call (the record shows it)
        unique: list[A] = []
        for guess in outcome.value:
            if len(unique) == k:
                break
            if not any(env.equivalent(self.state, u, guess) for u in unique):
                unique.append(guess)
        self.guesses = tuple(unique)
        for rank, guess in enumerate(unique):
            envelope = env.envelope(self.state, guess)
            if envelope.prelaunchable:
                branch = _Branch(self, rank, guess, envelope)
                self.branches[rank] = branch
                branch.start()

    async def stop_speculator(self) -> bool:
        """Cancel a Speculator still guessing (it came too late); True if it was."""
        task = self.spec_task
        if task is None or task.done():
            return False
        task.cancel()
        await _wait_done(task)
        return True

    def cancel(self) -> None:
        """Cancel everything under this node at once (see :meth:`finish`)."""
        if self.discarded:
            return
        self.discarded = True
        for task in (self.actor_task, self.spec_task):
            if task is not None:
                task.cancel()
        for branch in self.branches.values():
            branch.cancel()

    async def finish(self) -> None:
        """Await what :meth:`cancel` stopped; compensate reversible effects; settle fates."""
        if self.finished:
            return
        self.finished = True
        await _wait_done(self.actor_task, self.spec_task)
        for branch in list(self.branches.values()):
            await branch.finish()
        if self.actor_call is not None and self.actor_call.fate is Fate.PENDING:
            self.actor_call.fate = Fate.WASTED

    async def discard(self) -> None:
        self.cancel()
        await self.finish()


class _Branch(Generic[S, A]):
    """A guess whose follow-up was launched early, and the node it leads to."""

    def __init__(self, node: _Node[S, A], rank: int, guess: A, envelope: Envelope) -> None:
        self.node = node
        self.run = node.run
        self.rank = rank
        self.guess = guess
        self.envelope = envelope
        self.exec_call: CallRecord | None = None
        self.exec_task: asyncio.Task[_Outcome[S]] | None = None
        self.task: asyncio.Task[None] | None = None
        self.child: _Node[S, A] | None = None
        self.discarded = False
        self.finished = False
        self.committed = False

    def start(self) -> None:
        run, node = self.run, self.node
        rec = run.record(Role.FOLLOW_UP, node.step, speculative=True)
        rec.envelope = self.envelope.value
        self.exec_call = rec
        sandboxed = self.envelope is Envelope.SANDBOX
        self.exec_task = run.spawn_call(
            rec, lambda: run.env.execute(node.state, self.guess, sandboxed=sandboxed)
        )
        self.task = run.spawn(self._follow())

    async def _follow(self) -> None:
        assert self.exec_task is not None
        if self.envelope is Envelope.COMPENSATE:
            # A reversible effect is never cut off half-way: it completes, then is undone.
            outcome = await asyncio.shield(self.exec_task)
        else:
            outcome = await self.exec_task
        if outcome.error is not None or self.discarded:
            return
        child: _Node[S, A] = _Node(
            self.run, outcome.value, step=self.node.step + 1, speculative=True
        )
        self.child = child
        if self.run.prelaunch_actor:
            child.start_actor()
        child.extend(self.node.budget - 1)

    def extend(self, budget: int) -> None:
        if self.child is not None:
            self.child.extend(budget)
        # A branch still executing reads its node's budget when it creates its child.

    async def commit(self) -> _Node[S, A] | None:
        """Adopt this branch; None if its follow-up failed (then it runs again for real)."""
        assert self.exec_task is not None and self.exec_call is not None
        await _wait_done(self.task)
        outcome = self.exec_task.result()
        if outcome.error is not None or self.child is None:
            self.exec_call.fate = Fate.WASTED
            return None
        if self.envelope is Envelope.SANDBOX:
            await self.run.env.adopt(self.node.state, self.guess, self.child.state)
        self.exec_call.fate = Fate.COMMITTED
        self.committed = True
        return self.child

    def cancel(self) -> None:
        if self.discarded:
            return
        self.discarded = True
        assert self.exec_task is not None
        if self.task is not None:
            self.task.cancel()
        if self.envelope is not Envelope.COMPENSATE:
            self.exec_task.cancel()
        if self.child is not None:
            self.child.cancel()

    async def finish(self) -> None:
        assert self.exec_task is not None and self.exec_call is not None
        if self.finished:
            return
        self.finished = True
        await _wait_done(self.task, self.exec_task)
        if self.child is not None:
            await self.child.finish()
        if self.exec_call.fate is Fate.PENDING:
            self.exec_call.fate = Fate.WASTED
        if self.envelope is Envelope.COMPENSATE and not self.exec_task.cancelled():
            outcome = self.exec_task.result()
            if outcome.error is None:
                rec = self.run.record(Role.COMPENSATION, self.node.step, speculative=True)
                state, guess = self.node.state, self.guess
                done = await self.run.timed(
                    rec, lambda: self.run.env.compensate(state, guess, outcome.value)
                )
                done.get()  # a failed compensation must not pass silently
