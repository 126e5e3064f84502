"""A session cut off mid-turn ends the turn itself: every call it left undecided is withdrawn
(a held call cancelled, an early reversible run compensated, a read in flight cancelled, a
sandbox dropped), a committed call is left alone and never repeated, ``SessionEnded(reason)``
closes the turn, and no task is left running. A plain cancellation still abandons the turn as
a crash would (tests/test_resume.py relies on that)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from specagent.agent import Policy, Session
from specagent.agent.ending import TURN_FAILED
from specagent.agent.restore import RESUMED
from specagent.clock import VirtualClock
from specagent.events import (
    Event,
    SessionEnded,
    Timer,
    ToolCallCancelled,
    ToolCallCommitted,
    ToolCallCompensated,
    ToolCallFinished,
    ToolCallHeld,
    ToolCallStarted,
)
from specagent.ledger import Ledger
from specagent.models import ScriptedBackend
from specagent.models.base import ModelUnreachableError
from specagent.protocol import ChatMessage
from specagent.sandbox import StateCell
from specagent.tools import Effect, Toolset, tool

from test_session import call, everything_said, model_said, speech

REASON = "client left"


@dataclass
class World:
    reserved: list[str] = field(default_factory=list)
    undone: list[str] = field(default_factory=list)
    booked: list[str] = field(default_factory=list)
    lookups: int = 0
    notes: StateCell[list[str]] = field(default_factory=lambda: StateCell([]))


def tools(world: World) -> Toolset:
    async def unreserve(arguments: dict[str, Any], result: Any) -> None:
        world.reserved.remove(arguments["place"])
        world.undone.append(arguments["place"])

    @tool(effect=Effect.REVERSIBLE, timeout_s=10.0, compensate=unreserve)
    async def reserve(place: str) -> dict:
        """Reserve a table."""
        world.reserved.append(place)
        return {"reserved": place}

    @tool(effect=Effect.IRREVERSIBLE, timeout_s=10.0)
    async def book(item: str) -> dict:
        """Book something."""
        world.booked.append(item)
        return {"booked": item}

    @tool(effect=Effect.READ_ONLY, timeout_s=10.0)
    async def lookup(city: str) -> dict:
        """Look a city up."""
        world.lookups += 1
        return {"city": city, "sky": "sunny"}

    @tool(effect=Effect.IRREVERSIBLE, timeout_s=10.0, state=world.notes, sandboxable=True)
    async def note(text: str) -> dict:
        """Write a note (local state: runs on a copy under speculative)."""
        world.notes.get().append(text)
        return {"noted": text}

    return Toolset([reserve, book, lookup, note])


# Four calls written while the user is still speaking (the final words come at 20 s):
# 1 reserve (reversible: runs early), 2 book (irreversible: held), 3 note (local state: runs
# on a sandbox copy), 4 lookup (a read: runs at once, and takes 5 s).
EARLY = speech(
    (1.0, "reserve a table at Lili"),
    (2.0, "then book the trip"),
    (3.0, "note groceries and look up Paris"),
    (20.0, "thanks"),
)


def early_calls(messages: Sequence[ChatMessage]) -> str:
    said, made = everything_said(messages), model_said(messages)
    if "Lili" in said and '"reserve"' not in made:
        return call(1, "reserve", '{"place": "Lili"}')
    if "trip" in said and '"book"' not in made:
        return call(2, "book", '{"item": "trip"}')
    if "groceries" in said and '"note"' not in made:
        return call(3, "note", '{"text": "groceries"}')
    if "Paris" in said and '"lookup"' not in made:
        return call(4, "lookup", '{"city": "Paris"}')
    return "<pause/>"


def slow_lookup(name: str, arguments: Any) -> float:
    return 5.0 if name == "lookup" else 0.5


@dataclass
class Cut:
    session: Session
    world: World
    leftover: list[asyncio.Task[Any]]
    cut_at: float
    ledger: Ledger = field(init=False)

    def __post_init__(self) -> None:
        self.ledger = self.session.ledger

    def of(self, kind: type[Event], call_id: int) -> list[Any]:
        return [e for e in self.ledger.of_type(kind) if e.call_id == call_id]  # type: ignore[attr-defined]


def cut_when(
    until: Callable[[Event], bool],
    responder: Callable[[Sequence[ChatMessage]], str] = early_calls,
    chunks: Sequence[Any] = EARLY,
    *,
    policy: Policy = Policy.SPECULATIVE,
    latency: Callable[[str, Any], float] = slow_lookup,
    stop: Callable[[Session, asyncio.Task[Any]], None] = lambda s, _: s.cut(REASON) or None,
    cut_reason: str | None = None,
    world: World | None = None,
    ledger: Ledger | None = None,
) -> Cut:
    """Run a session until ``until`` sees an event, stop it with ``stop`` (default: cut it),
    and return what it left: the ledger, the world, the tasks still alive."""
    clock = VirtualClock()
    world = world or World()
    seen = asyncio.Event()
    session = Session(
        ScriptedBackend(clock, responder),
        tools(world),
        clock,
        policy,
        ledger=ledger,
        latency=latency,
        observer=lambda e: seen.set() if until(e) else None,
        cut_reason=cut_reason,
    )
    cut_at = 0.0

    async def main() -> list[asyncio.Task[Any]]:
        nonlocal cut_at
        task = asyncio.create_task(session.run(chunks))
        async with asyncio.timeout(60):  # virtual seconds: a regression fails, never hangs
            await seen.wait()
        cut_at = clock.now()
        stop(session, task)
        with pytest.raises(asyncio.CancelledError):
            await task
        assert task.cancelled()
        return [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]

    leftover = clock.run(main())
    return Cut(session, world, leftover, cut_at)


def started(call_id: int) -> Callable[[Event], bool]:
    return lambda e: isinstance(e, ToolCallStarted) and e.call_id == call_id


def ends_cleanly(cut: Cut, reason: str = REASON) -> None:
    last = cut.ledger.events[-1]
    assert isinstance(last, SessionEnded) and last.reason == reason
    assert cut.leftover == []


# -- what a cut does to each kind of call ---------------------------------------------------


def test_a_held_call_is_cancelled_and_never_runs() -> None:
    cut = cut_when(started(4))  # the read starts after the booking was held
    assert cut.of(ToolCallHeld, 2)
    assert [e.reason for e in cut.of(ToolCallCancelled, 2)] == [REASON]
    assert not cut.of(ToolCallStarted, 2) and cut.world.booked == []
    ends_cleanly(cut)


def test_a_reversible_call_that_ran_early_is_compensated() -> None:
    cut = cut_when(started(4))
    [began] = cut.of(ToolCallStarted, 1)
    assert began.early and cut.of(ToolCallFinished, 1)  # it ran on the partial words ...
    assert len(cut.of(ToolCallCompensated, 1)) == 1  # ... and was undone once when cut
    assert cut.world.undone == ["Lili"] and cut.world.reserved == []
    ends_cleanly(cut)


def test_a_read_in_flight_is_cancelled() -> None:
    cut = cut_when(started(4))
    assert [e.reason for e in cut.of(ToolCallCancelled, 4)] == [REASON]
    assert not cut.of(ToolCallFinished, 4) and cut.world.lookups == 0
    ends_cleanly(cut)


def test_a_sandboxed_run_is_dropped() -> None:
    cut = cut_when(started(4))
    [began] = cut.of(ToolCallStarted, 3)
    assert began.sandboxed and cut.of(ToolCallFinished, 3)
    assert [e.reason for e in cut.of(ToolCallCancelled, 3)] == [REASON]
    assert not cut.of(ToolCallCommitted, 3) and cut.world.notes.get() == []
    ends_cleanly(cut)


# A booking said in full: the model moves on to a slow read, so the booking reaches its commit
# point, runs and is committed while the read is still running.
BOOK_THEN_LOOK = speech((1.0, "book the trip and look up Paris"))


def book_then_look(messages: Sequence[ChatMessage]) -> str:
    said, made = everything_said(messages), model_said(messages)
    if '"book"' not in made:
        return call(1, "book", '{"item": "trip"}')
    if '"lookup"' not in made:
        return call(2, "lookup", '{"city": "Paris"}')
    if 'tool_result id="2"' in said:
        return "<answer>Booked; sunny in Paris.</answer>"
    return "<pause/>"


def test_a_committed_call_is_untouched_and_never_repeated() -> None:
    committed = lambda e: isinstance(e, ToolCallCommitted) and e.call_id == 1  # noqa: E731
    cut = cut_when(committed, book_then_look, BOOK_THEN_LOOK, policy=Policy.ASYNC)
    assert cut.world.booked == ["trip"]
    assert len(cut.of(ToolCallCommitted, 1)) == 1
    assert not cut.of(ToolCallCancelled, 1) and not cut.of(ToolCallCompensated, 1)
    assert [e.reason for e in cut.of(ToolCallCancelled, 2)] == [REASON]
    ends_cleanly(cut)

    # The next turn on the same ledger starts afresh: the cut turn is not resumed, so
    # neither the booking nor the cancelled read runs again.
    clock = VirtualClock(start_s=cut.ledger.last_t)
    answer = lambda messages: "<answer>You're welcome.</answer>"  # noqa: E731
    session = Session(
        ScriptedBackend(clock, answer), tools(cut.world), clock, Policy.ASYNC, ledger=cut.ledger
    )
    result = clock.run(session.run(speech((0.5, "thanks"))))
    assert result.ended == "answered" and not result.tool_calls
    assert not [e for e in cut.ledger.of_type(Timer) if e.name == RESUMED]
    assert cut.world.booked == ["trip"] and cut.world.lookups == 0


def test_a_committed_call_still_running_completes_once() -> None:
    slow_booking = lambda name, arguments: 3.0 if name == "book" else 5.0  # noqa: E731
    cut = cut_when(
        started(1), book_then_look, BOOK_THEN_LOOK, policy=Policy.ASYNC, latency=slow_booking
    )
    [began] = cut.of(ToolCallStarted, 1)
    assert not began.early  # it started at its commit point, then the turn was cut
    [done] = cut.of(ToolCallCommitted, 1)
    assert done.t == pytest.approx(began.t + 3.0) and done.t > cut.cut_at
    assert cut.world.booked == ["trip"]
    assert not cut.of(ToolCallCancelled, 1) and not cut.of(ToolCallCompensated, 1)
    ends_cleanly(cut)


# -- how a turn gets cut ----------------------------------------------------------------------


def test_with_a_cut_reason_a_plain_cancellation_cuts_the_turn() -> None:
    """What ``specagent serve`` relies on: its task group cancels a turn when the client
    leaves; nobody calls ``cut``."""
    cut = cut_when(started(4), stop=lambda _, task: task.cancel(), cut_reason="disconnected")
    assert cut.world.reserved == [] and cut.world.booked == []
    assert {e.reason for e in cut.ledger.of_type(ToolCallCancelled)} == {"disconnected"}
    ends_cleanly(cut, "disconnected")


def test_without_one_a_plain_cancellation_abandons_the_turn_as_a_crash_would() -> None:
    cut = cut_when(started(4), stop=lambda _, task: task.cancel())
    assert not cut.ledger.of_type(SessionEnded)  # left open: Session.resume continues it
    assert cut.world.reserved == ["Lili"]  # nothing was undone
    assert cut.leftover == []


def test_a_second_cancellation_during_the_settling_does_not_cut_it_short() -> None:
    """The reservation is still running when the turn is cut, so it must land and then be
    undone (3 s later); the task is cancelled again meanwhile, as soon as the held booking's
    withdrawal is recorded, and the settling still completes."""
    slow = lambda name, arguments: 3.0 if name == "reserve" else 0.5  # noqa: E731
    withdrawn = asyncio.Event()
    again_at: list[float] = []

    def twice(session: Session, task: asyncio.Task[Any]) -> None:
        session.cut(REASON)

        async def cancel_again() -> None:
            await withdrawn.wait()
            again_at.append(session.clock.now())
            task.cancel()

        asyncio.get_running_loop().create_task(cancel_again())

    booking_held = lambda e: isinstance(e, ToolCallHeld) and e.call_id == 2  # noqa: E731
    chunks = speech((1.0, "reserve a table at Lili"), (1.2, "then book the trip"), (20.0, "ok"))

    def observe_withdrawal(e: Event) -> bool:
        if isinstance(e, ToolCallCancelled) and e.call_id == 2:
            withdrawn.set()
        return booking_held(e)

    cut = cut_when(observe_withdrawal, chunks=chunks, latency=slow, stop=twice)
    assert again_at and again_at[0] == cut.cut_at  # cancelled again while settling
    [undone] = cut.of(ToolCallCompensated, 1)
    assert undone.t > again_at[0]  # the settling went on after the second cancellation
    assert cut.world.reserved == [] and cut.world.undone == ["Lili"]
    ends_cleanly(cut)


def test_a_turn_cut_before_its_run_began_records_nothing() -> None:
    clock = VirtualClock()
    world = World()
    session = Session(ScriptedBackend(clock, early_calls), tools(world), clock, Policy.ASYNC)

    async def main() -> list[asyncio.Task[Any]]:
        task = asyncio.create_task(session.run(EARLY))
        assert session.cut(REASON)  # before the task ran at all
        with pytest.raises(asyncio.CancelledError):
            await task
        return [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]

    assert clock.run(main()) == []
    assert len(session.ledger) == 0


def test_cutting_a_finished_run_does_nothing() -> None:
    clock = VirtualClock()
    answer = lambda messages: "<answer>Hi.</answer>"  # noqa: E731
    session = Session(ScriptedBackend(clock, answer), tools(World()), clock, Policy.ASYNC)
    result = clock.run(session.run(speech((0.5, "hello"))))
    assert result.ended == "answered"
    assert session.cut(REASON) is False
    assert [e.reason for e in session.ledger.of_type(SessionEnded)] == ["answered"]


def test_a_failed_turn_of_a_session_with_a_cut_reason_closes_itself() -> None:
    """The model server goes away mid-turn: the error propagates, but first the turn is
    closed (reason ``turn_failed``) and the reservation made early is undone."""
    clock = VirtualClock()
    world = World()

    def failing(messages: Sequence[ChatMessage]) -> str:
        if 'tool_result id="1"' in everything_said(messages):
            raise ModelUnreachableError("http://127.0.0.1:9/v1 is unreachable")
        return early_calls(messages)

    session = Session(
        ScriptedBackend(clock, failing),
        tools(world),
        clock,
        Policy.SPECULATIVE,
        latency=slow_lookup,
        cut_reason="disconnected",
    )

    async def main() -> list[asyncio.Task[Any]]:
        with pytest.raises(ModelUnreachableError):
            await session.run(EARLY)
        return [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]

    assert clock.run(main()) == []
    assert world.reserved == [] and world.undone == ["Lili"]
    last = session.ledger.events[-1]
    assert isinstance(last, SessionEnded) and last.reason == TURN_FAILED
