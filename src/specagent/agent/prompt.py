"""The system prompt that teaches a model the asynchronous protocol and lists its tools."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

__all__ = ["system_prompt"]

_INSTRUCTIONS = """\
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
arguments, or remove it. Use only the tools the request needs, and never invent results.

Tools:
"""


def system_prompt(tool_schemas: Sequence[dict[str, Any]]) -> str:
    lines = [json.dumps(s, ensure_ascii=False, separators=(",", ":")) for s in tool_schemas]
    return _INSTRUCTIONS + "\n".join(lines)
