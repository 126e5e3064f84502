"""Several turns in one ledger: the second turn sees the first and call ids go on counting."""

from __future__ import annotations

from specagent.agent import Policy, Session
from specagent.clock import VirtualClock
from specagent.events import SessionEnded, ToolCallIssued
from specagent.ledger import Ledger
from specagent.models import ScriptedBackend
from specagent.speech import simulate_speech
from specagent.tools import Effect, Toolset, tool


def _tools(booked: list[str]) -> Toolset:
    @tool(effect=Effect.READ_ONLY, timeout_s=5.0)
    async def lookup(city: str) -> dict:
        """Look a city up."""
        return {"city": city, "sky": "sunny"}

    @tool(effect=Effect.IRREVERSIBLE, timeout_s=5.0)
    async def book(item: str) -> dict:
        """Book something."""
        booked.append(item)
        return {"booked": item}

    return Toolset([lookup, book])


def _respond(messages) -> str:
    last = messages[-1].content
    if "<tool_result" in last:
        return "<answer>Done.</answer>"
    if "Book" in last and "final" in last:
        # the model must see turn one (its answer) and pick the next id itself
        assert any("Done." in m.content for m in messages if m.role == "assistant")
        return '<tool_call id="2">{"name": "book", "arguments": {"item": "Paris"}}</tool_call>'
    if "Paris" in last and "final" in last:
        return '<tool_call id="1">{"name": "lookup", "arguments": {"city": "Paris"}}</tool_call>'
    return "<pause/>"


def test_second_turn_sees_the_first_and_continues_ids() -> None:
    clock = VirtualClock()
    booked: list[str] = []
    tools = _tools(booked)
    backend = ScriptedBackend(clock, _respond)
    ledger = Ledger()

    async def conversation():
        results = []
        for words in ("What is the weather in Paris", "Book that trip to Paris please"):
            session = Session(backend, tools, clock, Policy.SYNC, ledger=ledger)
            results.append(await session.run(simulate_speech(words)))
        return results

    first, second = clock.run(conversation())
    assert first.ended == second.ended == "answered"
    assert [c.call_id for c in first.tool_calls] == [1]
    assert [(c.call_id, c.name) for c in second.tool_calls] == [(2, "book")]
    assert booked == ["Paris"]
    assert sum(isinstance(e, SessionEnded) for e in ledger) == 2
    assert [e.call_id for e in ledger if isinstance(e, ToolCallIssued)] == [1, 2]
    # latency is measured from the second turn's own last word
    assert second.last_word_s > first.answer_done_s
    assert second.latency_s is not None and second.latency_s < 5.0
