"""The grammar of the protocol's actions built from tool schemas (protocol/grammar.py).

The text tests need nothing but the generator. The recognition tests run llama.cpp's own
grammar engine over tokenised text (a vocabulary-only load of the smallest registered model,
no weights evaluated): what the grammar accepts is what a constrained model may write.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator, Sequence
from typing import Literal

import pydantic
import pytest

from specagent.agent import Policy, Session, SessionConfig, session_for
from specagent.agent.records import session_config
from specagent.bench.datasets.assistant.episodes import all_specs
from specagent.bench.datasets.assistant.tools import assistant_tools
from specagent.bench.datasets.assistant.world import World as AssistantBenchWorld
from specagent.clock import VirtualClock
from specagent.envs.assistant import AssistantWorld, assistant_toolset
from specagent.models import ScriptedBackend
from specagent.protocol import (
    ChatMessage,
    PauseAction,
    RemoveAction,
    AnswerAction,
    ToolCallAction,
    call_grammar,
    render_action,
)
from specagent.protocol.grammar import gbnf_literal
from specagent.tools import Effect, Toolset, tool

from test_session import World, call, everything_said, make_tools, speech

SMALL = "smollm2-135m"


class Address(pydantic.BaseModel):
    street: str
    postcode: int | None = None


class Order(pydantic.BaseModel):
    items: list[str]
    size: Literal["S", "M", "L"]
    address: Address
    express: bool = False
    weight_kg: float = 1.0


def _schema(name: str, parameters: dict) -> dict:
    return {"name": name, "description": "", "parameters": parameters}


ORDER = _schema("order", Order.model_json_schema())
PATTERNED = _schema(
    "lookup_code",
    {"type": "object", "properties": {"code": {"type": "string", "pattern": "^[A-Z]{3}$"}}},
)


def _bench_schemas() -> list[dict]:
    return assistant_tools(AssistantBenchWorld()).schemas()


# -- the text -----------------------------------------------------------------------------


def test_the_project_toolsets_need_no_fallback():
    for schemas in (_bench_schemas(), assistant_toolset(AssistantWorld()).schemas()):
        grammar = call_grammar(schemas)
        assert grammar.fallbacks == ()
        assert grammar.tools == tuple(s["name"] for s in schemas)
        for name in grammar.tools:
            assert gbnf_literal(json.dumps(name)) in grammar.text


def test_pydantic_features_are_supported_and_others_fall_back_to_any_object():
    grammar = call_grammar([ORDER, PATTERNED])
    assert grammar.fallbacks == (("lookup_code", "keyword 'pattern'"),)
    for schema, why in [
        ({"type": "object", "properties": {"n": {"type": "integer", "minimum": 1}}}, "minimum"),
        ({"type": "object", "properties": {"d": {"type": "string", "format": "date"}}}, "format"),
        ({"type": "object", "properties": {"x": {"oneOf": [{"type": "string"}]}}}, "oneOf"),
        ({"type": "object", "properties": {"x": {"$ref": "#/$defs/Nope"}}}, "names nothing"),
        ({"type": "object", "required": ["ghost"]}, "not declared"),
        ({"type": "string"}, "not a plain object"),
    ]:
        fallbacks = call_grammar([_schema("t", schema)]).fallbacks
        assert len(fallbacks) == 1 and why in fallbacks[0][1], (schema, fallbacks)


def test_grammars_are_built_once_per_toolset_and_need_named_tools():
    assert call_grammar(_bench_schemas()) is call_grammar(_bench_schemas())
    assert "call ::=" not in call_grammar([]).text  # no tools: no calls to write
    with pytest.raises(ValueError, match="no name"):
        call_grammar([{"parameters": {}}])


def test_literals_are_escaped():
    assert gbnf_literal('say "hi"\\\n\t\x01 Zürich') == '"say \\"hi\\"\\\\\\n\\t\\x01 Zürich"'


def test_the_option_is_off_by_default_and_settable_from_a_command_line():
    assert SessionConfig().constrain_calls is False
    assert session_config(["constrain_calls=true"]).constrain_calls is True
    assert session_config(["constrain-calls=off"]).constrain_calls is False


# -- the session passes it ----------------------------------------------------------------


def _weather(messages: Sequence[ChatMessage]) -> str:
    said = everything_said(messages)
    if 'tool_result id="1"' in said:
        return "<answer>Sunny in Paris.</answer>"
    if "Paris" in said:
        return call(1, "lookup", '{"city": "Paris"}')
    return "<pause/>"


CHUNKS = speech((1.0, "what's the weather"), (2.0, "in Paris"), (3.0, "please"))


def _play(policy: Policy, constrain: bool, draft: bool = False):
    clock = VirtualClock()
    backend = ScriptedBackend(clock, _weather, ttft_s=0.1, token_s=0.05)
    drafter = ScriptedBackend(clock, _weather, ttft_s=0.02, token_s=0.01) if draft else None
    tools = make_tools(World())
    session = session_for(
        policy,
        backend,
        tools,
        clock,
        latency=lambda name, arguments: 0.5,
        config=SessionConfig(constrain_calls=constrain),
        draft_backend=drafter,
    )

    async def main():
        result = await session.run(CHUNKS)
        return result, [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]

    result, others = clock.run(main())
    assert others == [] and result.answer == "Sunny in Paris."
    return backend, drafter, call_grammar(tools.schemas()).text


@pytest.mark.parametrize("policy", [Policy.SYNC, Policy.ASYNC, Policy.VERIFIED])
def test_each_generation_gets_the_toolsets_grammar_only_when_on(policy):
    backend, _, grammar = _play(policy, constrain=True)
    assert backend.grammars and set(backend.grammars) == {grammar}
    backend, _, _ = _play(policy, constrain=False)
    assert set(backend.grammars) == {""}


def test_sync_draft_hands_the_grammar_to_both_models():
    backend, drafter, grammar = _play(Policy.SYNC_DRAFT, constrain=True, draft=True)
    assert drafter is not None and isinstance(drafter.grammars, list)
    assert set(backend.grammars) == set(drafter.grammars) == {grammar}
    assert any(backend.drafts)  # the main model still checks drafts


def test_a_continued_call_gets_the_grammar_with_its_prefix():
    clock = VirtualClock()
    routes: list[tuple[str, str]] = []

    @tool(effect=Effect.READ_ONLY, timeout_s=5.0)
    async def route(origin: str, destination: str) -> dict:
        """Find a route."""
        routes.append((origin, destination))
        return {"hours": 3}

    def responder(messages):
        said = everything_said(messages)
        if 'tool_result id="1"' in said:
            return "<answer>3 hours</answer>"
        to = "Denver" if "Denver" in said else "Chicago"
        return call(1, "route", f'{{"origin": "Boston", "destination": "{to}"}}')

    chunks = speech((1.0, "a route from Boston"), (1.2, "to Denver"), (4.0, "please"))
    backend = ScriptedBackend(clock, responder)
    tools = Toolset([route])
    config = SessionConfig(constrain_calls=True)
    session = Session(backend, tools, clock, Policy.ASYNC, config=config)
    clock.run(session.run(chunks))
    assert any(backend.prefixes) and routes == [("Boston", "Denver")]
    assert set(backend.grammars) == {call_grammar(tools.schemas()).text}


# -- what the grammar accepts (llama.cpp's grammar engine) --------------------------------


@pytest.fixture(scope="module")
def recognizer() -> Iterator:
    import llama_cpp

    from specagent.models.llama_grammar import Grammars
    from specagent.models.registry import ensure_model

    llama = llama_cpp.Llama(model_path=str(ensure_model(SMALL)), vocab_only=True, verbose=False)
    grammars = Grammars(llama._model.vocab)

    def check(grammar: str, text: str) -> str:
        """'complete', 'open' (a viable start) or 'refused'."""
        tokens = llama.tokenize(text.encode("utf-8"), add_bos=False, special=False)
        cursor = grammars.cursor(grammar, tokens)
        if cursor is None:
            return "refused"
        try:
            return "complete" if cursor.allows(llama.token_eos()) else "open"
        finally:
            cursor.close()

    yield check
    grammars.close()
    llama.close()


def _call(name: str, arguments: dict, call_id: int = 1, depends: tuple[int, ...] = ()) -> str:
    return render_action(ToolCallAction(call_id, name, arguments, depends))


@pytest.mark.real_model
def test_llama_cpp_parses_every_grammar(recognizer):
    from specagent.models.base import ModelError

    for schemas in (_bench_schemas(), [ORDER, PATTERNED], []):
        assert recognizer(call_grammar(schemas).text, "") == "open"
    with pytest.raises(ModelError, match="could not parse"):
        recognizer('root ::= "a" [0-9', "a")


@pytest.mark.real_model
def test_every_ground_truth_call_of_the_assistant_benchmark_is_accepted(recognizer):
    """In the schema's property order (the grammar fixes the order of present properties)."""
    schemas = {s["name"]: s for s in _bench_schemas()}
    grammar = call_grammar(list(schemas.values())).text
    calls = [c for spec in all_specs() for turn in spec.turns for c in turn.calls]
    assert len(calls) > 400
    for index, c in enumerate(calls, start=1):
        order = list(schemas[c.name]["parameters"]["properties"])
        arguments = {k: c.arguments[k] for k in sorted(c.arguments, key=order.index)}
        text = _call(c.name, arguments, index, depends=(index - 1,) if index > 1 else ())
        assert recognizer(grammar, text) == "complete", text


