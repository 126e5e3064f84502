"""Sessions whose tools live on real MCP servers: the scripted model on the virtual clock.

Each MCP call is charged a fixed 0.25 s of simulated time (``virtual_cost_s``), so every time
asserted here is exact arithmetic, whatever the real round trip took.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from specagent.agent import Policy, Session
from specagent.clock import VirtualClock
from specagent.events import (
    ToolCallFailed,
    ToolCallFinished,
    ToolCallHeld,
    ToolCallIssued,
    ToolCallStarted,
    UserSpeech,
)
from specagent.models import ScriptedBackend
from specagent.protocol import ChatMessage
from specagent.tools import Effect, Toolset, tool

from mcp_fixtures import stdio_command, web_http_server  # noqa: F401

COST = 0.25


def call(i: int, name: str, args: str = "{}") -> str:
    return f'<tool_call id="{i}">{{"name": "{name}", "arguments": {args}}}</tool_call>'


def speech(*chunks: tuple[float, str]) -> list[UserSpeech]:
    return [
        UserSpeech(t=t, text=text, final=i == len(chunks) - 1) for i, (t, text) in enumerate(chunks)
    ]


def heard(messages: Sequence[ChatMessage]) -> str:
    return "\n".join(m.content for m in messages if m.role == "user")


def wrote(messages: Sequence[ChatMessage]) -> str:
    return "\n".join(m.content for m in messages if m.role == "assistant")


def first(events, kind, call_id):
    return next(e for e in events if isinstance(e, kind) and e.call_id == call_id)


def run_session(clock: VirtualClock, servers: Sequence[str], responder, chunks, *, policy,
                extra_tools=(), timeout_s=5.0, journal=True):
    async def main():
        async with Toolset.from_mcp(
            *servers, clock=clock, tools=extra_tools, timeout_s=timeout_s, virtual_cost_s=COST
        ) as tools:
            session = Session(ScriptedBackend(clock, responder), tools, clock, policy)
            result = await session.run(chunks)
            seen = await tools["journal"].call({}) if journal else None
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        return result, seen, others

    return clock.run(main())


REQUEST = speech(
    (0.5, "what's the weather in Paris"),
    (1.5, "and book Chez Lili at eight"),
    (3.0, "thank you"),
)


def weather_and_booking(messages: Sequence[ChatMessage]) -> str:
    said, made = heard(messages), wrote(messages)
    if 'id="1"' not in made and "Paris" in said:
        return call(1, "get_weather", '{"city": "Paris"}')
    if 'id="2"' not in made and "Chez Lili at eight" in said:
        return call(2, "book_table", '{"restaurant": "Chez Lili", "time": "eight"}')
    if "thank you" in said and '<tool_result id="2"' in said:
        return "<answer>Sunny in Paris; Chez Lili is booked for eight.</answer>"
    return "<pause/>"


def test_read_only_mcp_call_runs_before_the_final_words_and_the_destructive_one_waits():
    clock = VirtualClock()
    result, journal, others = run_session(
        clock, [stdio_command()], weather_and_booking, REQUEST, policy=Policy.ASYNC
    )
    assert result.ended == "answered" and "booked" in (result.answer or "")
    assert others == []
    events = result.ledger.events
    final_t = next(e.t for e in events if isinstance(e, UserSpeech) and e.final)
    weather_started = first(events, ToolCallStarted, 1).t
    weather_done = first(events, ToolCallFinished, 1).t
    # read-only (readOnlyHint): started as soon as the model wrote it, well before the end
    assert weather_started < final_t - 1.0
    assert weather_done - weather_started == pytest.approx(COST)  # frozen, then charged 0.25 s
    # destructive (destructiveHint): written before the final words, held to its commit point
    issued, held = first(events, ToolCallIssued, 2), first(events, ToolCallHeld, 2)
    started, done = first(events, ToolCallStarted, 2), first(events, ToolCallFinished, 2)
    assert issued.t < final_t and held.t < final_t
    assert started.t >= final_t
    assert done.t - started.t == pytest.approx(COST)
    assert done.result == {"booking": "Chez Lili@eight", "confirmed": True}
    # what reached the server, in order: the booking exactly once, after the lookup
    assert journal == ["get_weather Paris", "book_table Chez Lili eight"]
    reports = {c.name: c for c in result.tool_calls}
    assert reports["get_weather"].effect == "read_only" and not reports["get_weather"].held
    assert reports["book_table"].effect == "irreversible" and reports["book_table"].held
    assert reports["book_table"].disposition == "committed"


def test_a_server_that_dies_mid_session_fails_its_calls_and_the_session_goes_on(
    web_http_server,
):
    """The stdio server dies on its second call; its next call fails at once with a clear
    error; a tool on another server (streamable HTTP) and a Python tool still work."""
    _, http_url = web_http_server
    clock = VirtualClock()

    @tool(effect=Effect.READ_ONLY)
    async def local_clock() -> str:
        """The time here."""
        return "09:30"

    steps = [
        (1, "crash", "{}"),
        (2, "get_weather", '{"city": "Rome"}'),
        (3, "web_get_weather", '{"city": "Rome"}'),
        (4, "local_clock", "{}"),
    ]

    def responder(messages: Sequence[ChatMessage]) -> str:
        said, made = heard(messages), wrote(messages)
        if "Rome" not in said:
            return "<pause/>"
        for i, name, args in steps:
            if f'id="{i}"' not in made:
                if i > 1 and f'<tool_result id="{i - 1}"' not in said:
                    return "<pause/>"
                return call(i, name, args)
        if '<tool_result id="4"' in said:
            return "<answer>Rome is sunny; it is 09:30.</answer>"
        return "<pause/>"

    chunks = speech((0.5, "weather in Rome"), (1.0, "please"))
    server = stdio_command()
    result, _, others = run_session(
        clock,
        [server, http_url],
        responder,
        chunks,
        policy=Policy.SYNC,
        extra_tools=[local_clock],
        journal=False,
    )
    assert others == []
    assert result.ended == "answered" and result.answer == "Rome is sunny; it is 09:30."
    failed = {e.call_id: e for e in result.ledger.events if isinstance(e, ToolCallFailed)}
    assert set(failed) == {1, 2}
    assert "McpServerGone" in failed[1].error and server in failed[1].error
    assert "is gone" in failed[2].error
    finished = {e.call_id: e for e in result.ledger.events if isinstance(e, ToolCallFinished)}
    assert finished[3].result["city"] == "Rome" and finished[4].result == "09:30"


def test_a_hanging_mcp_tool_times_out_and_the_session_answers():
    clock = VirtualClock()

    def responder(messages: Sequence[ChatMessage]) -> str:
        said, made = heard(messages), wrote(messages)
        if 'id="1"' not in made:
            return call(1, "hang")
        if '<tool_result id="1"' in said:
            return "<answer>The service did not answer.</answer>"
        return "<pause/>"

    result, journal, others = run_session(
        clock, [stdio_command()], responder, speech((0.5, "check the service")),
        policy=Policy.SYNC, timeout_s=0.5,
    )
    assert result.ended == "answered" and others == []
    failed = first(result.ledger.events, ToolCallFailed, 1)
    started = first(result.ledger.events, ToolCallStarted, 1)
    assert failed.error_type == "timeout"
    assert failed.t - started.t == pytest.approx(0.5)  # the timeout, in simulated time
    assert journal == ["hang started", "hang cancelled"]
