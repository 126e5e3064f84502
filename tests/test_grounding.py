"""The grounding guard refuses early calls built on values nobody has said."""

from __future__ import annotations

from specagent.agent import Policy, Session
from specagent.clock import VirtualClock
from specagent.events import ProtocolError
from specagent.grounding import ungrounded_values
from specagent.models import ScriptedBackend

from test_session import World, call, everything_said, make_tools, run, speech


def test_ungrounded_values():
    heard = "What's the weather in Paris"
    assert ungrounded_values({"city": "Paris"}, heard) == []
    assert ungrounded_values({"city": "paris,"}, heard) == []
    assert ungrounded_values({"city": "New York"}, heard) == ["New York"]
    assert ungrounded_values({"ref": "$1.id", "x": "am", "ok": True}, heard) == []
    assert ungrounded_values({"filter": {"city": ["Rome"]}}, heard) == ["Rome"]


def test_numbers_must_have_been_said_in_digits_or_words():
    heard = "roots of the equation where a=2, b=5.5 and a table for two at eight, 40 people"
    assert ungrounded_values({"a": 2, "b": 5.5, "n": 2.0, "t": 8, "p": 40}, heard) == []
    assert ungrounded_values({"a": 1, "b": 2, "c": 1}, "the roots of the equation where") == [
        "1",
        "2",
        "1",
    ]
    assert ungrounded_values({"x": -5}, "minus 5 degrees") == []
    assert ungrounded_values({"people": [3]}, heard) == ["3"]


def test_an_early_guess_is_not_run_and_the_model_is_told():
    clock, world = VirtualClock(), World()

    def responder(messages):
        said = everything_said(messages)
        if 'tool_result id="1"' in said:
            return "<answer>sunny</answer>"
        if "Paris" in said and "has not said" in said:
            return call(1, "lookup", '{"city": "Paris"}')
        if "has not said" in said:
            return "<pause/>"
        return call(1, "lookup", '{"city": "London"}')  # a guess

    chunks = speech((1.0, "what's the weather"), (2.0, "in Paris"), (3.0, "please"))
    session = Session(ScriptedBackend(clock, responder), make_tools(world), clock, Policy.ASYNC)
    result, others = run(session, clock, chunks)
    assert [c.arguments for c in result.tool_calls] == [{"city": "Paris"}]
    assert world.lookups == 1 and result.speculation.ungrounded_refused == 1
    assert any(isinstance(e, ProtocolError) and "London" in e.message for e in result.ledger)
    assert result.protocol_errors == 0 and result.answer == "sunny" and others == []


def test_after_the_final_update_the_guard_stands_aside():
    clock, world = VirtualClock(), World()
    outputs = iter([call(1, "lookup", '{"city": "London"}'), "<answer>ok</answer>"])
    session = Session(
        ScriptedBackend(clock, lambda m: next(outputs)), make_tools(world), clock, Policy.SYNC
    )
    result, _ = run(session, clock, speech((1.0, "weather please")))
    assert world.lookups == 1 and result.speculation.ungrounded_refused == 0


def test_a_guess_written_while_newer_words_wait_is_dropped_silently():
    """The call was written before 'in Paris' was heard: drop it and let the model rewrite."""
    clock, world = VirtualClock(), World()
    contexts = []

    def responder(messages):
        contexts.append(everything_said(messages))
        said = contexts[-1]
        if 'tool_result id="1"' in said:
            return "<answer>sunny</answer>"
        if "Paris" in said:
            return call(1, "lookup", '{"city": "Paris"}')
        return "<think>hmm</think>" + call(1, "lookup", '{"city": "London"}')

    # "in Paris" arrives while the London guess is being written (tokens 20 ms apart)
    chunks = speech((1.0, "what's the weather"), (1.15, "in Paris"), (4.0, "please"))
    session = Session(ScriptedBackend(clock, responder), make_tools(world), clock, Policy.ASYNC)
    result, others = run(session, clock, chunks)
    assert [c.arguments for c in result.tool_calls] == [{"city": "Paris"}]
    assert not any(isinstance(e, ProtocolError) for e in result.ledger)  # nothing to confuse it
    assert result.speculation.ungrounded_refused == 1 and others == []
