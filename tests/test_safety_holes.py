"""Regression tests for the safety holes of issue #15, each reproduced through the public API.

Every test here failed on the code before its fix (checked when it was written):

1. an id-less rewrite of a held call no longer counts as the model moving on, so the
   corrected-away booking is never committed;
2. an idempotent setter is held (or sandboxed) before its commit point like any other write,
   and ``verified``'s speculator never changes real state;
3. a resumed session restores every call's disposition exactly: nothing committed is undone,
   repeated or committed twice, and a sandboxed result whose copy died is never reported as
   committed;
4. a held call never commits while newer user speech is waiting.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from specagent.agent import Policy, Session, session_for
from specagent.clock import VirtualClock
from specagent.events import (
    ToolCallCommitted,
    ToolCallCompensated,
    ToolCallFailed,
    ToolCallFinished,
    UserSpeech,
)
from specagent.ledger import Ledger, SQLiteLedgerStore
from specagent.models import ScriptedBackend
from specagent.protocol import ChatMessage
from specagent.sandbox import StateCell
from specagent.tools import Effect, Toolset, tool

from test_session import everything_said, model_said, speech


@dataclass
class Travel:
    booked: list[str] = field(default_factory=list)
    alarm: list[tuple[float, str]] = field(default_factory=list)  # (clock time, value) set
    reserved: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def travel_tools(world: Travel, clock: VirtualClock) -> Toolset:
    cell: StateCell[Travel] = StateCell(world)

    @tool(effect=Effect.IRREVERSIBLE, state=cell)
    async def book_flight(destination: str) -> dict:
        """Book a flight."""
        cell.get().booked.append(destination)
        return {"booked": destination}

    @tool(effect=Effect.IDEMPOTENT, state=cell)
    async def set_alarm(time: str) -> dict:
        """Set the alarm (setting it again to the same time changes nothing)."""
        cell.get().alarm.append((clock.now(), time))
        return {"alarm": time}

    async def unreserve(arguments: dict[str, Any], result: Any) -> None:
        cell.get().reserved.remove(arguments["place"])

    @tool(effect=Effect.REVERSIBLE, compensate=unreserve, state=cell)
    async def reserve(place: str) -> dict:
        """Reserve a table."""
        cell.get().reserved.append(place)
        return {"reserved": place}

    @tool(effect=Effect.IRREVERSIBLE, state=cell, sandboxable=True)
    async def note(text: str) -> dict:
        """Write a note."""
        cell.get().notes.append(text)
        return {"noted": text}

    @tool(effect=Effect.READ_ONLY)
    async def lookup(city: str) -> dict:
        """Look a city up."""
        return {"city": city, "sky": "sunny"}

    return Toolset([book_flight, set_alarm, reserve, note, lookup])


def idless(name: str, args: str) -> str:
    return f'<tool_call>{{"name": "{name}", "arguments": {args}}}</tool_call>'


def with_id(i: int, name: str, args: str) -> str:
    return f'<tool_call id="{i}">{{"name": "{name}", "arguments": {args}}}</tool_call>'


def play(policy: Policy, responder, chunks, *, latency: float = 0.5, **kwargs):
    clock, world = VirtualClock(), Travel()
    backend = ScriptedBackend(clock, responder, ttft_s=0.1, token_s=0.05)
    session = session_for(
        policy, backend, travel_tools(world, clock), clock, latency=lambda n, a: latency, **kwargs
    )

    async def main():
        result = await session.run(chunks)
        return result, [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]

    result, others = clock.run(main())
    assert others == [], "a task was left running"
    return result, world


# -- hole 1: an id the parser invents is not the model moving on ------------------------------

CORRECTED = speech((1.0, "book me a flight"), (2.0, "to Boston"), (3.5, "no sorry, to Denver"))


def corrects_without_id(messages: Sequence[ChatMessage]) -> str:
    said, made = everything_said(messages), model_said(messages)
    if "Denver" in said:
        if "Denver" not in made:
            return idless("book_flight", '{"destination": "Denver"}')
        return "<answer>Your flight to Denver is booked.</answer>"
    if "Boston" in said and "Boston" not in made:
        return with_id(1, "book_flight", '{"destination": "Boston"}')
    return "<pause/>"


@pytest.mark.parametrize("policy", [Policy.ASYNC, Policy.SPECULATIVE])
def test_an_idless_rewrite_of_a_held_call_revises_it_and_never_commits_the_old_one(policy):
    result, world = play(policy, corrects_without_id, CORRECTED)
    assert world.booked == ["Denver"]
    committed = [c for c in result.tool_calls if c.disposition == "committed"]
    assert [c.arguments for c in committed] == [{"destination": "Denver"}]


def test_untagged_prose_does_not_release_a_held_call():
    """Prose is read as an answer only when nothing waits; it never counts as moving on."""

    def responder(messages):
        said, made = everything_said(messages), model_said(messages)
        if 'tool_result id="1"' in said:
            return "<answer>Booked.</answer>"
        if "Boston" in said and "Boston" not in made:
            return with_id(1, "book_flight", '{"destination": "Boston"}')
        if "Boston" in made and "final_query_update" in said:
            return "Sure, booking Boston now."  # prose: neither a pause nor an answer tag
        return "<pause/>"

    chunks = speech((1.0, "book me a flight"), (2.0, "to Boston"), (3.0, "thanks"))
    result, world = play(Policy.ASYNC, responder, chunks)
    # the call was never released by the prose; the session gave up without committing it
    assert world.booked == []
    assert all(c.disposition != "committed" for c in result.tool_calls)


# -- hole 2: idempotent writes wait for the commit point --------------------------------------

ALARM = speech((1.0, "set the alarm"), (2.0, "to 7"), (3.5, "no, to 8"))


def alarm_responder(messages: Sequence[ChatMessage]) -> str:
    said, made = everything_said(messages), model_said(messages)
    if 'tool_result id="1"' in said and "final_query_update" in said and '"8"' in made:
        return "<answer>Alarm set for 8.</answer>"
    if "to 8" in said and '"8"' not in made:
        return with_id(1, "set_alarm", '{"time": "8"}')
    if "to 7" in said and '"7"' not in made:
        return with_id(1, "set_alarm", '{"time": "7"}')
    return "<pause/>"


@pytest.mark.parametrize("policy", [Policy.ASYNC, Policy.SPECULATIVE, Policy.VERIFIED])
def test_an_idempotent_write_never_reaches_the_world_before_the_final_words(policy):
    result, world = play(policy, alarm_responder, ALARM)
    final_t = ALARM[-1].t
    assert world.alarm, "the alarm was never set"
    assert all(t >= final_t for t, _ in world.alarm), world.alarm
    assert [value for _, value in world.alarm] == ["8"]


# -- hole 3: resume restores dispositions exactly ---------------------------------------------


def _crash(policy: Policy, responder, chunks, store, world, *, after) -> str:
    """Run until ``after(event)`` says so, then stop the session as a killed process would."""
    clock = VirtualClock()
    ledger = Ledger(store=store)
    crashed = asyncio.Event()
    session = Session(
        ScriptedBackend(clock, responder, ttft_s=0.1, token_s=0.05),
        travel_tools(world, clock),
        clock,
        policy,
        ledger=ledger,
        observer=lambda e: crashed.set() if after(e) else None,
        latency=lambda n, a: 0.5,
    )

    async def main():
        task = asyncio.create_task(session.run(chunks))
        async with asyncio.timeout(120):
            await crashed.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    clock.run(main())
    return ledger.session_id


def _resume(policy: Policy, responder, chunks, store, session_id, world):
    stored = Ledger.load(store, session_id)
    clock = VirtualClock(start_s=stored.last_t)
    session = Session.resume(
        store,
        session_id,
        ScriptedBackend(clock, responder, ttft_s=0.1, token_s=0.05),
        travel_tools(world, clock),
        clock,
        policy,
        latency=lambda n, a: 0.5,
    )

    async def main():
        result = await session.run(chunks)
        return result, [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]

    result, others = clock.run(main())
    assert others == []
    return result


TRIP = speech((1.0, "reserve Chez Lili"), (2.0, "and book Denver"), (3.0, "thanks"))


def trip_responder(messages: Sequence[ChatMessage]) -> str:
    said, made = everything_said(messages), model_said(messages)
    if 'tool_result id="2"' in said:
        return "<answer>Done.</answer>"
    if "Lili" in said and "reserve" not in made:
        return with_id(1, "reserve", '{"place": "Chez Lili"}')
    if "Denver" in said and "book_flight" not in made and 'tool_result id="1"' in said:
        return with_id(2, "book_flight", '{"destination": "Denver"}')
    return "<pause/>"


def test_a_finished_sync_session_resumes_without_crashing_or_repeating(tmp_path):
    store = SQLiteLedgerStore(tmp_path / "s.db")
    world = Travel()
    session_id = _crash(
        Policy.SYNC, trip_responder, TRIP, store, world,
        after=lambda e: isinstance(e, ToolCallCommitted) and e.call_id == 2,
    )
    assert world.booked == ["Denver"] and world.reserved == ["Chez Lili"]
    result = _resume(Policy.SYNC, trip_responder, TRIP, store, session_id, world)
    assert result.answer == "Done."
    assert world.booked == ["Denver"] and world.reserved == ["Chez Lili"]
    committed = [e.call_id for e in result.ledger if isinstance(e, ToolCallCommitted)]
    assert sorted(committed) == [1, 2], "a committed call was committed twice"


def test_a_committed_reversible_call_is_not_undone_when_the_resumed_turn_gives_up(tmp_path):
    store = SQLiteLedgerStore(tmp_path / "s.db")
    world = Travel()
    session_id = _crash(
        Policy.SYNC, trip_responder, TRIP, store, world,
        after=lambda e: isinstance(e, ToolCallCommitted) and e.call_id == 2,
    )
    result = _resume(Policy.SYNC, lambda m: "<pause/>", TRIP, store, session_id, world)
    assert result.ended == "stalled"
    assert world.reserved == ["Chez Lili"] and world.booked == ["Denver"]
    assert not any(isinstance(e, ToolCallCompensated) for e in result.ledger)
    dispositions = {c.call_id: c.disposition for c in result.tool_calls}
    assert dispositions == {1: "committed", 2: "committed"}


NOTE = speech((1.0, "note buy milk"), (2.0, "and tell me"), (3.0, "the weather in Paris"))


def note_responder(messages: Sequence[ChatMessage]) -> str:
    said, made = everything_said(messages), model_said(messages)
    if 'tool_result id="2"' in said and "final_query_update" in said:
        return "<answer>Noted; sunny in Paris.</answer>"
    if "milk" in said and "note" not in made:
        return with_id(1, "note", '{"text": "buy milk"}')
    if "Paris" in said and "lookup" not in made:
        return with_id(2, "lookup", '{"city": "Paris"}')
    return "<pause/>"


def test_a_sandboxed_result_lost_in_a_crash_is_never_reported_committed(tmp_path):
    store = SQLiteLedgerStore(tmp_path / "s.db")
    world = Travel()
    # speculative runs the note at once on a copy; the process dies before its commit point
    session_id = _crash(
        Policy.SPECULATIVE, note_responder, NOTE, store, world,
        after=lambda e: isinstance(e, ToolCallFinished) and e.call_id == 1,
    )
    assert world.notes == []
    result = _resume(Policy.SPECULATIVE, note_responder, NOTE, store, session_id, world)
    note = next(c for c in result.tool_calls if c.call_id == 1)
    if note.disposition == "committed":  # only if it really ran again on the real state
        assert world.notes == ["buy milk"] and note.status == "done"
    else:
        assert world.notes == []
        assert any(
            isinstance(e, ToolCallFailed) and e.call_id == 1 and e.error_type == "interrupted"
            for e in result.ledger
        )


# -- hole 4: no commit while newer speech waits -----------------------------------------------


async def live(clock: VirtualClock, chunks: Sequence[UserSpeech]) -> AsyncIterator[UserSpeech]:
    t0 = clock.now()
    for chunk in chunks:
        await clock.sleep_until(t0 + chunk.t)
        yield chunk


def test_a_held_call_never_commits_while_newer_speech_waits():
    """Utterance 1 asks for a booking; while the model finishes an action after the final
    words, the user starts again ("wait, no, Denver"). The held booking must wait."""
    spoken = [
        UserSpeech(t=1.0, text="book a flight to Boston", final=True),
        UserSpeech(t=2.2, text="wait, no", final=False),
        UserSpeech(t=4.0, text="Denver instead", final=True),
    ]

    def responder(messages):
        said, made = everything_said(messages), model_said(messages)
        if "Denver" in said:
            if "Denver" not in made:
                return with_id(1, "book_flight", '{"destination": "Denver"}')
            if 'tool_result id="1"' in said:
                return "<answer>Booked Denver.</answer>"
            return "<pause/>"
        if "wait" in said:
            return "<pause/>"
        if "Boston" in said and "book_flight" not in made:
            return with_id(1, "book_flight", '{"destination": "Boston"}')
        if "lookup" not in made:  # a long action: the user speaks again while it is written
            return with_id(2, "lookup", '{"city": "' + "Boston " * 12 + '"}')
        return "<pause/>"

    clock, world = VirtualClock(), Travel()
    backend = ScriptedBackend(clock, responder, ttft_s=0.1, token_s=0.1)
    session = Session(backend, travel_tools(world, clock), clock, Policy.ASYNC,
                      latency=lambda n, a: 0.5)

    async def main():
        return await session.run(live(clock, spoken))

    clock.run(main())
    assert world.booked == ["Denver"]


# -- nothing done that nobody asked for -------------------------------------------------------


def test_a_message_to_an_invented_contact_is_refused_and_the_model_is_told_to_ask():
    """The case found by hand with the default model and the CLI's toolset: asked for the
    weather and a table, it messaged "user" about a flight. A write whose values nobody said
    and no tool returned is not run, at any time; the model is told to ask instead."""
    from specagent.envs.assistant import AssistantWorld, assistant_toolset
    from specagent.events import ProtocolError
    from specagent.speech import simulate_speech

    request = ("What's the weather in Denver tomorrow, and book me a table for two at an "
               "Italian place there at 7pm")

    def responder(messages):
        said, made = everything_said(messages), model_said(messages)
        if "not run" in said:
            return "<answer>Who should I send it to?</answer>"
        if "final_query_update" in said and "send_message" not in made:
            return with_id(1, "send_message",
                           '{"to": "user", "text": "I booked a flight to Denver tomorrow"}')
        return "<pause/>"

    for policy in (Policy.SYNC, Policy.ASYNC, Policy.SPECULATIVE):
        clock, world = VirtualClock(), AssistantWorld()
        session = session_for(policy, ScriptedBackend(clock, responder),
                              assistant_toolset(world), clock)
        result = clock.run(session.run(simulate_speech(request)))
        assert world.messages == [], policy
        assert result.answer == "Who should I send it to?"
        assert result.speculation.ungrounded_writes_refused == 1
        refused = [e for e in result.ledger if isinstance(e, ProtocolError)]
        assert "'user'" in refused[0].message and "Ask the user" in refused[0].message


def test_a_model_looping_on_a_refused_write_is_stopped():
    """Seen on the assistant benchmark: the default model sent the same ungrounded write 20
    times. The same refused call again counts towards giving up."""

    def loops(messages):
        if "final_query_update" in everything_said(messages):
            return with_id(1, "book_flight", '{"destination": "Atlantis"}')
        return "<pause/>"

    result, world = play(Policy.SYNC, loops, speech((1.0, "book me a flight"), (2.0, "please")))
    assert world.booked == []
    assert result.ended == "too_many_protocol_errors"
    assert result.generations <= 5
