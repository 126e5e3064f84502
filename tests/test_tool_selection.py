"""Per-request tool selection (SessionConfig.select_tools): which tools a request gets, when
the session selects them, and that a tool left out of the prompt still runs.

Scripted model and virtual clock; the selector is checked on the assistant benchmark's real
toolset and on a small one built here.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence

import pytest

from specagent.agent import Policy, Session, SessionConfig
from specagent.agent.prompt import system_prompt, tool_list, with_tools
from specagent.agent.records import session_config
from specagent.agent.tool_selection import ToolSelector, terms
from specagent.agent.verified import VerifiedSession
from specagent.bench.datasets.assistant.tools import assistant_tools
from specagent.bench.datasets.assistant.world import World
from specagent.clock import VirtualClock
from specagent.events import ToolCallFinished, UserSpeech
from specagent.models import ScriptedBackend
from specagent.protocol import ChatMessage
from specagent.tools import Effect, Toolset, tool

_INSTRUCTIONS_END = "Tools:\n"


def shown_names(system: str) -> list[str]:
    """The tools a system prompt lists (one JSON object a line after 'Tools:')."""
    block = system.split(_INSTRUCTIONS_END, 1)[1].split("\n\n", 1)[0]
    return [json.loads(line)["name"] for line in block.splitlines()]


def call(i: int, name: str, args: str = "{}") -> str:
    return f'<tool_call id="{i}">{{"name": "{name}", "arguments": {args}}}</tool_call>'


def speech(*chunks: tuple[float, str]) -> list[UserSpeech]:
    return [
        UserSpeech(t=t, text=text, final=i == len(chunks) - 1) for i, (t, text) in enumerate(chunks)
    ]


def said(messages: Sequence[ChatMessage]) -> str:
    return "\n".join(m.content for m in messages if m.role == "user")


def small_tools() -> Toolset:
    @tool(effect=Effect.READ_ONLY, timeout_s=5.0)
    async def get_weather(city: str) -> dict:
        """Weather forecast for a city: condition and temperature."""
        return {"city": city, "forecast": "sunny"}

    @tool(effect=Effect.READ_ONLY, timeout_s=5.0)
    async def find_contact(name: str) -> dict:
        """Look up a person in the contacts: their phone number and e-mail address."""
        return {"name": name, "phone": "555-0100"}

    @tool(effect=Effect.READ_ONLY, timeout_s=5.0)
    async def list_orders(customer: str) -> dict:
        """The customer's orders, newest first, each with its order_id and status."""
        return {"orders": [{"order_id": "o7", "status": "shipped"}]}

    @tool(effect=Effect.IRREVERSIBLE, timeout_s=5.0)
    async def refund_order(order_id: str) -> dict:
        """Refund an order. Cannot be undone."""
        return {"refunded": order_id}

    @tool(effect=Effect.IRREVERSIBLE, timeout_s=5.0)
    async def send_message(to: str, text: str) -> dict:
        """Send a text message to a phone number."""
        return {"sent": True}

    return Toolset([get_weather, find_contact, list_orders, refund_order, send_message])


def bench_selector() -> ToolSelector:
    return ToolSelector(assistant_tools(World()).schemas())


def run(session: Session | VerifiedSession, clock: VirtualClock, chunks: list[UserSpeech]):
    async def main():
        result = await session.run(chunks)
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        return result, others

    return clock.run(main())


# -- the selector ------------------------------------------------------------------------------


def test_terms_stem_both_sides_alike_and_drop_numbers_and_fillers():
    assert terms("E-mail") == ["mail", "email"]
    assert terms("bookings") == terms("booked") == terms("booking") == ["book"]
    assert terms("share the file") == terms("sharing files")
    assert terms("um, like, at 6:30 please") == []


@pytest.mark.parametrize(
    ("request_text", "first", "also"),
    [
        ("What's the weather in Denver on Friday?", "get_weather", ()),
        (
            "Book the cheapest flight from Boston to Miami on Friday",
            "book_flight",
            ("search_flights",),
        ),
        ("Share the budget spreadsheet file with Nina", "share_file", ("search_files",)),
        ("Text Lena that I'm running late", "send_message", ()),
        ("Remind me to call mom at 6pm tomorrow", "create_reminder", ()),
        ("Set the thermostat to 21 degrees", "set_thermostat", ()),
        (
            "Reserve a table for four at an italian restaurant",
            "reserve_table",
            ("find_restaurants",),
        ),
    ],
)
def test_the_best_match_comes_first_and_its_lookups_come_with_it(request_text, first, also):
    chosen = bench_selector().select(request_text, (), 3)
    assert chosen.picked[0] == first
    assert set(also) <= set(chosen.shown)
    assert len(chosen.shown) < 20 / 3  # a few tools, not the twenty


