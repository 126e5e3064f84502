"""Tools (schemas, validation, effects) and the executor, run on a virtual clock."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import jsonschema
import pydantic
import pytest

from specagent.clock import VirtualClock
from specagent.events import (
    Event,
    ToolCallCancelled,
    ToolCallFailed,
    ToolCallFinished,
    ToolCallHeld,
    ToolCallStarted,
)
from specagent.executor import CallStatus, ToolExecutor
from specagent.tools import (
    Effect,
    InvalidArgumentsError,
    Tool,
    Toolset,
    UnknownToolError,
    tool,
)

# -- tools ------------------------------------------------------------------------------------


@tool(timeout_s=5.0)
async def get_weather(city: str, unit: str = "C", days: int = 1) -> dict[str, Any]:
    """Current weather for a city,
    in the unit asked for.

    Longer notes that the model does not need.
    """
    await asyncio.sleep(0.5)
    return {"city": city, "unit": unit, "temp": 18}


def test_tool_builds_schema_from_signature() -> None:
    assert isinstance(get_weather, Tool)
    assert get_weather.name == "get_weather"
    assert get_weather.description == "Current weather for a city, in the unit asked for."
    assert get_weather.effect is Effect.READ_ONLY
    assert get_weather.timeout_s == 5.0
    assert get_weather.parameters == {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "unit": {"type": "string", "default": "C"},
            "days": {"type": "integer", "default": 1},
        },
        "required": ["city"],
        "additionalProperties": False,
    }
    assert get_weather.schema() == {
        "name": "get_weather",
        "description": get_weather.description,
        "parameters": get_weather.parameters,
    }
    # The generated schema is itself valid JSON Schema.
    jsonschema.Draft202012Validator.check_schema(dict(get_weather.parameters))


def test_tool_options_and_name_override() -> None:
    async def undo(arguments: dict[str, Any], result: Any) -> None:
        return None

    @tool(effect=Effect.REVERSIBLE, compensate=undo, name="reserve", timeout_s=2.0)
    async def book_table(time: str, party: int) -> str:
        """Book a table."""
        return "ok"

    assert book_table.name == "reserve"
    assert book_table.effect is Effect.REVERSIBLE and book_table.effect.changes_state
    assert book_table.compensate is undo
    assert book_table.parameters["required"] == ["time", "party"]


def test_tool_requires_async_function() -> None:
    with pytest.raises(TypeError, match="async"):

        @tool()
        def sync_tool(x: int) -> int:  # type: ignore[arg-type]
            return x


def test_effect_changes_state() -> None:
    assert not Effect.READ_ONLY.changes_state
    assert Effect.IDEMPOTENT.changes_state  # a repeat is harmless, a wrong guess is not
    assert Effect.REVERSIBLE.changes_state
    assert Effect.IRREVERSIBLE.changes_state


def test_validate_accepts_good_arguments_and_fills_defaults() -> None:
    assert get_weather.validate({"city": "Paris"}) == {"city": "Paris", "unit": "C", "days": 1}
    assert get_weather.validate({"city": "Oslo", "unit": "F", "days": 3}) == {
        "city": "Oslo",
        "unit": "F",
        "days": 3,
    }


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({}, "city"),
        ({"city": 3}, "city"),
        ({"city": "Paris", "days": "many"}, "days"),
        ({"city": "Paris", "country": "FR"}, "country"),
    ],
)
def test_validate_rejects_bad_arguments_naming_the_field(arguments: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidArgumentsError) as info:
        get_weather.validate(arguments)
    assert info.value.error_type == "invalid_arguments"
    assert info.value.tool_name == "get_weather"
    assert info.value.detail.startswith(f"{field}:") or f"; {field}:" in info.value.detail
    assert str(info.value).startswith("invalid arguments for get_weather:")


BOOKING_SCHEMA = {
    "type": "object",
    "properties": {
        "restaurant": {"type": "string"},
        "party": {"type": "integer", "minimum": 1},
        "time": {"type": "string", "pattern": "^[0-2][0-9]:[0-5][0-9]$"},
    },
    "required": ["restaurant", "party"],
    "additionalProperties": False,
}


async def _book(**kwargs: Any) -> dict[str, Any]:
    return {"booked": True, **kwargs}


def test_from_json_schema_validates_with_jsonschema() -> None:
    booking = Tool.from_json_schema(
        "book_table", "Book a table.", BOOKING_SCHEMA, _book, effect=Effect.IRREVERSIBLE
    )
    assert booking.effect is Effect.IRREVERSIBLE
    assert booking.args_model is None
    good = {"restaurant": "Chez Nous", "party": 2, "time": "20:00"}
    assert booking.validate(good) == good
    with pytest.raises(InvalidArgumentsError, match="party"):
        booking.validate({"restaurant": "Chez Nous", "party": 0})
    with pytest.raises(InvalidArgumentsError, match="time"):
        booking.validate({"restaurant": "Chez Nous", "party": 2, "time": "8pm"})
    with pytest.raises(InvalidArgumentsError, match="restaurant"):
        booking.validate({"party": 2})  # reported at the root, naming the missing property
    with pytest.raises(InvalidArgumentsError) as info:
        booking.validate({"restaurant": 5, "party": "two"})
    assert "party:" in info.value.detail and "restaurant:" in info.value.detail


def test_from_json_schema_rejects_invalid_schema() -> None:
    with pytest.raises(jsonschema.SchemaError):
        Tool.from_json_schema("bad", "", {"type": "nonsense"}, _book)


def test_reversible_without_compensate_raises() -> None:
    with pytest.raises(ValueError, match="compensate"):
        Tool("undoable", "", {"type": "object"}, _book, effect=Effect.REVERSIBLE)
    with pytest.raises(ValueError, match="compensate"):
        Tool.from_json_schema("undoable", "", BOOKING_SCHEMA, _book, effect=Effect.REVERSIBLE)

    with pytest.raises(ValueError, match="compensate"):

        @tool(effect=Effect.REVERSIBLE)
        async def reserve(x: int) -> int:
            return x


def test_non_positive_timeout_raises() -> None:
    with pytest.raises(ValueError, match="timeout"):
        Tool("t", "", {"type": "object"}, _book, timeout_s=0)


def test_toolset_lookup() -> None:
    booking = Tool.from_json_schema("book_table", "Book.", BOOKING_SCHEMA, _book)
    tools = Toolset([get_weather, booking])
    assert tools["get_weather"] is get_weather
    assert list(tools) == ["get_weather", "book_table"]
    assert len(tools) == 2
    assert "book_table" in tools and "nope" not in tools
    assert tools.get("nope") is None
    assert [s["name"] for s in tools.schemas()] == ["get_weather", "book_table"]
    with pytest.raises(UnknownToolError) as info:
        tools["send_email"]
    assert info.value.error_type == "unknown_tool"
    assert info.value.name == "send_email"
    assert info.value.known == ["book_table", "get_weather"]
    assert "available tools: book_table, get_weather" in str(info.value)


def test_toolset_rejects_duplicate_names() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        Toolset([get_weather, get_weather])


# -- executor harness -------------------------------------------------------------------------


class Probe:
    """Shared state the test tools write to."""

    def __init__(self) -> None:
        self.cancelled: list[str] = []
        self.calls: list[tuple[str, float]] = []


@dataclass
class Forecast:
    city: str
    temp: int


class ForecastModel(pydantic.BaseModel):
    city: str
    temp: int


def make_toolset(clock: VirtualClock, probe: Probe) -> Toolset:
    @tool(timeout_s=5.0)
    async def weather(city: str) -> dict[str, Any]:
        """Weather."""
        probe.calls.append(("weather", clock.now()))
        await clock.sleep(0.5)
        return {"city": city, "temp": 18}

    @tool(timeout_s=30.0)
    async def slow(seconds: float) -> float:
        """Sleeps, noticing cancellation."""
        probe.calls.append(("slow", clock.now()))
        try:
            await clock.sleep(seconds)
        except asyncio.CancelledError:
            probe.cancelled.append("slow")
            raise
        return seconds

    @tool(timeout_s=5.0)
    async def hang() -> None:
        """Never returns."""
        probe.calls.append(("hang", clock.now()))
        await asyncio.Event().wait()

    @tool()
    async def broken(city: str) -> None:
        """Always fails."""
        raise LookupError(f"no such city: {city}")

    @tool(effect=Effect.IRREVERSIBLE)
    async def book(party: int) -> dict[str, Any]:
        """Books."""
        probe.calls.append(("book", clock.now()))
        await clock.sleep(1.0)
        return {"booked": party}

    @tool()
    async def as_dataclass() -> Forecast:
        """Returns a dataclass."""
        return Forecast("Paris", 18)

    @tool()
    async def as_model() -> ForecastModel:
        """Returns a pydantic model."""
        return ForecastModel(city="Paris", temp=18)

    return Toolset([weather, slow, hang, broken, book, as_dataclass, as_model])


Latency = Callable[[str, Any], float]


def run_session(
    body: Callable[[ToolExecutor, VirtualClock, Probe], Awaitable[Any]],
    *,
    latency: Latency | None = None,
) -> tuple[list[Event], Probe, Any]:
    """Run ``body`` inside an executor on a fresh virtual clock; return the events seen."""
    clock = VirtualClock()
    probe = Probe()
    events: list[Event] = []

    async def main() -> Any:
        async with ToolExecutor(make_toolset(clock, probe), clock, events.append, latency=latency) as ex:
            return await body(ex, clock, probe)

    result = clock.run(main())
    return events, probe, result


def kinds(events: list[Event]) -> list[tuple[str, int, float]]:
    return [(type(e).__name__, e.call_id, e.t) for e in events]  # type: ignore[attr-defined]


# -- executor: the happy path -----------------------------------------------------------------


def test_events_in_order_with_virtual_times_and_latency() -> None:
    seen_latency_args: list[tuple[str, dict[str, Any]]] = []

    def latency(name: str, arguments: Any) -> float:
        seen_latency_args.append((name, dict(arguments)))
        return 0.25

    async def body(ex: ToolExecutor, clock: VirtualClock, probe: Probe) -> Any:
        await clock.sleep(1.0)
        rec = ex.submit(1, "weather", {"city": "Paris"})
        assert rec.status is CallStatus.WAITING and rec.issued_s == 1.0 and rec.effect is Effect.READ_ONLY
        await rec.done
        return rec

    events, probe, rec = run_session(body, latency=latency)
    assert kinds(events) == [("ToolCallStarted", 1, 1.0), ("ToolCallFinished", 1, 1.75)]
    assert events[1].result == {"city": "Paris", "temp": 18}  # type: ignore[attr-defined]
    assert seen_latency_args == [("weather", {"city": "Paris"})]
    assert probe.calls == [("weather", 1.25)]  # the tool's own code runs after the latency
    assert rec.status is CallStatus.DONE and not rec.held
    assert (rec.issued_s, rec.started_s, rec.finished_s) == (1.0, 1.0, 1.75)
    assert rec.result == {"city": "Paris", "temp": 18}
    assert rec.error is None and rec.error_type is None


def test_concurrent_calls_overlap_in_virtual_time() -> None:
    async def body(ex: ToolExecutor, clock: VirtualClock, probe: Probe) -> Any:
        ex.submit(1, "slow", {"seconds": 2.0})
        ex.submit(2, "weather", {"city": "Oslo"})
        await asyncio.gather(ex.records[1].done, ex.records[2].done)
        return clock.now()

    events, _, end = run_session(body)
    assert end == 2.0  # not 2.5: the calls ran concurrently
    assert kinds(events) == [
        ("ToolCallStarted", 1, 0.0),
        ("ToolCallStarted", 2, 0.0),
        ("ToolCallFinished", 2, 0.5),
        ("ToolCallFinished", 1, 2.0),
    ]


def test_per_tool_latency_function() -> None:
    async def body(ex: ToolExecutor, clock: VirtualClock, probe: Probe) -> Any:
        ex.submit(1, "weather", {"city": "Paris"})
        ex.submit(2, "book", {"party": 2})
        await asyncio.gather(ex.records[1].done, ex.records[2].done)

    events, _, _ = run_session(body, latency=lambda name, args: 3.0 if name == "book" else 0.5)
    finished = {e.call_id: e.t for e in events if isinstance(e, ToolCallFinished)}
    assert finished == {1: 1.0, 2: 4.0}


def test_results_are_made_jsonable() -> None:
    async def body(ex: ToolExecutor, clock: VirtualClock, probe: Probe) -> Any:
        ex.submit(1, "as_dataclass", {})
        ex.submit(2, "as_model", {})
        await asyncio.gather(ex.records[1].done, ex.records[2].done)
        return ex.records[1].result, ex.records[2].result

    _, _, (r1, r2) = run_session(body)
    assert r1 == {"city": "Paris", "temp": 18}
    assert r2 == {"city": "Paris", "temp": 18}


# -- executor: failures -----------------------------------------------------------------------


def test_unknown_tool_fails_without_a_task() -> None:
    async def body(ex: ToolExecutor, clock: VirtualClock, probe: Probe) -> Any:
        await clock.sleep(0.5)
        rec = ex.submit(1, "send_email", {"to": "x"})
        assert rec.status is CallStatus.FAILED and rec.done.done()
        assert ex.live_tasks() == 0
        assert asyncio.all_tasks() == {asyncio.current_task()}
        return rec

    events, _, rec = run_session(body)
    assert len(events) == 1
    failed = events[0]
    assert isinstance(failed, ToolCallFailed)
    assert (failed.call_id, failed.t, failed.error_type) == (1, 0.5, "unknown_tool")
    assert "send_email" in failed.error and "weather" in failed.error  # lists known tools
    assert rec.error_type == "unknown_tool" and rec.effect is None


def test_invalid_arguments_fail_without_a_task() -> None:
    async def body(ex: ToolExecutor, clock: VirtualClock, probe: Probe) -> Any:
        rec = ex.submit(1, "weather", {"town": "Paris"})
        assert ex.live_tasks() == 0
        await clock.sleep(1.0)
        return rec

    events, probe, rec = run_session(body)
    assert len(events) == 1 and isinstance(events[0], ToolCallFailed)
    assert events[0].error_type == "invalid_arguments"
    assert "city" in events[0].error and "town" in events[0].error
    assert rec.status is CallStatus.FAILED
    assert probe.calls == []  # the tool never ran


def test_tool_exception_becomes_tool_error() -> None:
    async def body(ex: ToolExecutor, clock: VirtualClock, probe: Probe) -> Any:
        ex.submit(1, "broken", {"city": "Atlantis"})
        await ex.records[1].done
        # The session survives: the next call still works.
        ex.submit(2, "weather", {"city": "Paris"})
        await ex.records[2].done
        return ex.records[1], ex.records[2]

    events, _, (rec1, rec2) = run_session(body)
    failed = [e for e in events if isinstance(e, ToolCallFailed)]
    assert len(failed) == 1
    assert failed[0].error_type == "tool_error"
    assert failed[0].error == "LookupError: no such city: Atlantis"
    assert rec1.status is CallStatus.FAILED and rec1.error_type == "tool_error"
    assert rec2.status is CallStatus.DONE


def test_hanging_tool_times_out_at_exactly_timeout_s() -> None:
    async def body(ex: ToolExecutor, clock: VirtualClock, probe: Probe) -> Any:
        await clock.sleep(1.5)
        ex.submit(1, "hang", {})
        await ex.records[1].done
        return ex.records[1]

    events, _, rec = run_session(body)
    assert kinds(events) == [("ToolCallStarted", 1, 1.5), ("ToolCallFailed", 1, 6.5)]
    assert events[1].error_type == "timeout"  # type: ignore[attr-defined]
    assert "5 s timeout" in events[1].error  # type: ignore[attr-defined]
    assert rec.finished_s - rec.started_s == 5.0
    assert rec.status is CallStatus.FAILED


def test_latency_counts_towards_the_timeout() -> None:
    async def body(ex: ToolExecutor, clock: VirtualClock, probe: Probe) -> Any:
        ex.submit(1, "weather", {"city": "Paris"})  # 4.75 s latency + 0.5 s work > 5 s timeout
        await ex.records[1].done

    events, probe, _ = run_session(body, latency=lambda name, args: 4.75)
    assert kinds(events) == [("ToolCallStarted", 1, 0.0), ("ToolCallFailed", 1, 5.0)]
    assert events[1].error_type == "timeout"  # type: ignore[attr-defined]
    assert probe.calls == [("weather", 4.75)]


# -- executor: holds --------------------------------------------------------------------------


def test_held_call_waits_until_committed() -> None:
    async def body(ex: ToolExecutor, clock: VirtualClock, probe: Probe) -> Any:
        rec = ex.submit(1, "book", {"party": 2}, hold=True, hold_reason="awaiting final update")
        await clock.sleep(3.0)
        assert rec.status is CallStatus.WAITING and rec.held
        assert probe.calls == []
        assert ex.commit(1)
        await rec.done
        return rec

    events, probe, rec = run_session(body)
    assert kinds(events) == [
        ("ToolCallHeld", 1, 0.0),
        ("ToolCallStarted", 1, 3.0),
        ("ToolCallFinished", 1, 4.0),
        ("ToolCallCommitted", 1, 4.0),
    ]
    assert events[0].reason == "awaiting final update"  # type: ignore[attr-defined]
    assert probe.calls == [("book", 3.0)]
    assert rec.held and rec.status is CallStatus.DONE


def test_a_call_not_held_does_not_wait() -> None:
    async def body(ex: ToolExecutor, clock: VirtualClock, probe: Probe) -> Any:
        rec = ex.submit(1, "book", {"party": 2})
        await rec.done
        return rec

    events, _, rec = run_session(body)
    assert not any(isinstance(e, ToolCallHeld) for e in events)
    assert not rec.held


def test_cancel_held_call_never_runs() -> None:
    async def body(ex: ToolExecutor, clock: VirtualClock, probe: Probe) -> Any:
        ex.submit(1, "book", {"party": 2}, hold=True)
        await clock.sleep(1.0)
        assert ex.cancel(1, "user changed their mind")
        assert not ex.commit(1)  # a cancelled call cannot be committed any more
        await clock.sleep(5.0)
        return ex.records[1]

    events, probe, rec = run_session(body)
    assert kinds(events) == [("ToolCallHeld", 1, 0.0), ("ToolCallCancelled", 1, 1.0)]
    assert events[1].reason == "user changed their mind"  # type: ignore[attr-defined]
    assert probe.calls == []
    assert rec.status is CallStatus.CANCELLED


# -- executor: dependencies -------------------------------------------------------------------


def test_dependant_waits_for_dependency_result() -> None:
    async def body(ex: ToolExecutor, clock: VirtualClock, probe: Probe) -> Any:
        ex.submit(1, "slow", {"seconds": 2.0})
        ex.submit(2, "weather", {"city": "Paris"}, depends=(1,))
        await clock.sleep(1.0)
        assert ex.records[2].status is CallStatus.WAITING
        await ex.records[2].done
        return ex.records[1], ex.records[2]

    events, probe, (rec1, rec2) = run_session(body)
    assert kinds(events) == [
        ("ToolCallStarted", 1, 0.0),
        ("ToolCallFinished", 1, 2.0),
        ("ToolCallStarted", 2, 2.0),
        ("ToolCallFinished", 2, 2.5),
    ]
    assert rec1.status is CallStatus.DONE and rec2.status is CallStatus.DONE
    assert rec2.depends == (1,)


def test_dependant_hold_is_checked_after_dependencies() -> None:
    async def body(ex: ToolExecutor, clock: VirtualClock, probe: Probe) -> Any:
        ex.submit(1, "weather", {"city": "Paris"})
        ex.submit(2, "book", {"party": 2}, depends=(1,), hold=True)
        await clock.sleep(2.0)
        ex.commit(2)
        await ex.records[2].done

    events, _, _ = run_session(body)
    assert kinds(events) == [
        ("ToolCallStarted", 1, 0.0),
        ("ToolCallFinished", 1, 0.5),
        ("ToolCallHeld", 2, 0.5),
        ("ToolCallStarted", 2, 2.0),
        ("ToolCallFinished", 2, 3.0),
        ("ToolCallCommitted", 2, 3.0),
    ]


def test_dependency_failure_fails_dependant() -> None:
    async def body(ex: ToolExecutor, clock: VirtualClock, probe: Probe) -> Any:
        ex.submit(1, "broken", {"city": "Atlantis"})
        ex.submit(2, "book", {"party": 2}, depends=(1,))
        await ex.records[2].done
        return ex.records[2]

    events, probe, rec2 = run_session(body)
    assert [(type(e).__name__, e.call_id) for e in events] == [  # type: ignore[attr-defined]
        ("ToolCallStarted", 1),
        ("ToolCallFailed", 1),
        ("ToolCallFailed", 2),
    ]
    assert events[2].error_type == "dependency_failed"  # type: ignore[attr-defined]
    assert "call 1" in events[2].error and "failed" in events[2].error  # type: ignore[attr-defined]
    assert rec2.status is CallStatus.FAILED
    assert probe.calls == []  # book never ran


def test_cancelled_dependency_fails_dependant() -> None:
    async def body(ex: ToolExecutor, clock: VirtualClock, probe: Probe) -> Any:
        ex.submit(1, "slow", {"seconds": 10.0})
        ex.submit(2, "book", {"party": 2}, depends=(1,))
        await clock.sleep(1.0)
        ex.cancel(1, "removed by model")
        await ex.records[2].done
        return ex.records[2]

    events, probe, rec2 = run_session(body)
    assert kinds(events) == [
        ("ToolCallStarted", 1, 0.0),
        ("ToolCallCancelled", 1, 1.0),
        ("ToolCallFailed", 2, 1.0),
    ]
    assert events[2].error_type == "dependency_failed"  # type: ignore[attr-defined]
    assert "cancelled" in events[2].error  # type: ignore[attr-defined]
    assert probe.calls == [("slow", 0.0)]


def test_dependency_that_failed_at_submit_fails_dependant() -> None:
    async def body(ex: ToolExecutor, clock: VirtualClock, probe: Probe) -> Any:
        ex.submit(1, "no_such_tool", {})
        ex.submit(2, "weather", {"city": "Paris"}, depends=(1,))
        await ex.records[2].done

    events, _, _ = run_session(body)
    assert [(e.call_id, e.error_type) for e in events] == [  # type: ignore[attr-defined]
        (1, "unknown_tool"),
        (2, "dependency_failed"),
    ]


@pytest.mark.parametrize("depends", [(7,), (1,)])
def test_depends_on_unknown_or_own_id_fails_at_once(depends: tuple[int, ...]) -> None:
    async def body(ex: ToolExecutor, clock: VirtualClock, probe: Probe) -> Any:
        rec = ex.submit(1, "weather", {"city": "Paris"}, depends=depends)
        assert ex.live_tasks() == 0
        return rec

    events, probe, rec = run_session(body)
    assert len(events) == 1 and isinstance(events[0], ToolCallFailed)
    assert events[0].error_type == "dependency_failed"
    assert "unknown call id" in events[0].error
    assert rec.status is CallStatus.FAILED and probe.calls == []


# -- executor: cancellation and shutdown ------------------------------------------------------


def test_cancel_running_call() -> None:
    async def body(ex: ToolExecutor, clock: VirtualClock, probe: Probe) -> Any:
        ex.submit(1, "slow", {"seconds": 10.0})
        await clock.sleep(2.0)
        assert ex.records[1].status is CallStatus.RUNNING
        assert ex.cancel(1, "removed")
        assert ex.records[1].status is CallStatus.CANCELLED
        assert not ex.cancel(1, "again")  # already ended
        await clock.sleep(20.0)  # long past when the tool would have finished
        assert ex.live_tasks() == 0
        return ex.records[1]

    events, probe, rec = run_session(body)
    assert kinds(events) == [("ToolCallStarted", 1, 0.0), ("ToolCallCancelled", 1, 2.0)]
    assert events[1].reason == "removed"  # type: ignore[attr-defined]
    assert probe.cancelled == ["slow"]  # the tool's coroutine saw CancelledError
    assert rec.finished_s == 2.0 and rec.result is None


def test_cancel_unknown_or_finished_call_returns_false() -> None:
    async def body(ex: ToolExecutor, clock: VirtualClock, probe: Probe) -> Any:
        assert not ex.cancel(99, "no such call")
        ex.submit(1, "weather", {"city": "Paris"})
        await ex.records[1].done
        assert not ex.cancel(1, "too late")
        return ex.records[1]

    events, _, rec = run_session(body)
    assert not any(isinstance(e, ToolCallCancelled) for e in events)
    assert rec.status is CallStatus.DONE


def test_resubmitting_an_id() -> None:
    async def body(ex: ToolExecutor, clock: VirtualClock, probe: Probe) -> Any:
        ex.submit(1, "slow", {"seconds": 10.0})
        with pytest.raises(ValueError, match="in flight"):
            ex.submit(1, "weather", {"city": "Paris"})
        ex.cancel(1, "revised")
        rec = ex.submit(1, "weather", {"city": "Lyon"})  # a revision reuses the id
        await rec.done
        return rec

    _, _, rec = run_session(body)
    assert rec.status is CallStatus.DONE and rec.result == {"city": "Lyon", "temp": 18}


def test_submit_outside_context_raises() -> None:
    clock = VirtualClock()

    async def main() -> None:
        ex = ToolExecutor(Toolset([get_weather]), clock, lambda e: None)
        with pytest.raises(RuntimeError, match="async with"):
            ex.submit(1, "get_weather", {"city": "Paris"})

    clock.run(main())


def test_leaving_executor_cancels_calls_in_flight() -> None:
    clock = VirtualClock()
    probe = Probe()
    events: list[Event] = []

    async def main() -> None:
        ex = ToolExecutor(make_toolset(clock, probe), clock, events.append)
        async with ex:
            ex.submit(1, "slow", {"seconds": 100.0})  # running
            ex.submit(2, "book", {"party": 2}, hold=True)  # held
            ex.submit(3, "weather", {"city": "Paris"}, depends=(1,))  # waiting on 1
            ex.submit(4, "weather", {"city": "Oslo"})  # finishes first
            await clock.sleep(1.0)
            assert ex.live_tasks() == 3
        assert ex.live_tasks() == 0
        assert asyncio.all_tasks() == {asyncio.current_task()}
        assert [ex.records[i].status for i in (1, 2, 3, 4)] == [
            CallStatus.CANCELLED,
            CallStatus.CANCELLED,
            CallStatus.CANCELLED,
            CallStatus.DONE,
        ]
        assert ex.unfinished() == []
        end = clock.now()
        await clock.sleep(200.0)  # nothing left to wake up and emit
        assert all(e.t <= end for e in events)

    clock.run(main())
    cancelled = [e for e in events if isinstance(e, ToolCallCancelled)]
    assert sorted(e.call_id for e in cancelled) == [1, 2, 3]
    assert {e.reason for e in cancelled} == {"session ended"}
    assert {e.t for e in cancelled} == {1.0}
    assert probe.cancelled == ["slow"]
    assert not any(isinstance(e, ToolCallStarted) and e.call_id in (2, 3) for e in events)


def test_cancel_can_be_marked_silent_for_the_model() -> None:
    async def body(ex: ToolExecutor, clock: VirtualClock, probe: Probe) -> Any:
        ex.submit(1, "slow", {"seconds": 10.0})
        ex.submit(2, "slow", {"seconds": 10.0})
        await clock.sleep(1.0)
        ex.cancel(1, "revised", notify=False)
        ex.cancel(2, "removed by the model")

    events, _, _ = run_session(body)
    cancelled = {e.call_id: e.notify_model for e in events if isinstance(e, ToolCallCancelled)}
    assert cancelled == {1: False, 2: True}
