"""MCP tools against a real MCP server (the SDK's, started by the tests): effect classes from
annotations and overrides, calls, errors, timeouts, cancellation, compensation, a server that
dies, one that cannot be reached, over stdio and streamable HTTP, on both clocks."""

from __future__ import annotations

import asyncio
import shlex
import sys

import pytest

from specagent.clock import Clock, RealClock, VirtualClock
from specagent.events import (
    Event,
    ToolCallCompensated,
    ToolCallFailed,
    ToolCallFinished,
)
from specagent.executor import ToolExecutor
from specagent.extras import MissingExtraError
from specagent.mcptools import (
    EffectSource,
    McpConfigError,
    McpConnectError,
    McpServer,
    McpServerGone,
    McpToolError,
    McpToolset,
    ToolHints,
    ToolOverride,
    compensation_arguments,
    effect_from_hints,
    parse_tool_effect,
)
from specagent.tools import Effect, Toolset, tool

from mcp_fixtures import http_server, start_http_server, stdio_command, stop  # noqa: F401

# -- effect classes from hints (pure) ---------------------------------------------------------


@pytest.mark.parametrize(
    ("hints", "effect", "source"),
    [
        (None, Effect.IRREVERSIBLE, EffectSource.DEFAULT),
        (ToolHints(), Effect.IRREVERSIBLE, EffectSource.DEFAULT),
        (ToolHints(read_only=True), Effect.READ_ONLY, EffectSource.ANNOTATION),
        (ToolHints(read_only=True, idempotent=True), Effect.READ_ONLY, EffectSource.ANNOTATION),
        # contradictory: the safe default wins
        (ToolHints(read_only=True, destructive=True), Effect.IRREVERSIBLE, EffectSource.DEFAULT),
        (ToolHints(idempotent=True, destructive=False), Effect.IDEMPOTENT, EffectSource.ANNOTATION),
        # destructiveHint defaults to true in MCP: an idempotent hint alone is not enough
        (ToolHints(idempotent=True), Effect.IRREVERSIBLE, EffectSource.DEFAULT),
        (ToolHints(idempotent=True, destructive=True), Effect.IRREVERSIBLE, EffectSource.ANNOTATION),
        (ToolHints(destructive=True), Effect.IRREVERSIBLE, EffectSource.ANNOTATION),
        (ToolHints(destructive=False), Effect.IRREVERSIBLE, EffectSource.DEFAULT),
        (ToolHints(read_only=False, open_world=False), Effect.IRREVERSIBLE, EffectSource.DEFAULT),
    ],
)
def test_effect_from_hints(hints, effect, source):
    decision = effect_from_hints(hints)
    assert (decision.effect, decision.source) == (effect, source)
    assert decision.reason


def test_parse_tool_effect_accepts_classes_and_a_compensator():
    assert parse_tool_effect("get=read-only") == ("get", ToolOverride(Effect.READ_ONLY))
    assert parse_tool_effect(" send = IRREVERSIBLE ") == ("send", ToolOverride(Effect.IRREVERSIBLE))
    name, override = parse_tool_effect("hold_seat=reversible:release_seat")
    assert name == "hold_seat" and override.compensate_with == "release_seat"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("get", "expected NAME=CLASS"),
        ("=read_only", "expected NAME=CLASS"),
        ("get=maybe", "unknown effect class 'maybe'"),
        ("hold=reversible", "needs the MCP tool that undoes it"),
        ("get=read_only:undo", "only a reversible tool takes a compensating tool"),
    ],
)
def test_parse_tool_effect_rejects_bad_values_with_a_clear_message(text, says):
    with pytest.raises(McpConfigError, match=says):
        parse_tool_effect(text)


def test_server_spec_parsing():
    url = McpServer.parse("http://127.0.0.1:9/mcp")
    assert url.transport == "http" and url.target == "http://127.0.0.1:9/mcp"
    cmd = McpServer.parse("python 'my server.py' --flag")
    assert cmd.transport == "stdio" and cmd.command == ("python", "my server.py", "--flag")
    for bad, says in (("", "needs a command line"), ("ftp://x/y", "unsupported scheme"),
                      ("python 'unclosed", "cannot read")):
        with pytest.raises(McpConfigError, match=says):
            McpServer.parse(bad)


def test_compensation_arguments_come_from_the_result_then_the_arguments():
    schema = {"type": "object", "properties": {"hold_id": {"type": "string"}},
              "required": ["hold_id"]}
    assert compensation_arguments(schema, {"seat": "4A"}, {"hold_id": "h1", "x": 1}) == {
        "hold_id": "h1"
    }
    with pytest.raises(Exception, match="cannot build the compensating call"):
        compensation_arguments(schema, {"seat": "4A"}, "not an object")