def test_shown_tools_keep_the_toolset_order_and_k_bounds_the_picks():
    selector = bench_selector()
    chosen = selector.select("email Tom the weather forecast for Boston", (), 2)
    assert len(chosen.picked) == 2
    assert list(chosen.shown) == [n for n in selector.names if n in chosen.shown]


def test_feeders_come_from_the_tools_own_text():
    # 'a flight_number from search_flights': named; list_orders' description says it returns
    # order_id, which refund_order takes and list_orders does not
    assert bench_selector().feeders["book_flight"] == ("search_flights",)
    small = ToolSelector(small_tools().schemas())
    assert small.feeders == {"refund_order": ("list_orders",)}
    chosen = small.select("refund it please", (), 1)
    assert chosen.picked == ("refund_order",) and chosen.feeders == ("list_orders",)
    assert chosen.shown == ("list_orders", "refund_order")


def test_tools_called_before_are_shown_and_nothing_to_go_on_shows_every_tool():
    selector = bench_selector()
    chosen = selector.select("what about Austin?", ("get_weather",), 3)
    assert chosen.shown == ("get_weather",)  # a follow-up: the tool it goes on from
    assert selector.select("hmm, and what about that?", (), 3).shown == selector.names
    assert "no_such_tool" not in selector.select("weather", ("no_such_tool",), 3).shown
    with pytest.raises(ValueError, match="at least 1"):
        selector.select("weather", (), 0)


# -- the prompt --------------------------------------------------------------------------------


def test_off_by_default_the_prompt_is_byte_identical_to_before():
    assert SessionConfig().select_tools is None
    tools = small_tools()
    # the prompt as system_prompt wrote it before tool selection existed
    before = system_prompt([]) + "\n".join(
        json.dumps(s, ensure_ascii=False, separators=(",", ":")) for s in tools.schemas()
    )
    assert system_prompt(tools.schemas()) == before
    clock = VirtualClock()
    backend = ScriptedBackend(clock, lambda m: "<answer>Hi.</answer>")
    session = Session(backend, tools, clock, Policy.SYNC, prompt=before + "\n\nToday is Monday.")
    result, _ = run(session, clock, speech((1.0, "refund my order")))
    assert result.ended == "answered" and session.shown_tools is None
    assert backend.contexts[0][0] == ChatMessage("system", before + "\n\nToday is Monday.")


def test_with_tools_keeps_what_surrounds_the_list_and_refuses_a_prompt_without_it():
    tools = small_tools()
    schemas = tools.schemas()
    prompt = system_prompt(schemas) + "\n\nToday is Monday."
    shown = with_tools(prompt, schemas, schemas[1:2])
    assert shown == system_prompt(schemas[1:2]) + "\n\nToday is Monday."
    with pytest.raises(ValueError, match="lists the session's tools"):
        with_tools("You are helpful.", schemas, schemas[:1])
    with pytest.raises(ValueError, match="lists the session's tools"):
        Session(
            ScriptedBackend(VirtualClock(), ["<pause/>"]),
            tools,
            VirtualClock(),
            Policy.SYNC,
            prompt="You are helpful.",
            config=SessionConfig(select_tools=2),
        )
    assert tool_list(schemas[:1]) in shown_prompt_lines(prompt)


def shown_prompt_lines(prompt: str) -> str:
    return prompt.split(_INSTRUCTIONS_END, 1)[1]


# -- in a session ------------------------------------------------------------------------------


def test_sync_shows_the_selected_tools_once_a_turn_and_keeps_the_rest_of_the_prompt():
    tools = small_tools()
    prompt = system_prompt(tools.schemas()) + "\n\nToday is Monday."

    def responder(messages):
        if "<tool_result" in said(messages):
            return "<answer>Sunny.</answer>"
        return call(1, "get_weather", '{"city": "Paris"}')

    clock = VirtualClock()
    backend = ScriptedBackend(clock, responder)
    session = Session(
        backend, tools, clock, Policy.SYNC, prompt=prompt, config=SessionConfig(select_tools=1)
    )
    result, others = run(session, clock, speech((0.5, "what's the weather"), (1.0, "in Paris?")))
    assert result.answer == "Sunny." and others == []
    systems = {ctx[0].content for ctx in backend.contexts}
    assert len(backend.contexts) == 2 and len(systems) == 1  # one selection: the cache holds
    (system,) = systems
    assert shown_names(system) == ["get_weather"]
    assert system.startswith(prompt.split(_INSTRUCTIONS_END)[0] + _INSTRUCTIONS_END)
    assert system.endswith("\n\nToday is Monday.")
    assert session.shown_tools is not None and len(session.shown_tools.selections) == 1


