"""A stored session resumes after a crash without re-running a committed side effect."""

from __future__ import annotations

import asyncio

import pytest

from specagent.agent import Policy, Session
from specagent.clock import VirtualClock
from specagent.events import AnswerCompleted, ToolCallFailed, ToolCallFinished, UserSpeech
from specagent.ledger import Ledger, SQLiteLedgerStore
from specagent.models import ScriptedBackend

from test_session import World, call, everything_said, make_tools, model_said, speech

REQUEST = speech((1.0, "book me a table"), (2.0, "and also"), (3.0, "check Paris"))


def responder(messages):
    said, made = everything_said(messages), model_said(messages)
    if 'tool_result id="1"' in said and 'tool_result id="2"' in said:
        return "<answer>Booked, and it is sunny in Paris.</answer>"
    if "tool_call" not in made:
        return call(1, "book", '{"item": "table"}')
    if "Paris" in said and 'id="2"' not in made:
        return call(2, "lookup", '{"city": "Paris"}')
    return "<pause/>"


def crash_after_booking(store: SQLiteLedgerStore, world: World) -> str:
    clock = VirtualClock()
    ledger = Ledger(store=store)
    booked = asyncio.Event()

    def observer(event):
        if isinstance(event, ToolCallFinished) and event.call_id == 1:
            booked.set()

    session = Session(
        ScriptedBackend(clock, responder),
        make_tools(world),
        clock,
        Policy.ASYNC,
        ledger=ledger,
        observer=observer,
        latency=lambda name, args: 1.0 if name == "book" else 3.0,
    )

    async def main():
        task = asyncio.create_task(session.run(REQUEST))
        async with asyncio.timeout(60):  # virtual seconds: a regression fails, never hangs
            await booked.wait()
        task.cancel()  # the process dies right after the booking went through
        with pytest.raises(asyncio.CancelledError):
            await task

    clock.run(main())
    return ledger.session_id


def test_resume_does_not_rerun_the_committed_booking(tmp_path):
    world = World()
    store = SQLiteLedgerStore(tmp_path / "sessions.db")
    session_id = crash_after_booking(store, world)
    assert world.booked == ["table"]

    reopened = SQLiteLedgerStore(tmp_path / "sessions.db")
    stored = Ledger.load(reopened, session_id)
    clock = VirtualClock(start_s=stored.last_t)
    session = Session.resume(
        reopened,
        session_id,
        ScriptedBackend(clock, responder),
        make_tools(world),
        clock,
        Policy.ASYNC,
        latency=lambda name, args: 1.0,
    )
    result = clock.run(session.run(REQUEST))
    assert result.answer == "Booked, and it is sunny in Paris."
    assert world.booked == ["table"]  # not booked twice
    statuses = {c.call_id: c.status for c in result.tool_calls}
    assert statuses == {1: "done", 2: "done"}
    # the whole story is in the durable store, in one ledger
    final = Ledger.load(SQLiteLedgerStore(tmp_path / "sessions.db"), session_id)
    assert sum(isinstance(e, AnswerCompleted) for e in final) == 1
    assert sum(isinstance(e, UserSpeech) for e in final) == len(REQUEST)


def test_state_changing_call_running_at_the_crash_is_reported_not_retried(tmp_path):
    world = World()
    store = SQLiteLedgerStore(tmp_path / "s.db")
    clock = VirtualClock()
    ledger = Ledger(store=store)
    started = asyncio.Event()

    def observer(event):
        if type(event).__name__ == "ToolCallStarted":
            started.set()

    session = Session(
        ScriptedBackend(clock, responder),
        make_tools(world),
        clock,
        Policy.ASYNC,
        ledger=ledger,
        observer=observer,
        latency=lambda n, a: 5.0,
    )

    async def main():
        task = asyncio.create_task(session.run(REQUEST))
        async with asyncio.timeout(60):
            await started.wait()
        await clock.sleep(0.5)  # the booking is in flight when the process dies
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    clock.run(main())
    stored = Ledger.load(store, ledger.session_id)
    clock2 = VirtualClock(start_s=stored.last_t)
    seen_failure = []

    def responder2(messages):
        said = everything_said(messages)
        if 'error="interrupted"' in said:
            seen_failure.append(True)
            return "<answer>I could not confirm the booking.</answer>"
        return "<pause/>"

    resumed = Session.resume(
        store, ledger.session_id, ScriptedBackend(clock2, responder2), make_tools(world), clock2,
        Policy.ASYNC,
    )
    result = clock2.run(resumed.run(REQUEST))
    assert seen_failure and result.answer == "I could not confirm the booking."
    assert world.booked == []  # the interrupted booking never completed and was not retried
    assert any(
        isinstance(e, ToolCallFailed) and e.error_type == "interrupted" for e in result.ledger
    )


def test_resume_refuses_unknown_or_finished_sessions(tmp_path):
    store = SQLiteLedgerStore(tmp_path / "s.db")
    clock = VirtualClock()
    with pytest.raises(ValueError, match="no stored session"):
        Session.resume(store, "nope", ScriptedBackend(clock, []), make_tools(World()), clock,
                       Policy.ASYNC)