@pytest.mark.real_model
def test_the_action_forms_are_accepted_and_nothing_else(recognizer):
    grammar = call_grammar(_bench_schemas()).text
    complete = [
        render_action(RemoveAction(3)),
        render_action(PauseAction()),
        render_action(AnswerAction("Sunny, 21 °C.")),
        render_action(PauseAction(), think="Nothing to look up yet."),
        '<think>x</think>\n<tool_call id="2">\n{"name":"get_weather","arguments":{"city":"Paris"}}'
        "\n</tool_call>",
        _call("find_free_time", {"date": "friday"}),
        _call("find_free_time", {"date": "friday", "before": "12:00"}),
        _call(
            "find_free_time", {"date": "fri", "duration_minutes": -30, "after": "9", "before": ""}
        ),
        _call("send_message", {"to": "Zoë", "text": 'say "hi"\nand \\ bye'}),
        _call("reserve_table", {"restaurant": "Luigi", "date": "d", "time": "t", "party_size": 2}),
    ]
    for text in complete:
        assert recognizer(grammar, text) == "complete", text
    assert recognizer(grammar, '<tool_call id="1">{"name": "search_flights", "arguments": {') == (
        "open"
    )
    refused = [
        "Sure! <pause/>",  # prose before the action
        "It is sunny.",  # an untagged answer
        "<answer></answer>",
        "<answer> \n</answer>",
        '<tool_call id="1">{"name": "send_message", "arguments": {"to": "a\nb", "text": "x"}}',
        "<pause/> and more",  # text after the action
        '<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>',  # no id
        _call("get_wether", {"city": "Paris"}),  # unknown tool
        _call("get_weather", {"city": "Paris", "country": "FR"}),  # unknown argument
        _call("get_weather", {"date": "today", "city": "Paris"}),  # out of declared order
        _call("set_thermostat", {"temperature_c": "21"}),  # a string for an integer
        _call("set_thermostat", {"temperature_c": 21.5}),
        _call("get_weather", {"city": None}),
        _call("search_flights", {"origin": "A", "destination": "B"}),  # a required one missing
        '<remove id="0"/>',
    ]
    for text in refused:
        assert recognizer(grammar, text) == "refused", text