def test_a_missing_mcp_sdk_is_one_line_naming_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "mcp", None)  # as if the mcp extra were not installed
    clock = RealClock()

    async def main():
        async with Toolset.from_mcp(stdio_command(), clock=clock):
            pass

    with pytest.raises(MissingExtraError) as caught:
        clock.run(main())
    message = str(caught.value)
    assert "\n" not in message and "pip install 'specagent[mcp]'" in message


# -- a real server over stdio -----------------------------------------------------------------


def run(clock: Clock, coro):
    return clock.run(coro)


@pytest.mark.parametrize("clock_kind", ["virtual", "real"])
def test_stdio_tools_get_schema_effects_and_their_sources(clock_kind):
    clock: Clock = VirtualClock() if clock_kind == "virtual" else RealClock()

    @tool(effect=Effect.READ_ONLY)
    async def local_time() -> str:
        """The local time."""
        return "12:00"

    async def main():
        async with Toolset.from_mcp(
            stdio_command(),
            clock=clock,
            tools=[local_time],
            overrides={"send_message": Effect.READ_ONLY},
            virtual_cost_s=0.25,
        ) as tools:
            assert isinstance(tools, McpToolset)
            weather = await tools["get_weather"].call({"city": "Paris"})
            return tools, weather, clock.now()

    tools, weather, now = run(clock, main())
    origins = {name: (o.effect, o.source) for name, o in tools.origins.items()}
    assert origins["local_time"] == (Effect.READ_ONLY, EffectSource.DECLARED)
    assert origins["get_weather"] == (Effect.READ_ONLY, EffectSource.ANNOTATION)
    assert origins["book_table"] == (Effect.IRREVERSIBLE, EffectSource.ANNOTATION)
    assert origins["set_reminder"] == (Effect.IDEMPOTENT, EffectSource.ANNOTATION)
    assert origins["delete_note"] == (Effect.IRREVERSIBLE, EffectSource.DEFAULT)
    assert origins["wipe_cache"] == (Effect.IRREVERSIBLE, EffectSource.DEFAULT)  # contradictory
    assert origins["hold_seat"] == (Effect.IRREVERSIBLE, EffectSource.DEFAULT)  # no annotations
    assert origins["send_message"] == (Effect.READ_ONLY, EffectSource.OVERRIDE)
    assert tools["book_table"].effect is Effect.IRREVERSIBLE
    assert tools["get_weather"].parameters["required"] == ["city"]
    assert tools.origins["get_weather"].hints == ToolHints(read_only=True)
    with pytest.raises(Exception, match="city"):
        tools["get_weather"].validate({})
    assert weather == {"city": "Paris", "sky": "sunny", "high_c": 21}
    if clock_kind == "virtual":
        assert now == 0.25  # frozen while on the wire, then charged the fixed cost
    with pytest.raises(RuntimeError, match="closed"):  # the connection ended with the block
        run(RealClock(), tools["get_weather"].call({"city": "Paris"}))


def test_errors_timeouts_and_cancellation_through_the_executor_on_the_virtual_clock():
    clock = VirtualClock()
    events: list[Event] = []

    async def main():
        async with Toolset.from_mcp(stdio_command(), clock=clock, timeout_s=0.5,
                                    virtual_cost_s=0.1) as tools:
            async with ToolExecutor(tools, clock, events.append) as executor:
                failing = executor.submit(1, "fail", {})
                hanging = executor.submit(2, "hang", {})
                await failing.done
                await hanging.done
            return await tools["journal"].call({})

    journal = run(clock, main())
    failed = {e.call_id: e for e in events if isinstance(e, ToolCallFailed)}
    assert failed[1].error_type == "tool_error"
    assert "McpToolError" in failed[1].error and "the database is on fire" in failed[1].error
    assert failed[2].error_type == "timeout" and "0.5 s timeout" in failed[2].error
    assert failed[2].t == pytest.approx(0.5)  # charged its timeout in simulated time
    assert journal == ["fail", "hang started", "hang cancelled"]  # the server was told


def test_cancelling_a_running_call_tells_the_server_on_the_real_clock():
    clock = RealClock()
    events: list[Event] = []

    async def main():
        async with Toolset.from_mcp(stdio_command(), clock=clock) as tools:
            async with ToolExecutor(tools, clock, events.append) as executor:
                rec = executor.submit(1, "hang", {})
                while rec.started_s is None:
                    await asyncio.sleep(0)
                journal: list = []
                while "hang started" not in journal:  # until the server is inside the tool
                    journal = await tools["journal"].call({})
                executor.cancel(1, "not needed")
            for _ in range(200):  # the cancel notification is on its way: poll the server
                journal = await tools["journal"].call({})
                if "hang cancelled" in journal:
                    break
            return journal

    assert run(clock, main())[-1] == "hang cancelled"


