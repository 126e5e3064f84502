"""The in-context protocol: canonical round trips, tolerated forms, errors, streaming detection."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from specagent.events import (
    AnswerCompleted,
    Brief,
    Interrupt,
    ModelOutput,
    ProtocolError,
    ToolCallCancelled,
    ToolCallFailed,
    ToolCallFinished,
    ToolCallRevised,
    ToolCallStarted,
    UserSpeech,
)
from specagent.protocol import (
    THINK_INTERRUPTED,
    AnswerAction,
    ChatMessage,
    ParsedOutput,
    ParseError,
    PauseAction,
    RemoveAction,
    ToolCallAction,
    action_end,
    answer_start,
    parse_output,
    render_action,
    render_input,
    render_interrupted,
    render_messages,
)

# -- strategies -------------------------------------------------------------------------------

# Substrings that are protocol syntax in their own right and so cannot appear verbatim inside
# the text they would terminate (a documented limitation of the tag format).
_RESERVED = ("</tool_call>", "</answer>", "<think>", "</think>", THINK_INTERRUPTED)


def _free_of_reserved(s: str) -> bool:
    return not any(r in s for r in _RESERVED)


json_text = st.text(max_size=20).filter(_free_of_reserved)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**12), max_value=10**12)
    | st.floats(allow_nan=False, allow_infinity=False)
    | json_text
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(json_text, children, max_size=4),
    max_leaves=12,
)
arguments = st.dictionaries(json_text, json_values, max_size=5)
tool_names = st.from_regex(r"[a-z][a-z0-9_]{0,24}", fullmatch=True)
call_ids = st.integers(min_value=1, max_value=100_000)
depends = st.lists(call_ids, max_size=4).map(tuple)
tool_calls = st.builds(ToolCallAction, call_ids, tool_names, arguments, depends)
# Parsing strips the think and answer bodies, so generate them already stripped.
thinks = st.none() | st.text(min_size=1, max_size=40).map(str.strip).filter(
    lambda s: s != "" and _free_of_reserved(s)
)
answer_texts = st.text(max_size=60).map(str.strip).filter(_free_of_reserved)
actions = (
    tool_calls
    | st.builds(RemoveAction, call_ids)
    | st.just(PauseAction())
    | st.builds(AnswerAction, answer_texts)
)


def _expected(action: Any, think: str | None) -> ParsedOutput:
    return ParsedOutput(think or "", action, () if think else ("no_think",))


# -- canonical round trips --------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(action=tool_calls, think=thinks, next_id=call_ids)
def test_tool_call_round_trip(action: ToolCallAction, think: str | None, next_id: int) -> None:
    text = render_action(action, think)
    assert parse_output(text, next_id) == _expected(action, think)


@settings(max_examples=200, deadline=None)
@given(action=actions, think=thinks)
def test_every_action_round_trips(action: Any, think: str | None) -> None:
    text = render_action(action, think)
    assert parse_output(text, next_id=1) == _expected(action, think)
    assert action_end(text) == len(text)


@pytest.mark.parametrize(
    ("action", "think", "text"),
    [
        (
            ToolCallAction(3, "get_weather", {"city": "Paris"}),
            None,
            '<tool_call id="3">{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>',
        ),
        (
            ToolCallAction(4, "book", {"n": 2}, (1, 3)),
            "need both",
            '<think>need both</think><tool_call id="4" depends="1,3">'
            '{"name": "book", "arguments": {"n": 2}}</tool_call>',
        ),
        (ToolCallAction(5, "noop"), None, '<tool_call id="5">{"name": "noop", "arguments": {}}</tool_call>'),
        (RemoveAction(2), "wrong city", '<think>wrong city</think><remove id="2"/>'),
        (PauseAction(), None, "<pause/>"),
        (AnswerAction("Sunny, 21 °C."), "done", "<think>done</think><answer>Sunny, 21 °C.</answer>"),
    ],
)
def test_canonical_text(action: Any, think: str | None, text: str) -> None:
    assert render_action(action, think) == text
    assert parse_output(text, next_id=99) == _expected(action, think)


def test_render_keeps_non_ascii_readable() -> None:
    text = render_action(ToolCallAction(1, "find", {"city": "Zürich", "note": "日本"}))
    assert "Zürich" in text and "日本" in text


def test_empty_think_renders_no_think_block() -> None:
    assert render_action(PauseAction(), "") == "<pause/>"


def test_tag_like_text_inside_arguments_is_not_an_action() -> None:
    action = ToolCallAction(1, "search", {"q": "<pause/> <remove id=\"2\"/> <answer>x ```json {}```"})
    text = render_action(action)
    assert action_end(text) == len(text)
    assert parse_output(text, 1) == _expected(action, None)


def test_fenced_json_inside_answer_does_not_end_it() -> None:
    body = 'Your config:\n```json\n{"name": "a", "arguments": {}}\n```\nAnything else?'
    text = f"<think>show it</think><answer>{body}</answer>"
    assert action_end(text) == len(text)
    for cut in range(len("<think>show it</think><answer>"), len(text)):
        assert action_end(text[:cut]) is None, text[:cut]
    assert parse_output(text, 1) == ParsedOutput("show it", AnswerAction(body), ())


# -- tolerated forms --------------------------------------------------------------------------


def test_qwen_native_tool_call_without_id_gets_next_id() -> None:
    text = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
    out = parse_output(text, next_id=4)
    assert out.action == ToolCallAction(4, "get_weather", {"city": "Paris"})
    assert out.tolerated == ("no_think", "id_assigned")
    out = parse_output("<think>weather first</think>" + text, next_id=9)
    assert out.action == ToolCallAction(9, "get_weather", {"city": "Paris"})
    assert out.think == "weather first"
    assert out.tolerated == ("id_assigned",)


def test_id_and_depends_inside_the_json() -> None:
    text = '<tool_call>{"id": 7, "name": "x", "arguments": {}, "depends": [1, "2", "z"]}</tool_call>'
    out = parse_output(text, next_id=3)
    assert out.action == ToolCallAction(7, "x", {}, (1, 2))
    assert out.tolerated == ("no_think", "id_in_json")


def test_attribute_depends_wins_over_json_depends() -> None:
    text = '<tool_call id="3" depends="1">{"name": "x", "arguments": {}, "depends": [2]}</tool_call>'
    assert parse_output(text, 1).action == ToolCallAction(3, "x", {}, (1,))


def test_depends_attribute_tolerates_spaces_and_empty() -> None:
    text = '<tool_call id="3" depends=" 1, 2 ">{"name": "x", "arguments": {}}</tool_call>'
    assert parse_output(text, 1).action.depends == (1, 2)  # type: ignore[union-attr]
    text = '<tool_call id="3" depends="">{"name": "x", "arguments": {}}</tool_call>'
    assert parse_output(text, 1).action.depends == ()  # type: ignore[union-attr]


def test_fenced_json_block() -> None:
    text = '```json\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n```'
    out = parse_output(text, next_id=2)
    assert out.action == ToolCallAction(2, "get_weather", {"city": "Paris"})
    assert out.tolerated == ("no_think", "fenced_json", "id_assigned")


def test_fenced_json_after_prose() -> None:
    text = '<think>t</think>Let me check.\n```json\n{"name": "w", "arguments": {}}\n```'
    out = parse_output(text, next_id=5)
    assert out.action == ToolCallAction(5, "w", {})
    assert out.tolerated == ("text_before_action", "fenced_json", "id_assigned")


def test_fenced_list_keeps_first_call() -> None:
    text = '```json\n[{"name": "a", "arguments": {}}, {"name": "b", "arguments": {}}]\n```'
    out = parse_output(text, next_id=1)
    assert out.action == ToolCallAction(1, "a", {})
    assert out.tolerated == ("no_think", "fenced_json", "multiple_calls_truncated", "id_assigned")


def test_bare_json_object() -> None:
    text = '  {"name": "get_weather", "arguments": {"city": "Paris"}}\n'
    out = parse_output(text, next_id=6)
    assert out.action == ToolCallAction(6, "get_weather", {"city": "Paris"})
    assert out.tolerated == ("no_think", "bare_json", "id_assigned")


def test_bare_json_list() -> None:
    text = '[{"name": "a", "arguments": {}}, {"name": "b", "arguments": {}}]'
    out = parse_output(text, next_id=2)
    assert out.action == ToolCallAction(2, "a", {})
    assert out.tolerated == ("no_think", "bare_json", "multiple_calls_truncated", "id_assigned")


def test_parameters_instead_of_arguments() -> None:
    text = '<tool_call id="2">{"name": "x", "parameters": {"a": 1}}</tool_call>'
    out = parse_output(text, next_id=9)
    assert out.action == ToolCallAction(2, "x", {"a": 1})
    assert out.tolerated == ("no_think", "parameters_key")
    out = parse_output('{"name": "w", "parameters": {"a": 1}}', next_id=3)
    assert out.action == ToolCallAction(3, "w", {"a": 1})
    assert out.tolerated == ("no_think", "bare_json", "parameters_key", "id_assigned")


def test_missing_arguments_means_empty() -> None:
    out = parse_output('<think>t</think><tool_call id="1">{"name": "now"}</tool_call>', 1)
    assert out.action == ToolCallAction(1, "now", {})
    assert out.tolerated == ("arguments_key_missing",)


def test_arguments_double_encoded_as_string() -> None:
    inner = json.dumps({"city": "Paris", "days": 2})
    text = "<think>t</think>" + render_action(ToolCallAction(2, "x", {})).replace(
        '"arguments": {}', '"arguments": ' + json.dumps(inner)
    )
    out = parse_output(text, next_id=1)
    assert out.action == ToolCallAction(2, "x", {"city": "Paris", "days": 2})
    assert out.tolerated == ("arguments_as_string",)


def test_missing_think() -> None:
    assert parse_output("<pause/>", 1) == ParsedOutput("", PauseAction(), ("no_think",))
    assert parse_output('<remove id="4"/>', 1) == ParsedOutput("", RemoveAction(4), ("no_think",))


def test_empty_think_block_counts_as_a_think() -> None:
    assert parse_output("<think></think><pause/>", 1) == ParsedOutput("", PauseAction(), ())


def test_remove_with_unquoted_id() -> None:
    assert parse_output("<think>x</think><remove id=3/>", 1).action == RemoveAction(3)


def test_unclosed_answer() -> None:
    out = parse_output("<think>t</think>  <answer> It is sunny in Paris. ", 1)
    assert out == ParsedOutput("t", AnswerAction("It is sunny in Paris."), ("answer_unclosed",))


def test_plain_text_is_an_untagged_answer() -> None:
    out = parse_output("It is sunny in Paris.", 1)
    assert out == ParsedOutput("", AnswerAction("It is sunny in Paris."), ("no_think", "untagged_answer"))
    out = parse_output("<think>easy</think>\nSunny.\n", 1)
    assert out == ParsedOutput("easy", AnswerAction("Sunny."), ("untagged_answer",))


def test_text_after_action_is_ignored_and_noted() -> None:
    out = parse_output("<pause/> I will wait for you.", 1)
    assert out == ParsedOutput("", PauseAction(), ("no_think", "text_after_action"))
    text = (
        '<think>t</think><tool_call id="2">{"name": "a", "arguments": {}}</tool_call>'
        '<tool_call id="3">{"name": "b", "arguments": {}}</tool_call>'
    )
    out = parse_output(text, 1)
    assert out.action == ToolCallAction(2, "a", {})
    assert out.tolerated == ("text_after_action",)
    out = parse_output("<think>t</think><answer>Done.</answer>\n<pause/>", 1)
    assert out == ParsedOutput("t", AnswerAction("Done."), ("text_after_action",))


def test_text_before_action_is_noted() -> None:
    out = parse_output("<think>t</think>Okay, waiting. <pause/>", 1)
    assert out == ParsedOutput("t", PauseAction(), ("text_before_action",))
    out = parse_output("<think>t</think>Sure! <answer>Yes.</answer>", 1)
    assert out == ParsedOutput("t", AnswerAction("Yes."), ("text_before_action",))


def test_first_action_wins() -> None:
    out = parse_output("<think>t</think><answer>No.</answer><pause/>", 1)
    assert out.action == AnswerAction("No.")
    out = parse_output('<think>t</think><pause/><remove id="1"/>', 1)
    assert out.action == PauseAction()


def test_unclosed_tool_call_with_complete_json() -> None:
    text = '<think>t</think><tool_call id="3" depends="1">{"name": "x", "arguments": {"a": "}"}}'
    out = parse_output(text, next_id=9)
    assert out == ParsedOutput("t", ToolCallAction(3, "x", {"a": "}"}, (1,)), ("tool_call_unclosed",))
    out = parse_output('<tool_call>\n{"name": "x", "arguments": {}}\n', next_id=9)
    assert out.action == ToolCallAction(9, "x", {})
    assert out.tolerated == ("no_think", "tool_call_unclosed", "id_assigned")
    # Still streaming: an unclosed call is not a finished action.
    assert action_end(text) is None


def test_stray_think_interrupted_is_dropped() -> None:
    out = parse_output(f"<think>x</think>{THINK_INTERRUPTED}<pause/>", 1)
    assert out == ParsedOutput("x", PauseAction(), ())


# -- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "no action"),
        ("   \n ", "no action"),
        ("<think>only thinking</think>", "no action"),
        ("<think>still thinking", "no action"),
        ('<tool_call id="1">{"name": "x", </tool_call>', "not valid JSON"),
        ('<tool_call id="1">{name: x}</tool_call>', "not valid JSON"),
        ("```json\n{\"name\": \"x\",}\n```", "not valid JSON"),
        ('<tool_call id="1">{"arguments": {}}</tool_call>', "no 'name'"),
        ('<tool_call id="1">{"name": "", "arguments": {}}</tool_call>', "no 'name'"),
        ('<tool_call id="1">{"name": 5, "arguments": {}}</tool_call>', "no 'name'"),
        ('{"arguments": {"a": 1}}', "no 'name'"),
        ('<tool_call id="1">["x"]</tool_call>', "JSON object"),
        ("[]", "list is empty"),
        ('<tool_call id="1">{"name": "x", "arguments": [1, 2]}</tool_call>', "must be a JSON object"),
        ('<tool_call id="1">{"name": "x", "arguments": "not json"}</tool_call>', "string that is not JSON"),
        ('<tool_call id="abc">{"name": "x", "arguments": {}}</tool_call>', "positive integer"),
        ('<tool_call id="1.5">{"name": "x", "arguments": {}}</tool_call>', "positive integer"),
        ('<tool_call id="-1">{"name": "x", "arguments": {}}</tool_call>', "positive integer"),
        ('<tool_call id="">{"name": "x", "arguments": {}}</tool_call>', "positive integer"),
        ('<tool_call id="0">{"name": "x", "arguments": {}}</tool_call>', "start at 1"),
        ('<tool_call id="1">{"name": "x", "arguments": {', "unfinished"),
        ('<tool_call id="1">', "unfinished"),
        ('<think>t</think><tool_call id="1"', "unfinished"),
        ("<pause", "unfinished"),
        ('<remove id="1"', "unfinished"),
        ("<remove/>", "needs the id"),
        ("<remove>", "needs the id"),
        ("<answer", "unfinished"),
        ('<tool_call id="2" depends="a">{"name": "x", "arguments": {}}</tool_call>', "depends"),
        ('<tool_call id="2" depends="1;2">{"name": "x", "arguments": {}}</tool_call>', "depends"),
        ('<tool_call id="2" depends="1,-3">{"name": "x", "arguments": {}}</tool_call>', "depends"),
    ],
)
def test_parse_errors(text: str, fragment: str) -> None:
    with pytest.raises(ParseError) as info:
        parse_output(text, next_id=1)
    assert fragment in info.value.message
    assert str(info.value) == info.value.message
    assert info.value.raw == text


# -- streaming: action_end and answer_start ---------------------------------------------------

_STREAMED = [
    render_action(ToolCallAction(1, "get_weather", {"city": "Paris", "unit": "C"}), "look it up"),
    render_action(ToolCallAction(12, "book", {"time": "20:00", "party": 2, "tags": ["}", "{"]}, (1, 3))),
    render_action(RemoveAction(12), "user changed their mind"),
    render_action(PauseAction(), "wait for the rest"),
    render_action(PauseAction()),
    render_action(AnswerAction("It is 18 °C in Paris; table for two at 20:00 is booked."), "all done"),
    render_action(AnswerAction("")),
    '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>',
    '```json\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n```',
    '{"name": "get_weather", "arguments": {"city": "Pa\\"}ris", "x": {"y": "{"}}}',
    '<think>a <pause/> in thought is not an action</think><remove id="7"/>',
]


@pytest.mark.parametrize("text", _STREAMED)
def test_action_end_over_every_prefix(text: str) -> None:
    for cut in range(len(text)):
        assert action_end(text[:cut]) is None, repr(text[:cut])
    assert action_end(text) == len(text)
    # Whatever the model writes after the action is not part of it.
    assert action_end(text + " and then more <pause/>") == len(text)


@settings(max_examples=60, deadline=None)
@given(action=actions, think=thinks)
def test_action_end_over_every_prefix_property(action: Any, think: str | None) -> None:
    text = render_action(action, think)
    assert all(action_end(text[:cut]) is None for cut in range(len(text)))
    assert action_end(text) == len(text)


def test_action_end_counts_from_the_start_of_the_whole_text() -> None:
    text = "<think>hmm</think>\n  <pause/>"
    assert action_end(text) == len(text)
    assert action_end(text + "\n\n") == len(text)


def test_plain_text_has_no_action_end() -> None:
    assert action_end("It is sunny in Paris.") is None


def test_answer_start() -> None:
    text = "<think>ok</think><answer>Sunny"
    i = answer_start(text)
    assert i == text.index("Sunny")
    assert answer_start("<answer>") == len("<answer>")
    assert answer_start("<think>I will write <answer> soon") is None  # still thinking
    assert answer_start("<think>about <answer></think><pause/>") is None  # only in thought
    assert answer_start("<think>ok</think><answ") is None
    assert answer_start('<think>ok</think><tool_call id="1">') is None
    assert answer_start("Sunny") is None  # untagged answers have no start marker


# -- interrupted generations ------------------------------------------------------------------


def test_render_interrupted_closes_open_think() -> None:
    assert render_interrupted("<think>The user wants Par") == "<think>The user wants Par" + THINK_INTERRUPTED
    assert render_interrupted("<think>trailing space \n") == "<think>trailing space" + THINK_INTERRUPTED


def test_render_interrupted_drops_half_written_action() -> None:
    partial = '<think>check weather</think><tool_call id="1">{"name": "get_wea'
    assert render_interrupted(partial) == "<think>check weather</think>" + THINK_INTERRUPTED
    assert render_interrupted('<tool_call id="1">{"na') == THINK_INTERRUPTED
    assert render_interrupted("<think>x</think><answer>It is sun") == "<think>x</think>" + THINK_INTERRUPTED
    assert render_interrupted("Sure, the weather in") == THINK_INTERRUPTED
    assert render_interrupted("") == THINK_INTERRUPTED


def test_interrupted_text_holds_no_action() -> None:
    for partial in ("<think>abc", '<think>a</think><tool_call id="1">{', "<answer>x"):
        closed = render_interrupted(partial)
        assert closed.endswith(THINK_INTERRUPTED)
        assert action_end(closed) is None


# -- rendering inputs -------------------------------------------------------------------------


def test_render_input_user_updates() -> None:
    assert (
        render_input(UserSpeech(t=0.4, text="What's the weather in"))
        == "<partial_query_update>What's the weather in</partial_query_update>"
    )
    assert (
        render_input(UserSpeech(t=2.0, text="Paris?", final=True))
        == "<final_query_update>Paris?</final_query_update>"
    )


def test_render_input_tool_result() -> None:
    event = ToolCallFinished(t=1.0, call_id=3, result={"city": "Zürich", "temp_c": 18.5, "ok": True})
    assert (
        render_input(event)
        == '<tool_result id="3">{"city": "Zürich", "temp_c": 18.5, "ok": true}</tool_result>'
    )
    assert render_input(ToolCallFinished(t=1.0, call_id=4)) == '<tool_result id="4">null</tool_result>'
    assert render_input(ToolCallFinished(t=1.0, call_id=5, result="ok")) == '<tool_result id="5">"ok"</tool_result>'


def test_render_input_tool_failure() -> None:
    event = ToolCallFailed(t=1.0, call_id=2, error="get_weather took longer than its 5 s timeout", error_type="timeout")
    assert (
        render_input(event)
        == '<tool_result id="2" error="timeout">get_weather took longer than its 5 s timeout</tool_result>'
    )


def test_render_input_cancel_and_protocol_error() -> None:
    assert render_input(ToolCallCancelled(t=1.0, call_id=3, reason="removed")) == '<cancel id="3"/>'
    assert (
        render_input(ProtocolError(t=1.0, message="tool call has no 'name'", raw="{}"))
        == "<protocol_error>tool call has no 'name'</protocol_error>"
    )


def test_render_input_cancel_the_model_caused_is_silent() -> None:
    event = ToolCallCancelled(t=1.0, call_id=3, reason="revised", notify_model=False)
    assert render_input(event) is None


def test_render_messages_groups_inputs_between_outputs() -> None:
    events = [
        UserSpeech(t=0.0, text="What's the weather"),
        UserSpeech(t=0.5, text="in Paris?"),
        ModelOutput(t=0.6, text="<pause/>", started_t=0.55),
        ToolCallStarted(t=0.7, call_id=1),  # never shown to the model
        ToolCallCancelled(t=0.8, call_id=1, reason="revised", notify_model=False),
        UserSpeech(t=1.0, text="Thanks.", final=True),
        ToolCallCancelled(t=1.1, call_id=2, reason="removed"),
    ]
    assert render_messages(events, "SYSTEM") == [
        ChatMessage("system", "SYSTEM"),
        ChatMessage(
            "user",
            "<partial_query_update>What's the weather</partial_query_update>\n"
            "<partial_query_update>in Paris?</partial_query_update>",
        ),
        ChatMessage("assistant", "<pause/>"),
        ChatMessage(
            "user",
            '<final_query_update>Thanks.</final_query_update>\n<cancel id="2"/>',
        ),
    ]
    assert render_messages([], "S") == [ChatMessage("system", "S")]


def test_a_result_arriving_while_its_revision_was_written_is_left_out() -> None:
    old_result = ToolCallFinished(t=2.2, call_id=1, result={"city": "Paris"})
    revision = ModelOutput(t=2.5, started_t=2.0, text="<tool_call id=\"1\">…Lyon…</tool_call>")
    events = [
        ModelOutput(t=1.4, started_t=1.0, text="<tool_call id=\"1\">…Paris…</tool_call>"),
        old_result,
        revision,
        ToolCallRevised(t=2.5, call_id=1, name="lookup", arguments={"city": "Lyon"}),
        ToolCallFinished(t=3.3, call_id=1, result={"city": "Lyon"}),
    ]
    shown = "\n".join(m.content for m in render_messages(events, "S"))
    assert "Paris\"}</tool_result>" not in shown and "Lyon\"}</tool_result>" in shown
    # seen before the revision began, the same result stays: it is correctly ordered history
    seen_first = [*events[:2], replace(revision, started_t=2.3), *events[3:]]
    shown = "\n".join(m.content for m in render_messages(seen_first, "S"))
    assert '<tool_result id="1">{"city": "Paris"}</tool_result>' in shown


def test_render_input_brief_is_plain_text() -> None:
    assert render_input(Brief(t=0.0, text="Find the cheapest flight.")) == "Find the cheapest flight."


@pytest.mark.parametrize(
    "event",
    [
        ToolCallStarted(t=0.0, call_id=1),
        Interrupt(t=0.0, reason="barge-in"),
        AnswerCompleted(t=0.0, text="hi"),
    ],
)
def test_render_input_ignores_events_the_model_never_sees(event: Any) -> None:
    assert render_input(event) is None


@pytest.mark.parametrize(
    "text",
    [
        '<tool_result id="1">{"flights": []}</tool_result>',
        "<partial_query_update>more</partial_query_update>",
        '<cancel id="2"/>',
    ],
)
def test_an_output_that_impersonates_an_input_is_a_parse_error(text):
    with pytest.raises(ParseError, match="input tag") as caught:
        parse_output(text, 1)
    # an imitated result (a small model "waiting" for its call) is told how to wait
    assert ("<pause/> to wait" in caught.value.message) == text.startswith("<tool_result")