@pytest.mark.real_model
def test_nested_optional_enum_and_array_arguments(recognizer):
    grammar = call_grammar([ORDER, PATTERNED]).text
    address = {"street": "1 Main St", "postcode": None}
    good = [
        {"items": ["tea"], "size": "M", "address": {"street": "1 Main St"}},
        {"items": [], "size": "L", "address": address, "express": True, "weight_kg": 2.5e-1},
        {"items": ["a", "b"], "size": "S", "address": {"street": "x", "postcode": 1234}},
    ]
    for arguments in good:
        Order.model_validate(arguments)  # valid for the schema itself
        assert recognizer(grammar, _call("order", arguments)) == "complete", arguments
    bad = [
        {"items": ["tea"], "size": "XL", "address": address},
        {"items": [1], "size": "M", "address": address},
        {"items": ["tea"], "size": "M", "address": {"postcode": 1}},
        {"items": "tea", "size": "M", "address": address},
        {"items": ["tea"], "size": "M", "address": address, "express": "yes"},
    ]
    for arguments in bad:
        assert recognizer(grammar, _call("order", arguments)) != "complete", arguments
    # a tool that fell back takes any JSON object, but still only under its own name
    loose = {"code": [1, {"deep": None}], "more": "x"}
    assert recognizer(grammar, _call("lookup_code", loose)) == "complete"
    assert recognizer(grammar, _call("lookup_cod", loose)) == "refused"
