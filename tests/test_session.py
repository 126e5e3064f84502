"""The session state machine on a scripted model and the virtual clock."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from specagent.agent import AgentState, Policy, Session, SessionConfig
from specagent.clock import VirtualClock
from specagent.events import (
    ModelOutput,
    ProtocolError,
    ToolCallCancelled,
    ToolCallFailed,
    ToolCallFinished,
    ToolCallHeld,
    ToolCallRemoved,
    ToolCallRevised,
    UserSpeech,
)
from specagent.models import ScriptedBackend
from specagent.models.scripted import split_tokens
from specagent.protocol import ChatMessage
from specagent.tools import Effect, Toolset, tool


@dataclass
class World:
    booked: list[str] = field(default_factory=list)
    lookups: int = 0


def make_tools(world: World) -> Toolset:
    @tool(effect=Effect.READ_ONLY, timeout_s=5.0)
    async def lookup(city: str) -> dict:
        """Look a city up."""
        world.lookups += 1
        return {"city": city, "sky": "sunny"}

    @tool(effect=Effect.IRREVERSIBLE, timeout_s=5.0)
    async def book(item: str) -> dict:
        """Book something."""
        world.booked.append(item)
        return {"booked": item}

    @tool(effect=Effect.READ_ONLY, timeout_s=5.0)
    async def boom() -> dict:
        """Always fails."""
        raise RuntimeError("database on fire")

    @tool(effect=Effect.READ_ONLY, timeout_s=2.0)
    async def hang() -> dict:
        """Never returns."""
        await asyncio.Event().wait()
        return {}

    return Toolset([lookup, book, boom, hang])


def call(i: int, name: str, args: str = "{}") -> str:
    return f'<tool_call id="{i}">{{"name": "{name}", "arguments": {args}}}</tool_call>'


def speech(*chunks: tuple[float, str]) -> list[UserSpeech]:
    return [
        UserSpeech(t=t, text=text, final=i == len(chunks) - 1) for i, (t, text) in enumerate(chunks)
    ]


def last_user(messages: Sequence[ChatMessage]) -> str:
    return messages[-1].content if messages[-1].role == "user" else ""


def model_said(messages: Sequence[ChatMessage]) -> str:
    return "\n".join(m.content for m in messages if m.role == "assistant")


def everything_said(messages: Sequence[ChatMessage]) -> str:
    return "\n".join(m.content for m in messages if m.role == "user")


def run(session: Session, clock: VirtualClock, chunks: list[UserSpeech]):
    async def main():
        result = await session.run(chunks)
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        return result, others

    return clock.run(main())


WEATHER = speech((1.0, "what's the weather"), (2.0, "in Paris"), (3.0, "please"))


def weather_responder(messages: Sequence[ChatMessage]) -> str:
    said = everything_said(messages)
    if "<tool_result" in said:
        return "<answer>Sunny in Paris.</answer>"
    if "Paris" in said and messages[-1].role == "user" and "tool_call" not in model_said(messages):
        return call(1, "lookup", '{"city": "Paris"}')
    return "<pause/>"


# -- policies and transitions -----------------------------------------------------------------


def test_async_runs_lookup_mid_utterance_and_answers_faster_than_sync():
    results = {}
    for policy in (Policy.SYNC, Policy.ASYNC, Policy.ORACLE):
        clock, world = VirtualClock(), World()
        backend = ScriptedBackend(clock, weather_responder)
        session = Session(backend, make_tools(world), clock, policy, latency=lambda n, a: 0.8)
        result, others = run(session, clock, WEATHER)
        assert result.ended == "answered" and result.answer == "Sunny in Paris."
        assert others == []
        results[policy] = result
    sync, asy, oracle = results[Policy.SYNC], results[Policy.ASYNC], results[Policy.ORACLE]
    # async started the lookup when "in Paris" arrived (t=2), before the final words at t=3
    assert asy.tool_calls[0].started_s < 3.0 <= sync.tool_calls[0].started_s
    assert oracle.latency_s <= asy.latency_s < sync.latency_s


def test_state_transitions_follow_the_machine():
    clock, world = VirtualClock(), World()
    session = Session(
        ScriptedBackend(clock, weather_responder), make_tools(world), clock, Policy.ASYNC
    )
    run(session, clock, WEATHER)
    states = [s for _, s in session.transitions]
    assert states[0] is AgentState.LISTENING
    assert states[-2:] == [AgentState.EMITTING, AgentState.DONE]
    assert AgentState.GENERATING in states
    allowed = {
        AgentState.IDLE: {AgentState.LISTENING},
        AgentState.LISTENING: {AgentState.GENERATING},
        AgentState.GENERATING: {AgentState.LISTENING, AgentState.EMITTING, AgentState.DONE},
        AgentState.EMITTING: {AgentState.DONE, AgentState.LISTENING},
    }
    previous = AgentState.IDLE
    for state in states:
        assert state in allowed[previous], f"{previous} -> {state}"
        previous = state


def test_pause_waits_for_the_next_event():
    clock, world = VirtualClock(), World()
    backend = ScriptedBackend(clock, weather_responder)
    session = Session(backend, make_tools(world), clock, Policy.ASYNC)
    result, _ = run(session, clock, WEATHER)
    outputs = [e for e in result.ledger if isinstance(e, ModelOutput)]
    # each pause is followed by an input before the next generation starts
    events = list(result.ledger)
    for i, e in enumerate(events):
        if isinstance(e, ModelOutput) and e.text == "<pause/>":
            later_outputs = [x for x in events[i + 1 :] if isinstance(x, ModelOutput)]
            if later_outputs:
                nxt = later_outputs[0]
                between = events[i + 1 : events.index(nxt)]
                assert any(isinstance(b, (UserSpeech, ToolCallFinished)) for b in between)
    unrecorded = result.generations - len(outputs)
    assert 0 <= unrecorded <= result.interrupted_generations + result.suppressed_answers


def test_sync_runs_tools_one_after_another():
    def responder(messages):
        said = everything_said(messages)
        if 'tool_result id="2"' in said:
            return "<answer>done</answer>"
        if 'tool_result id="1"' in said:
            return call(2, "lookup", '{"city": "Rome"}')
        return call(1, "lookup", '{"city": "Paris"}')

    clock, world = VirtualClock(), World()
    session = Session(
        ScriptedBackend(clock, responder),
        make_tools(world),
        clock,
        Policy.SYNC,
        latency=lambda n, a: 1.0,
    )
    result, _ = run(session, clock, WEATHER)
    first, second = result.tool_calls
    assert second.issued_s >= first.finished_s


# -- interrupts -------------------------------------------------------------------------------

THINKING = "<think>one two three four five six seven eight</think><pause/>"


@pytest.mark.parametrize("k", range(len(split_tokens(THINKING)) - 2))
def test_interrupt_at_every_token_position(k):
    """A chunk arriving while token k is being produced stops generation right after it."""
    ttft, token_s = 0.1, 0.02
    first_chunk_t = 1.0
    # token j (0-based) is produced at first_chunk_t + ttft + j * token_s
    arrive = first_chunk_t + ttft + k * token_s + token_s / 2
    chunks = speech((first_chunk_t, "hello"), (arrive, "there"), (arrive + 5.0, "friend"))
    seen: list[list[ChatMessage]] = []

    def responder(messages):
        seen.append(list(messages))
        return (
            THINKING
            if len(seen) == 1
            else "<pause/>"
            if "friend" not in everything_said(messages)
            else ("<answer>hi</answer>")
        )

    clock, world = VirtualClock(), World()
    backend = ScriptedBackend(clock, responder, ttft_s=ttft, token_s=token_s)
    session = Session(backend, make_tools(world), clock, Policy.ASYNC)
    result, others = run(session, clock, chunks)
    first = [e for e in result.ledger if isinstance(e, ModelOutput)][0]
    assert result.interrupted_generations >= 1
    assert first.interrupted and first.text.endswith("</think_interrupted>")
    assert first.tokens == k + 2  # stopped at the boundary right after the chunk arrived
    # the interrupting chunk is the next input the model sees
    assert "there" in seen[1][-1].content
    assert others == [] and backend.open_streams == 0


def test_sync_policy_does_not_interrupt_generation():
    clock, world = VirtualClock(), World()

    def responder(messages):
        if 'tool_result id="1"' in everything_said(messages):
            return "<answer>ok</answer>"
        return "<think>" + "x " * 40 + "</think>" + call(1, "lookup", '{"city": "Oslo"}')

    session = Session(ScriptedBackend(clock, responder), make_tools(world), clock, Policy.SYNC)
    result, _ = run(session, clock, WEATHER)
    assert result.interrupted_generations == 0 and result.answer == "ok"


def test_injection_order_user_speech_before_tool_result_at_the_same_time():
    clock, world = VirtualClock(), World()
    contexts: list[str] = []

    def responder(messages):
        contexts.append(last_user(messages))
        said = everything_said(messages)
        if "final words" in said and 'tool_result id="1"' in said:
            return "<answer>ok</answer>"
        if "tool_call" not in model_said(messages):
            return call(1, "lookup", '{"city": "Paris"}')
        return "<pause/>"

    # call 1 is issued at 1.0 + 0.1 (ttft) + 12 tokens; its result lands exactly when the user
    # speaks again.
    issue_t = 1.0 + 0.1 + 0.02 * (len(split_tokens(call(1, "lookup", '{"city": "Paris"}'))) - 1)
    chunks = speech((1.0, "start with Paris"), (issue_t + 0.5, "final words"))
    session = Session(
        ScriptedBackend(clock, responder),
        make_tools(world),
        clock,
        Policy.ASYNC,
        latency=lambda n, a: 0.5,
    )
    result, _ = run(session, clock, chunks)
    merged = [c for c in contexts if "final words" in c and "tool_result" in c]
    assert merged, contexts
    assert merged[0].index("final words") < merged[0].index("tool_result")


# -- safety -----------------------------------------------------------------------------------


def test_state_changing_call_waits_for_the_final_update():
    clock, world = VirtualClock(), World()

    def responder(messages):
        said = everything_said(messages)
        if 'tool_result id="1"' in said:
            return "<answer>booked</answer>"
        if "tool_call" not in model_said(messages):
            return call(1, "book", '{"item": "table"}')
        return "<pause/>"

    chunks = speech((1.0, "book me a table"), (2.0, "for tonight"), (6.0, "thanks"))
    session = Session(ScriptedBackend(clock, responder), make_tools(world), clock, Policy.ASYNC)
    result, _ = run(session, clock, chunks)
    (booking,) = result.tool_calls
    assert booking.held and booking.issued_s < 2.0
    assert booking.started_s >= 6.0
    assert any(isinstance(e, ToolCallHeld) for e in result.ledger)
    assert world.booked == ["table"]


# -- bad input --------------------------------------------------------------------------------


def test_malformed_output_becomes_a_protocol_error_and_the_model_recovers():
    clock, world = VirtualClock(), World()
    outputs = iter(
        ['<tool_call id="1">{"name": "lookup", "arguments": {oops', "<answer>ok</answer>"]
    )
    session = Session(
        ScriptedBackend(clock, lambda m: next(outputs)), make_tools(world), clock, Policy.SYNC
    )
    result, others = run(session, clock, WEATHER)
    errors = [e for e in result.ledger if isinstance(e, ProtocolError)]
    assert len(errors) == 1 and "close the tag" in errors[0].message
    assert errors[0].raw.startswith('<tool_call id="1">')
    assert result.protocol_errors == 1 and result.answer == "ok" and others == []


def test_too_many_protocol_errors_end_the_session_cleanly():
    clock, world = VirtualClock(), World()
    backend = ScriptedBackend(clock, lambda m: "<tool_call>{not json}</tool_call>")
    session = Session(
        backend, make_tools(world), clock, Policy.SYNC, config=SessionConfig(max_protocol_errors=3)
    )
    result, others = run(session, clock, WEATHER)
    assert result.ended == "too_many_protocol_errors" and result.answer is None
    assert result.protocol_errors == 3 and others == [] and backend.open_streams == 0


@pytest.mark.parametrize(
    ("name", "args", "error_type", "fragment"),
    [
        ("teleport", "{}", "unknown_tool", "available tools"),
        ("lookup", '{"town": "Paris"}', "invalid_arguments", "city"),
        ("boom", "{}", "tool_error", "database on fire"),
        ("hang", "{}", "timeout", "timeout"),
    ],
)
def test_bad_tool_calls_become_error_results_the_model_reads(name, args, error_type, fragment):
    clock, world = VirtualClock(), World()

    def responder(messages):
        said = everything_said(messages)
        if 'tool_result id="1"' in said:
            assert f'error="{error_type}"' in said
            return "<answer>sorry</answer>"
        return call(1, name, args)

    session = Session(ScriptedBackend(clock, responder), make_tools(world), clock, Policy.SYNC)
    result, others = run(session, clock, WEATHER)
    (failure,) = [e for e in result.ledger if isinstance(e, ToolCallFailed)]
    assert failure.error_type == error_type and fragment in failure.error
    assert result.answer == "sorry" and others == []
    if name == "hang":
        assert failure.t == pytest.approx(WEATHER[-1].t + 2.0, abs=0.5)


def test_premature_answer_is_suppressed_until_the_user_finishes():
    clock, world = VirtualClock(), World()

    def responder(messages):
        return (
            "<answer>too early</answer>"
            if "please" not in everything_said(messages)
            else "<answer>ok</answer>"
        )

    session = Session(ScriptedBackend(clock, responder), make_tools(world), clock, Policy.ASYNC)
    result, _ = run(session, clock, WEATHER)
    assert result.answer == "ok" and result.suppressed_answers >= 1
    assert result.answer_started_s >= WEATHER[-1].t


def test_cancelling_a_session_leaves_no_task_and_no_open_stream():
    clock, world = VirtualClock(), World()

    def responder(messages):
        if "tool_call" not in model_said(messages):
            return call(1, "hang")
        return "<think>" + "y " * 100 + "</think><pause/>"

    backend = ScriptedBackend(clock, responder)
    session = Session(backend, make_tools(world), clock, Policy.ASYNC)

    async def main():
        task = asyncio.create_task(session.run(WEATHER))
        await clock.sleep(1.5)  # mid-generation, with a tool call hanging
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]

    assert clock.run(main()) == []
    assert backend.open_streams == 0


def test_removed_call_is_cancelled_and_the_model_is_told():
    clock, world = VirtualClock(), World()

    def responder(messages):
        said = everything_said(messages)
        if '<cancel id="1"/>' in said and "please" in said:
            return "<answer>ok</answer>"
        if "tool_call" not in model_said(messages):
            return call(1, "hang")
        if "remove" not in model_said(messages):
            return '<remove id="1"/>'
        return "<pause/>"

    session = Session(ScriptedBackend(clock, responder), make_tools(world), clock, Policy.ASYNC)
    result, others = run(session, clock, WEATHER)
    assert any(isinstance(e, ToolCallCancelled) and e.call_id == 1 for e in result.ledger)
    assert result.tool_calls[0].status == "cancelled" and result.answer == "ok"
    assert others == []


def test_call_issued_after_final_update_waits_until_the_model_moves_on():
    """Commit point = final update heard AND a later higher id, pause or answer."""
    clock, world = VirtualClock(), World()
    steps = []

    def responder(messages):
        said, made = everything_said(messages), model_said(messages)
        if 'tool_result id="1"' in said:
            return "<answer>booked</answer>"
        if "please" in said and "tool_call" not in made:
            return call(1, "book", '{"item": "Paris"}')  # a value the user said (grounded)
        if "tool_call" in made:
            steps.append(clock.now())
            return "<think>" + "w " * 30 + "</think><pause/>"
        return "<pause/>"

    session = Session(ScriptedBackend(clock, responder), make_tools(world), clock, Policy.ASYNC)
    result, others = run(session, clock, WEATHER)
    (booking,) = result.tool_calls
    pause_done = [e for e in result.ledger if isinstance(e, ModelOutput) and "pause" in e.text][-1]
    assert booking.issued_s > WEATHER[-1].t  # issued after the final words...
    assert booking.started_s == pytest.approx(pause_done.t)  # ...but ran only once it moved on
    assert world.booked == ["Paris"] and others == []


def test_revised_held_call_runs_only_with_the_new_arguments():
    clock, world = VirtualClock(), World()

    def responder(messages):
        said, made = everything_said(messages), model_said(messages)
        if 'tool_result id="1"' in said:
            return "<answer>ok</answer>"
        if "tool_call" not in made:
            return call(1, "book", '{"item": "Boston flight"}')
        if "Denver" in said and "Denver" not in made:
            return call(1, "book", '{"item": "Denver flight"}')
        return "<pause/>"

    chunks = speech((1.0, "book a flight to Boston"), (2.0, "no, to Denver"), (3.0, "thanks"))
    session = Session(ScriptedBackend(clock, responder), make_tools(world), clock, Policy.ASYNC)
    result, others = run(session, clock, chunks)
    assert world.booked == ["Denver flight"]
    assert result.tool_calls[0].arguments == {"item": "Denver flight"}
    assert others == []


def test_a_result_that_arrives_while_its_call_is_revised_is_never_shown():
    """The old version's result lands mid-revision; it must not pass for the new one's."""
    seen: list[list[ChatMessage]] = []

    def responder(messages):
        seen.append(list(messages))
        said, made = everything_said(messages), model_said(messages)
        if '"city": "Lyon"' in said and "please" in said:
            return "<answer>sunny in Lyon</answer>"
        if "Lyon" in said and "Lyon" not in made:
            return call(1, "lookup", '{"city": "Lyon"}')
        if "Paris" in said and "tool_call" not in made:
            return call(1, "lookup", '{"city": "Paris"}')
        return "<pause/>"

    clock, world = VirtualClock(), World()
    backend = ScriptedBackend(clock, responder, ttft_s=0.1, token_s=0.05)
    chunks = speech((1.0, "weather in Paris"), (1.9, "no, in Lyon"), (6.0, "please"))
    session = Session(backend, make_tools(world), clock, Policy.ASYNC, latency=lambda n, a: 0.8)
    result, others = run(session, clock, chunks)
    revision = next(e for e in result.ledger if isinstance(e, ToolCallRevised))
    old = [
        e
        for e in result.ledger
        if isinstance(e, ToolCallFinished) and e.result == {"city": "Paris", "sky": "sunny"}
    ]
    # the scenario happened: Paris's result arrived during the generation that revised it
    writer = [e for e in result.ledger if isinstance(e, ModelOutput) and e.t <= revision.t][-1]
    assert len(old) == 1 and writer.started_t < old[0].t < revision.t
    assert all('"city": "Paris"' not in everything_said(m) for m in seen)
    assert result.answer == "sunny in Lyon" and world.lookups == 2 and others == []


def test_a_repeated_committed_call_is_not_run_again():
    """A model that loops on the same state-changing call (seen with small models) books once."""
    clock, world = VirtualClock(), World()
    outputs = iter([call(1, "book", '{"item": "Paris"}'), call(2, "book", '{"item": "Paris"}')])

    def responder(messages):
        return next(outputs, "<answer>done</answer>")

    session = Session(ScriptedBackend(clock, responder), make_tools(world), clock, Policy.SYNC)
    result, _ = run(session, clock, WEATHER)
    assert world.booked == ["Paris"] and len(result.tool_calls) == 1


@pytest.mark.parametrize(
    "k", range(1, len(split_tokens(call(1, "lookup", '{"city": "Paris"}'))) - 1)
)
def test_an_action_being_written_is_finished_before_the_event_is_injected(k):
    """Speech arriving while token k of a tool call is produced does not cut the call."""
    ttft, token_s = 0.1, 0.02
    written = call(1, "lookup", '{"city": "Paris"}')
    arrive = 1.0 + ttft + k * token_s + token_s / 2
    chunks = speech((1.0, "weather in Paris"), (arrive, "tomorrow"), (arrive + 3.0, "please"))
    seen: list[list[ChatMessage]] = []

    def responder(messages):
        seen.append(list(messages))
        said = everything_said(messages)
        if len(seen) == 1:
            return written
        if 'tool_result id="1"' in said and "please" in said:
            return "<answer>sunny</answer>"
        return "<pause/>"

    clock, world = VirtualClock(), World()
    backend = ScriptedBackend(clock, responder, ttft_s=ttft, token_s=token_s)
    session = Session(backend, make_tools(world), clock, Policy.ASYNC)
    result, others = run(session, clock, chunks)
    first = [e for e in result.ledger if isinstance(e, ModelOutput)][0]
    assert not first.interrupted and first.text == written
    assert result.tool_calls[0].issued_s < arrive + 1.0
    assert "tomorrow" in seen[1][-1].content  # injected right after the action
    assert result.answer == "sunny" and others == []


class _FailingBackend(ScriptedBackend):
    def __init__(self, clock, error):
        super().__init__(clock, ["<pause/>"] * 50)
        self.error = error

    async def stream(self, request):
        yield "<think>"
        raise self.error


def test_a_model_error_reaches_the_caller_typed_and_leaves_no_task():
    from specagent.models.base import ModelUnreachableError

    clock, world = VirtualClock(), World()
    error = ModelUnreachableError("model server at http://127.0.0.1:9/v1 did not answer")
    session = Session(_FailingBackend(clock, error), make_tools(world), clock, Policy.ASYNC)

    async def main():
        with pytest.raises(ModelUnreachableError, match="127.0.0.1:9"):
            await session.run(WEATHER)
        return [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]

    assert clock.run(main()) == []


def test_a_full_context_ends_the_session_cleanly():
    from specagent.models.base import ContextWindowExceeded

    clock, world = VirtualClock(), World()
    backend = _FailingBackend(clock, ContextWindowExceeded("8200 tokens exceed 8192"))
    session = Session(backend, make_tools(world), clock, Policy.ASYNC)
    result, others = run(session, clock, WEATHER)
    assert result.ended == "context_full" and others == []


def test_interrupt_stops_the_generation_at_once_and_the_session_goes_on():
    clock, world = VirtualClock(), World()
    long_thought = "<think>" + "w " * 200 + "</think><pause/>"
    outputs = iter([long_thought, "<answer>ok</answer>"])
    backend = ScriptedBackend(clock, lambda m: next(outputs), ttft_s=0.1, token_s=0.02)
    session = Session(backend, make_tools(world), clock, Policy.ASYNC)

    async def main():
        task = asyncio.create_task(session.run(speech((1.0, "hello there"))))
        await clock.sleep_until(1.5)  # 20 tokens into a 200-token thought
        session.interrupt("barge-in")
        result = await task
        return result, [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]

    result, others = clock.run(main())
    first = [e for e in result.ledger if isinstance(e, ModelOutput)][0]
    assert first.interrupted and first.tokens <= 22  # stopped within a token of the interrupt
    assert result.answer == "ok" and others == [] and backend.open_streams == 0


@pytest.mark.parametrize("policy", [Policy.SYNC, Policy.ASYNC])
def test_a_model_repeating_a_failed_call_is_told_and_stopped(policy):
    clock, world = VirtualClock(), World()
    backend = ScriptedBackend(clock, lambda m: call(1, "teleport", "{}"))
    session = Session(
        backend, make_tools(world), clock, policy, config=SessionConfig(max_protocol_errors=3)
    )
    result, others = run(session, clock, WEATHER)
    assert result.ended == "too_many_protocol_errors"
    told = [
        e for e in result.ledger if isinstance(e, ProtocolError) and "already failed" in e.message
    ]
    assert len(told) == 3
    assert sum(isinstance(e, ToolCallFailed) for e in result.ledger) == 1  # never re-run
    assert others == [] and backend.open_streams == 0


def test_a_read_repeated_after_a_write_runs_again_but_a_plain_repeat_does_not():
    clock, world = VirtualClock(), World()
    steps = [
        call(1, "lookup", '{"city": "Paris"}'),
        call(2, "lookup", '{"city": "Paris"}'),  # a plain repeat: not run
        call(3, "book", '{"item": "Paris"}'),
        call(4, "lookup", '{"city": "Paris"}'),  # after a write: a fresh read
        "<answer>done</answer>",
    ]

    def responder(messages):
        done = sum(m.role == "assistant" and "<tool_call" in m.content for m in messages)
        return steps[min(done, len(steps) - 1)]

    session = Session(ScriptedBackend(clock, responder), make_tools(world), clock, Policy.SYNC)
    result, others = run(session, clock, WEATHER)
    assert result.answer == "done"
    assert world.lookups == 2 and world.booked == ["Paris"]
    assert [c.call_id for c in result.tool_calls] == [1, 3, 4]
    assert others == []


def test_the_same_write_is_not_done_twice_even_after_another_write():
    """A small model looping on two alarms must not set them again and again."""
    clock, world = VirtualClock(), World()
    steps = [
        call(1, "book", '{"item": "10:00"}'),
        call(2, "book", '{"item": "11:00"}'),
        call(3, "book", '{"item": "10:00"}'),  # the same write again: not run
        call(4, "book", '{"item": "11:00"}'),  # and again
        "<answer>done</answer>",
    ]

    def responder(messages):
        done = sum(m.role == "assistant" and "<tool_call" in m.content for m in messages)
        return steps[min(done, len(steps) - 1)]

    for policy in (Policy.SYNC, Policy.SPECULATIVE):
        world = World()
        session = Session(ScriptedBackend(clock, responder), make_tools(world), clock, policy)
        result, others = run(session, clock, WEATHER)
        assert world.booked == ["10:00", "11:00"], policy
        assert [c.call_id for c in result.tool_calls] == [1, 2], policy
        assert others == []


def test_an_answer_claiming_an_action_never_called_is_refused_once():
    """Seen on the assistant benchmark: the model looked a flight up, then answered "Flight
    B6598 has been booked" without ever calling book. The first such answer is refused."""
    clock, world = VirtualClock(), World()

    def responder(messages):
        said, made = everything_said(messages), model_said(messages)
        if "no tool call in this turn did that" in said and "tool_call" not in made:
            return call(1, "book", '{"item": "Paris"}')
        if 'tool_result id="1"' in said:
            return "<answer>Your Paris trip is booked.</answer>"
        return "<answer>I have booked your Paris trip.</answer>"

    session = Session(ScriptedBackend(clock, responder), make_tools(world), clock, Policy.SYNC)
    result, _ = run(session, clock, WEATHER)
    assert world.booked == ["Paris"] and result.answer == "Your Paris trip is booked."
    refused = [e for e in result.ledger if isinstance(e, ProtocolError)]
    assert len(refused) == 1 and "'I have booked'" in refused[0].message

    # an answer describing what a result holds is not a claim (a false alarm seen on train)
    clock, world = VirtualClock(), World()
    reader = ScriptedBackend(
        clock, lambda m: "<answer>Two events are scheduled today; none was booked.</answer>"
    )
    result, _ = run(Session(reader, make_tools(world), clock, Policy.SYNC), clock, WEATHER)
    assert not [e for e in result.ledger if isinstance(e, ProtocolError)]

    # a model that insists is heard the second time (the check runs once a turn)
    clock, world = VirtualClock(), World()
    stubborn = ScriptedBackend(clock, lambda m: "<answer>I have booked it.</answer>")
    result, _ = run(Session(stubborn, make_tools(world), clock, Policy.SYNC), clock, WEATHER)
    assert result.answer == "I have booked it." and world.booked == []