def test_a_streaming_session_selects_on_the_first_words_and_again_at_the_final_words():
    tools = small_tools()

    def responder(messages):
        if "<tool_result" in said(messages):
            return "<answer>Sent.</answer>"
        if "final_query_update" in said(messages):
            return call(1, "send_message", '{"to": "555-0100", "text": "hello"}')
        return "<pause/>"

    clock = VirtualClock()
    backend = ScriptedBackend(clock, responder)
    session = Session(backend, tools, clock, Policy.ASYNC, config=SessionConfig(select_tools=2))
    chunks = speech((0.5, "what's the weather"), (1.5, "oh and"), (2.5, "text 555-0100 hello"))
    result, others = run(session, clock, chunks)
    assert result.ended == "answered" and others == []
    shown = [shown_names(ctx[0].content) for ctx in backend.contexts]
    assert shown[0] == ["get_weather"]  # chosen on the first words
    # kept while the user speaks (no final yet), chosen again once at the final words
    finals = [i for i, ctx in enumerate(backend.contexts) if "final_query_update" in said(ctx)]
    assert all(s == ["get_weather"] for s in shown[: finals[0]])
    assert all(s == shown[finals[0]] for s in shown[finals[0] :])
    assert shown[finals[0]] == ["get_weather", "send_message"]
    assert session.shown_tools is not None and len(session.shown_tools.selections) == 2


def test_a_call_to_a_tool_that_was_not_shown_still_runs():
    tools = small_tools()

    def responder(messages):
        if "<tool_result" in said(messages):
            return "<answer>Grace is 555-0100.</answer>"
        return call(1, "find_contact", '{"name": "Grace"}')

    clock = VirtualClock()
    backend = ScriptedBackend(clock, responder)
    session = Session(backend, tools, clock, Policy.SYNC, config=SessionConfig(select_tools=1))
    result, _ = run(session, clock, speech((1.0, "what's the weather in Paris")))
    assert shown_names(backend.contexts[0][0].content) == ["get_weather"]
    (report,) = result.tool_calls
    assert report.name == "find_contact" and report.status == "done"
    assert report.result == {"name": "Grace", "phone": "555-0100"}
    assert any(isinstance(e, ToolCallFinished) for e in session.ledger)
    assert result.answer == "Grace is 555-0100."


def test_a_follow_up_turn_keeps_the_tools_called_before():
    tools = small_tools()

    def responder(messages):
        last = messages[-1].content
        if "<tool_result" in last:
            return "<answer>Done.</answer>"
        n = sum("<tool_call" in m.content for m in messages if m.role == "assistant")
        return call(n + 1, "get_weather", '{"city": "Rome"}')

    clock = VirtualClock()
    backend = ScriptedBackend(clock, responder)
    config = SessionConfig(select_tools=1)
    first = Session(backend, tools, clock, Policy.SYNC, config=config)
    run(first, clock, speech((0.5, "weather in Rome")))
    second = Session(backend, tools, clock, Policy.SYNC, config=config, ledger=first.ledger)
    result, _ = run(second, clock, speech((0.5, "and text 555-0100 about it")))
    assert result.answer == "Done."
    last_system = backend.contexts[-1][0].content
    # 'text' picks send_message; get_weather was called in the conversation: shown too
    assert shown_names(last_system) == ["get_weather", "send_message"]


def test_verified_runs_with_tool_selection():
    tools = small_tools()

    def responder(messages):
        if "<tool_result" in said(messages):
            return "<answer>Sunny.</answer>"
        if "Paris" in said(messages):
            return call(1, "get_weather", '{"city": "Paris"}')
        return "<pause/>"

    clock = VirtualClock()
    backend = ScriptedBackend(clock, responder)
    session = VerifiedSession(backend, tools, clock, config=SessionConfig(select_tools=2))
    result, others = run(session, clock, speech((0.5, "weather"), (1.5, "in Paris")))
    assert result.answer == "Sunny." and others == []


# -- the option --------------------------------------------------------------------------------


def test_the_session_option_reads_a_count_or_none_and_refuses_anything_else():
    assert session_config(["select_tools=8"]).select_tools == 8
    assert session_config(["select-tools=none"], SessionConfig(select_tools=3)).select_tools is None
    for bad in ("select_tools=0", "select_tools=eight", "select_tools=-2"):
        with pytest.raises(ValueError, match="whole number of at least 1"):
            session_config([bad])
