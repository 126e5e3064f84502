"""``--model scripted``: a rule-based stand-in model for the example assistant, for tests and load.

It reads the context the runtime renders (the protocol's tags) and writes the actions a
well-behaved model would, so the server, the page and the load test can be exercised without
a language model: it asks for the weather of a city as soon as the city has been said
(a read-only call, run early), sends a text message once the user has finished
(``text Sam that ...``: an irreversible call, held for its commit point) and answers from the
results. Never used for a reported model figure: the load test reports the server's own delays.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..clock import Clock
from ..models.scripted import ScriptedBackend
from ..protocol import ChatMessage

__all__ = ["assistant_script", "scripted_assistant_backend"]

_UPDATE = re.compile(r"<(partial|final)_query_update>(.*?)</\1_query_update>", re.S)
_CALL = re.compile(r'<tool_call id="(\d+)"[^>]*>(.*?)</tool_call>', re.S)
_RESULT = re.compile(r'<tool_result id="(\d+)"(?: error="[^"]*")?>(.*?)</tool_result>', re.S)
_CANCEL = re.compile(r'<cancel id="(\d+)"/>')
_WEATHER = re.compile(r"weather (?:in|for) ((?:[A-Z][\w'-]*)(?: [A-Z][\w'-]*)*)")
_MESSAGE = re.compile(r"\b(?:text|message|tell) ([A-Z][\w-]*),? (?:that )?(.+)$", re.S)


@dataclass
class _Turn:
    """What the current turn holds so far, read back from the rendered context."""

    words: str = ""
    final: bool = False
    calls: dict[int, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    results: dict[int, Any] = field(default_factory=dict)
    ended: set[int] = field(default_factory=set)  # calls with a result or a cancellation
    last_id: int = 0  # highest call id in the whole conversation

    @classmethod
    def read(cls, messages: Sequence[ChatMessage]) -> _Turn:
        turn = cls()
        updates: list[tuple[str, bool]] = []
        for message in messages[1:]:
            if message.role == "assistant":
                for call_id, body in _CALL.findall(message.content):
                    turn.last_id = max(turn.last_id, int(call_id))
                    try:
                        call = json.loads(body)
                        turn.calls[int(call_id)] = (call["name"], call.get("arguments", {}))
                    except (ValueError, KeyError, TypeError):
                        continue
                if "<answer>" in message.content:  # a turn ended: start afresh
                    updates, turn.calls, turn.results, turn.ended = [], {}, {}, set()
                continue
            for kind, text in _UPDATE.findall(message.content):
                updates.append((text, kind == "final"))
            for call_id, body in _RESULT.findall(message.content):
                turn.ended.add(int(call_id))
                try:
                    turn.results[int(call_id)] = json.loads(body)
                except ValueError:
                    turn.results[int(call_id)] = body
            turn.ended.update(int(c) for c in _CANCEL.findall(message.content))
        turn.words = " ".join(text.strip() for text, _ in updates if text.strip())
        turn.final = bool(updates) and updates[-1][1]
        return turn

    def called(self, name: str, **arguments: Any) -> bool:
        return any(
            n == name and all(a.get(k) == v for k, v in arguments.items())
            for n, a in self.calls.values()
        )


def _call(call_id: int, name: str, arguments: dict[str, Any], why: str) -> str:
    body = json.dumps({"name": name, "arguments": arguments})
    return f'<think>{why}</think><tool_call id="{call_id}">{body}</tool_call>'


def _summary(turn: _Turn) -> str:
    parts = []
    for call_id, (name, _arguments) in sorted(turn.calls.items()):
        result = turn.results.get(call_id)
        if not isinstance(result, dict):
            continue
        if name == "get_weather" and "forecast" in result:
            parts.append(f"{result['city']}: {result['forecast']}, {result['high_c']} C.")
        elif name == "send_message" and result.get("status") == "sent":
            parts.append(f"Message sent to {_arguments.get('to')}.")
    if not parts:
        return f"I heard: {turn.words}"
    return " ".join(parts)


def assistant_script(messages: Sequence[ChatMessage]) -> str:
    """The next output for the example assistant, from the rendered context."""
    turn = _Turn.read(messages)
    next_id = turn.last_id + 1
    for match in _WEATHER.finditer(turn.words):
        city = match.group(1)
        said_after = turn.words[match.end() :].strip()
        if (said_after or turn.final) and not turn.called("get_weather", city=city):
            return _call(next_id, "get_weather", {"city": city}, f"Weather for {city}.")
    if turn.final:
        match = _MESSAGE.search(turn.words)
        if match is not None:
            to, text = match.group(1), match.group(2).strip().rstrip(".!?")
            if text and not turn.called("send_message", to=to):
                return _call(next_id, "send_message", {"to": to, "text": text}, f"Text {to}.")
    if not turn.final or any(c not in turn.ended for c in turn.calls):
        return "<pause/>"
    return f"<answer>{_summary(turn)}</answer>"


def scripted_assistant_backend(
    clock: Clock, *, ttft_s: float = 0.05, token_s: float = 0.02
) -> ScriptedBackend:
    """A :class:`ScriptedBackend` playing :func:`assistant_script` at the given speed."""
    return ScriptedBackend(clock, assistant_script, ttft_s=ttft_s, token_s=token_s)