def test_a_streaming_model_stuck_before_the_final_words_waits_for_more_words():
    """Seen in verified's speculator: four unreadable outputs in a row while the user was
    still speaking ended its turn, so it guessed nothing for the rest of the request. Before
    the final words the session waits for more words instead, and counts errors anew."""

    def responder(messages):
        said = everything_said(messages)
        if "<tool_result" in said:
            return "<answer>Sunny in Paris.</answer>"
        if "please" in said:  # the final words
            return call(1, "lookup", '{"city": "Paris"}')
        return "<remove/>"  # unreadable: no id

    for policy, ended in ((Policy.ASYNC, "answered"), (Policy.SYNC, "answered")):
        clock, world = VirtualClock(), World()
        config = SessionConfig(max_protocol_errors=2)
        backend = ScriptedBackend(clock, responder)
        session = Session(backend, make_tools(world), clock, policy, config=config)
        result, others = run(session, clock, WEATHER)
        assert result.ended == ended and result.answer == "Sunny in Paris.", policy
        assert others == [] and backend.open_streams == 0
    # after the final words the limit holds as before
    assert any(isinstance(e, ProtocolError) for e in result.ledger) is False  # sync heard all

    clock, world = VirtualClock(), World()
    backend = ScriptedBackend(clock, lambda m: "<remove/>")
    config = SessionConfig(max_protocol_errors=2)
    result, _ = run(
        Session(backend, make_tools(world), clock, Policy.ASYNC, config=config), clock, WEATHER
    )
    assert result.ended == "too_many_protocol_errors"


def test_removing_a_removed_call_again_is_an_error_not_another_removal():
    """Seen with the 1.5B model: it repeated `<remove id="3"/>` until its generation limit,
    each one recorded as a fresh removal. The second removal is refused with a message."""
    clock, world = VirtualClock(), World()

    def responder(messages):
        made = model_said(messages)
        if "tool_call" not in made:
            return call(1, "hang")
        if made.count("<remove") < 2:
            return '<remove id="1"/>'
        return "<answer>ok</answer>"

    session = Session(ScriptedBackend(clock, responder), make_tools(world), clock, Policy.ASYNC)
    result, others = run(session, clock, WEATHER)
    removals = [e for e in result.ledger if isinstance(e, ToolCallRemoved)]
    errors = [e.message for e in result.ledger if isinstance(e, ProtocolError)]
    assert len(removals) == 1
    assert any("already cancelled" in m and "do not remove it again" in m for m in errors)
    assert result.answer == "ok" and others == []
