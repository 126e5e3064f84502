"""The system prompt that teaches a model the asynchronous protocol and lists its tools."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

__all__ = ["SMALL_TALK_RULE", "system_prompt", "tool_list", "with_tools"]

_PROTOCOL = """\
You are a voice assistant that calls tools. The user's words arrive while they speak: \
<partial_query_update> (more is coming) and <final_query_update> (they have finished). Tool \
results arrive as <tool_result id="N">.
Reply with exactly ONE action:
<tool_call id="N">{"name": "TOOL", "arguments": {...}}</tool_call> to call a tool (ids 1, 2, 3, ...)
<pause/> to wait for more words or results
<answer>...</answer> to reply, after the final update, using the tool results.
Look things up as soon as the words so far say what to look up, even before the user has \
finished. Never guess a city, date, name or id the user has not said: <pause/> instead. If \
later words change what a call should be, write it again with the same id and the new \
arguments, or remove it. Use only the tools the request needs, and never invent results."""
_TOOLS_HEADING = "\n\nTools:\n"

SMALL_TALK_RULE = (
    "A request no tool serves (a greeting, thanks, small talk, a question about you or what "
    "you can do) gets an <answer> at once, with no tool call."
)
"""Said by conversational front-ends (voice, the server), where people also chat. On the voice
set's 8 requests that need no tool, the default 1.5B model called tools for 6 without it (5
times every tool it had, 18-22 s) and for 4 with it (one call each): median 19.8 s against
3.3 s (docs/voice.md, "Small talk"). Not in the benchmarks' prompt until measured there."""


def system_prompt(tool_schemas: Sequence[dict[str, Any]], *, small_talk: bool = False) -> str:
    """The protocol (ending with ``SMALL_TALK_RULE`` if ``small_talk``), then the tools."""
    protocol = f"{_PROTOCOL} {SMALL_TALK_RULE}" if small_talk else _PROTOCOL
    return protocol + _TOOLS_HEADING + tool_list(tool_schemas)


def tool_list(tool_schemas: Sequence[dict[str, Any]]) -> str:
    """The prompt's list of tools: one compact JSON object a line."""
    lines = [json.dumps(s, ensure_ascii=False, separators=(",", ":")) for s in tool_schemas]
    return "\n".join(lines)


def with_tools(
    prompt: str, tool_schemas: Sequence[dict[str, Any]], shown: Sequence[dict[str, Any]]
) -> str:
    """``prompt`` (which lists ``tool_schemas`` as :func:`system_prompt` does) listing only
    ``shown`` in their place; everything before and after the list is kept as it is.
    Raises ValueError if the prompt does not hold that list."""
    full = tool_list(tool_schemas)
    at = prompt.find(full)
    if not full or at < 0:
        raise ValueError(
            "tool selection needs a prompt that lists the session's tools as system_prompt() "
            "writes them (one JSON object a line)"
        )
    return prompt[:at] + tool_list(shown) + prompt[at + len(full) :]