def test_reversible_override_compensates_with_the_named_mcp_tool():
    clock = VirtualClock()
    events: list[Event] = []

    async def main():
        async with Toolset.from_mcp(
            stdio_command(),
            clock=clock,
            overrides={"hold_seat": ToolOverride(Effect.REVERSIBLE, "release_seat")},
        ) as tools:
            assert tools.origins["hold_seat"].compensate_with == "release_seat"
            async with ToolExecutor(tools, clock, events.append) as executor:
                rec = executor.submit(1, "hold_seat", {"seat": "4A"})
                await rec.done
                executor.withdraw(1, "the user changed their mind")
                await executor.quiesce()
            return await tools["journal"].call({})

    journal = run(clock, main())
    assert journal == ["hold_seat 4A -> h1", "release_seat h1"]
    assert any(isinstance(e, ToolCallCompensated) and e.call_id == 1 for e in events)


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        ({"no_such_tool": Effect.READ_ONLY}, "names no MCP tool: no_such_tool"),
        ({"hold_seat": ToolOverride(Effect.REVERSIBLE, "undo_it")}, "'undo_it'.*not an MCP tool"),
    ],
)
def test_bad_overrides_are_refused_at_connect(overrides, says):
    clock = RealClock()

    async def main():
        async with Toolset.from_mcp(stdio_command(), clock=clock, overrides=overrides):
            pass

    with pytest.raises(McpConfigError, match=says):
        run(clock, main())


def test_the_same_tool_name_on_two_servers_is_refused():
    clock = RealClock()

    async def main():
        async with Toolset.from_mcp(stdio_command(), stdio_command("--prefix", ""), clock=clock):
            pass

    with pytest.raises(McpConfigError, match="'get_weather' is offered by both"):
        run(clock, main())


def test_a_server_that_dies_fails_its_calls_clearly():
    clock = VirtualClock()

    async def main():
        async with Toolset.from_mcp(stdio_command(), clock=clock) as tools:
            with pytest.raises(McpServerGone, match="closed the connection"):
                await tools["crash"].call({})
            with pytest.raises(McpServerGone, match="is gone"):  # and every later call
                await tools["get_weather"].call({"city": "Oslo"})

    run(clock, main())


def test_unreachable_servers_raise_a_typed_error_naming_them():
    clock = RealClock()
    missing = "/nonexistent/specagent-mcp-server --stdio"
    mute = shlex.join([sys.executable, "-c", "import time; time.sleep(60)"])

    async def connect(target: str, **options):
        async with Toolset.from_mcp(target, clock=clock, **options):
            pass

    with pytest.raises(McpConnectError, match="command not found") as caught:
        run(clock, connect(missing))
    assert caught.value.server == missing and missing in str(caught.value)
    with pytest.raises(McpConnectError, match="no MCP handshake within 1 s"):
        run(clock, connect(mute, connect_timeout_s=1.0))
    proc, url = start_http_server()
    stop(proc)  # a port that was just free: nothing listens there now
    with pytest.raises(McpConnectError, match="ConnectError") as caught:
        run(clock, connect(url))
    assert caught.value.server == url


# -- a real server over streamable HTTP -------------------------------------------------------


def test_streamable_http_tools_and_a_server_killed_mid_session(http_server):
    proc, url = http_server
    clock = VirtualClock()

    async def main():
        async with Toolset.from_mcp(url, clock=clock, timeout_s=5.0) as tools:
            assert tools.origins["get_weather"].server == url
            weather = await tools["get_weather"].call({"city": "Lima"})
            with pytest.raises(McpToolError, match="the database is on fire"):
                await tools["fail"].call({})
            proc.kill()
            proc.wait()
            with pytest.raises(McpServerGone) as gone:
                await tools["get_weather"].call({"city": "Lima"})
            return weather, gone.value

    weather, gone = run(clock, main())
    assert weather["city"] == "Lima"
    assert url in str(gone)


def test_finished_events_carry_the_mcp_result():
    clock = VirtualClock()
    events: list[Event] = []

    async def main():
        async with Toolset.from_mcp(stdio_command(), clock=clock, virtual_cost_s=0.3) as tools:
            async with ToolExecutor(tools, clock, events.append) as executor:
                rec = executor.submit(1, "book_table", {"restaurant": "Chez Lili", "time": "20:00"})
                await rec.done

    run(clock, main())
    finished = [e for e in events if isinstance(e, ToolCallFinished)]
    assert finished[0].result == {"booking": "Chez Lili@20:00", "confirmed": True}
    assert finished[0].t == pytest.approx(0.3)
