"""The review at the final words (SessionConfig.review_early_calls), on a scripted model."""

from __future__ import annotations

import asyncio

from specagent.agent import Policy, Session, SessionConfig
from specagent.clock import VirtualClock
from specagent.events import EarlyCallsReview, UserSpeech, event_from_record, event_to_record
from specagent.models import ScriptedBackend
from specagent.protocol import ParseError, parse_output, render_input
from specagent.tools import Effect, Toolset, tool

SPEECH = [
    UserSpeech(t=1.0, text="what's the weather in Paris"),
    UserSpeech(t=2.0, text="on Sunday?", final=True),
]


def _tools(asked: list[dict]) -> Toolset:
    @tool(effect=Effect.READ_ONLY, timeout_s=5.0)
    async def get_weather(city: str, date: str) -> dict:
        """Weather for a city on a date ('today' if not said)."""
        asked.append({"city": city, "date": date})
        return {"city": city, "date": date, "sky": "sunny" if date == "Sunday" else "rain"}

    return Toolset([get_weather])


def _said(messages) -> str:
    return "\n".join(m.content for m in messages if m.role == "user")


def _responder(messages) -> str:
    """Calls at once with today's date; goes back to the call only when reviewed."""
    said = "\n".join(m.content for m in messages if m.role == "user")
    made = "\n".join(m.content for m in messages if m.role == "assistant")
    if "<review>" in said and '"Sunday"' not in made:
        return '<tool_call id="1">{"name": "get_weather", "arguments": {"city": "Paris", "date": "Sunday"}}</tool_call>'
    if "tool_call" not in made and "Paris" in said:
        return '<tool_call id="1">{"name": "get_weather", "arguments": {"city": "Paris", "date": "today"}}</tool_call>'
    if "final_query_update" in said and "tool_result" in said:
        sky = "sunny" if '"sky": "sunny"' in said.rsplit("<tool_result", 1)[-1] else "rain"
        return f"<answer>{sky.capitalize()} in Paris.</answer>"
    return "<pause/>"


def _play(policy: Policy, review: bool):
    clock, asked = VirtualClock(), []
    session = Session(
        ScriptedBackend(clock, _responder),
        _tools(asked),
        clock,
        policy,
        latency=lambda name, args: 0.3,
        config=SessionConfig(review_early_calls=review),
    )

    async def main():
        result = await session.run(SPEECH)
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        return result, others

    result, others = clock.run(main())
    assert others == []
    return result, asked


def test_the_review_lets_a_streaming_model_fix_an_early_call():
    result, asked = _play(Policy.ASYNC, review=True)
    reviews = [e for e in result.ledger if isinstance(e, EarlyCallsReview)]
    assert len(reviews) == 1 and reviews[0].t == 2.0
    assert reviews[0].request == "what's the weather in Paris on Sunday?"
    assert reviews[0].calls == ('#1 get_weather {"city": "Paris", "date": "today"}',)
    assert result.answer == "Sunny in Paris."
    assert asked[-1] == {"city": "Paris", "date": "Sunday"}


def test_without_the_review_the_stale_call_stands():
    result, _ = _play(Policy.ASYNC, review=False)
    assert not any(isinstance(e, EarlyCallsReview) for e in result.ledger)
    assert result.answer == "Rain in Paris."


def test_policies_that_hear_the_request_whole_get_no_review():
    for policy in (Policy.SYNC, Policy.ORACLE):
        result, _ = _play(policy, review=True)
        assert not any(isinstance(e, EarlyCallsReview) for e in result.ledger), policy


def test_the_review_is_an_input_the_model_reads_and_may_not_write():
    review = EarlyCallsReview(t=2.0, request="a b", calls=("#1 f {}",))
    text = render_input(review)
    assert text is not None and text.startswith("<review>") and "#1 f {}" in text
    assert event_from_record(*event_to_record(review)) == review  # stored and read back
    try:
        parse_output("<review>fine</review>", 1)
    except ParseError as error:
        assert "input tag" in error.message
    else:
        raise AssertionError("a review written by the model must not parse")
