"""The asynchronous in-context protocol: render what the model sees, parse what it writes.

This package is the only place that knows the tag syntax. The runtime, the scripted test model
and the training-data generator all go through it, so they cannot drift apart. The format is
documented with examples in ``docs/protocol.md``.

Inputs injected into the context::

    <partial_query_update>book a flight</partial_query_update>
    <final_query_update>to Denver tomorrow</final_query_update>
    <tool_result id="1">{"flights": [...]}</tool_result>
    <tool_result id="2" error="timeout">tool took longer than 5.0 s</tool_result>
    <cancel id="3"/>
    <tool_result id="4" error="needs_confirmation">not run yet: the user was asked ...</tool_result>
    <protocol_error>...</protocol_error>
    </think_interrupted>        (closes reasoning that an event cut short)

Model output: an optional ``<think>…</think>`` and then exactly one action::

    <tool_call id="1" depends="">{"name": "search_flights", "arguments": {...}}</tool_call>
    <remove id="1"/>
    <pause/>
    <answer>…</answer>

Parsing is tolerant of what small models really write: a ``<tool_call>`` without an id (the
Qwen native format), a fenced ```json block or a bare JSON object holding ``name`` and
``arguments`` (or ``parameters``), a missing think block, an unclosed ``<answer>``, or plain
text (taken as the answer). Anything else is a :class:`ParseError`, which the agent injects back
as a ``<protocol_error>`` so the model can try again.

Layout: ``actions.py`` the dataclasses an output is read into, ``render.py`` events and actions
to text, ``parse.py`` text to actions (also while streaming), ``grammar.py`` the output side as
a GBNF grammar for constrained decoding (``SessionConfig.constrain_calls``). Import from the
package; only the training generator needs ``inputs.py``, which reads a rendered context's
input tags back.
"""

from .actions import (
    Action,
    AnswerAction,
    ParsedOutput,
    ParseError,
    PauseAction,
    RemoveAction,
    ToolCallAction,
)
from .grammar import CallGrammar, call_grammar
from .parse import THINK_INTERRUPTED, action_end, action_started, answer_start, parse_output
from .render import (
    ChatMessage,
    ContextRenderer,
    SupersededResults,
    render_action,
    render_input,
    render_interrupted,
    render_messages,
    shown_value,
)

__all__ = [
    "ChatMessage",
    "render_messages",
    "ContextRenderer",
    "SupersededResults",
    "ToolCallAction",
    "RemoveAction",
    "PauseAction",
    "AnswerAction",
    "Action",
    "ParsedOutput",
    "ParseError",
    "parse_output",
    "action_end",
    "action_started",
    "answer_start",
    "render_input",
    "render_action",
    "render_interrupted",
    "THINK_INTERRUPTED",
    "shown_value",
    "CallGrammar",
    "call_grammar",
]
