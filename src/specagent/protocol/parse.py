"""Reading what a model writes: one action out of a generation, also while it streams.

This is the tolerant half of the protocol (see the package docstring for what it forgives).
The streaming detectors (:func:`action_end`, :func:`action_started`, :func:`answer_start`) let
the session stop a generation the moment one action is complete; :func:`parse_output` reads the
finished text. Both use the same patterns, kept here and nowhere else.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .actions import (
    AnswerAction,
    ParsedOutput,
    ParseError,
    PauseAction,
    RemoveAction,
    ToolCallAction,
)

__all__ = [
    "THINK_INTERRUPTED",
    "action_end",
    "action_started",
    "answer_start",
    "parse_output",
    "visible_start",
]

# Closes reasoning that an event cut short: written by render_interrupted, skipped when parsing.
THINK_INTERRUPTED = "</think_interrupted>"

# -- streaming detection ----------------------------------------------------------------------

_TOOL_CALL_RE = re.compile(r"<tool_call(?P<attrs>[^>]*)>(?P<body>.*?)</tool_call>", re.S)
_REMOVE_RE = re.compile(r"<remove\s+id\s*=\s*\"?(?P<id>\d+)\"?\s*/?>")
_PAUSE_RE = re.compile(r"<pause\s*/?>")
_ANSWER_OPEN = "<answer>"
_ANSWER_CLOSE = "</answer>"
_FENCE_RE = re.compile(r"```(?:json|tool_call|JSON)?\s*(?P<body>[\[{].*?)\s*```", re.S)
_INPUT_TAG_RE = re.compile(
    r"<(tool_result|partial_query_update|final_query_update|cancel|protocol_error|review)\b"
)
_UNCLOSED_CALL_RE = re.compile(r"<tool_call(?P<attrs>[^>]*)>(?P<body>.*)", re.S)
_ATTR_RE = re.compile(r"(\w+)\s*=\s*\"([^\"]*)\"")


def visible_start(text: str) -> int | None:
    """Index where text after the think block begins; None while still thinking."""
    stripped = text.lstrip()
    if not stripped.startswith("<think>"):
        return 0
    close = text.find("</think>")
    if close < 0:
        return None
    return close + len("</think>")


def action_end(text: str) -> int | None:
    """If ``text`` already holds a complete action, the index just past it; else None.

    Used while streaming so generation stops as soon as one action is written.
    """
    start = visible_start(text)
    if start is None:
        return None
    visible = text[start:]
    # (where an action begins, where it ends or None while unfinished): the action that begins
    # first owns the text up to its own close, so tags or fences inside it do not end it.
    spans: list[tuple[int, int | None]] = []
    for pattern in (_REMOVE_RE, _PAUSE_RE, _FENCE_RE):
        m = pattern.search(visible)
        if m:
            spans.append((m.start(), m.end()))
    call_at = visible.find("<tool_call")
    if call_at >= 0:
        m = _TOOL_CALL_RE.match(visible, call_at)
        spans.append((call_at, m.end() if m else None))
    answer_at = visible.find(_ANSWER_OPEN)
    if answer_at >= 0:
        close = visible.find(_ANSWER_CLOSE, answer_at)
        spans.append((answer_at, close + len(_ANSWER_CLOSE) if close >= 0 else None))
    if visible.lstrip().startswith("{"):
        spans.append((0, _bare_json_end(visible)))
    if not spans:
        return None
    end = min(spans, key=lambda s: s[0])[1]
    return None if end is None else start + end


def action_started(text: str) -> bool:
    """Whether the model has begun writing its action (anything visible after reasoning)."""
    start = visible_start(text)
    return start is not None and bool(text[start:].strip())


def answer_start(text: str) -> int | None:
    """Index where a tagged ``<answer>`` body begins, if the model has opened one."""
    start = visible_start(text)
    if start is None:
        return None
    i = text.find(_ANSWER_OPEN, start)
    return None if i < 0 else i + len(_ANSWER_OPEN)


def _bare_json_end(visible: str) -> int | None:
    """End of a JSON object that makes up the whole visible output, once its braces balance."""
    lead = len(visible) - len(visible.lstrip())
    if not visible[lead:].startswith("{"):
        return None
    depth = 0
    in_string = False
    escaped = False
    for i in range(lead, len(visible)):
        ch = visible[i]
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i + 1
    return None


# -- parsing ----------------------------------------------------------------------------------


def _split_think(text: str) -> tuple[str, str]:
    start = visible_start(text)
    if start is None:  # unclosed think: everything is reasoning
        body = text.lstrip()[len("<think>") :]
        return body.replace(THINK_INTERRUPTED, "").strip(), ""
    if start == 0:
        return "", text
    think = text[text.find("<think>") + len("<think>") : start - len("</think>")]
    return think.strip(), text[start:]


def _call_from_json(
    body: str, raw: str, call_id: int | None, depends: tuple[int, ...], next_id: int
) -> tuple[ToolCallAction, list[str]]:
    notes: list[str] = []
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        raise ParseError(f"tool call is not valid JSON ({exc.msg} at char {exc.pos})", raw) from exc
    if isinstance(data, list):
        if not data:
            raise ParseError("tool call list is empty", raw)
        if len(data) > 1:
            notes.append("multiple_calls_truncated")
        data = data[0]
    if not isinstance(data, dict):
        raise ParseError("tool call must be a JSON object with 'name' and 'arguments'", raw)
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise ParseError("tool call has no 'name'", raw)
    args: Any = data.get("arguments", data.get("parameters", {}))
    if "arguments" not in data:
        notes.append("arguments_key_missing" if "parameters" not in data else "parameters_key")
    if isinstance(args, str):  # some models double-encode the arguments
        try:
            args = json.loads(args)
            notes.append("arguments_as_string")
        except json.JSONDecodeError as exc:
            raise ParseError("tool call 'arguments' is a string that is not JSON", raw) from exc
    if not isinstance(args, dict):
        raise ParseError("tool call 'arguments' must be a JSON object", raw)
    if call_id is None:
        raw_id = data.get("id")
        if isinstance(raw_id, int) and raw_id > 0:
            call_id = raw_id
            notes.append("id_in_json")
        else:
            call_id = next_id
            notes.append("id_assigned")
    if not depends and isinstance(data.get("depends"), list):
        depends = tuple(int(d) for d in data["depends"] if str(d).isdigit())
    return ToolCallAction(call_id, name, args, depends), notes


def _parse_depends(value: str, raw: str) -> tuple[int, ...]:
    parts = [p.strip() for p in value.split(",") if p.strip()]
    if not all(p.isdigit() for p in parts):
        raise ParseError(f'depends="{value}" must list call ids, e.g. depends="1,2"', raw)
    return tuple(int(p) for p in parts)


def parse_output(text: str, next_id: int) -> ParsedOutput:
    """Read one generation into think + exactly one action.

    ``next_id`` is the id given to a tool call written without one. The first complete action
    wins; text after it is ignored (and noted).
    """
    think, visible = _split_think(text)
    notes: list[str] = []
    if think == "" and not text.lstrip().startswith("<think>"):
        notes.append("no_think")
    visible = visible.replace(THINK_INTERRUPTED, "")
    stripped = visible.strip()
    if not stripped:
        raise ParseError("no action: write <tool_call>, <remove/>, <pause/> or <answer>", text)

    end = action_end(visible)
    if end is not None and visible[end:].strip():
        notes.append("text_after_action")
    head = visible if end is None else visible[:end]

    candidates: list[tuple[int, str, re.Match[str]]] = []
    for kind, pattern in (
        ("tool_call", _TOOL_CALL_RE),
        ("remove", _REMOVE_RE),
        ("pause", _PAUSE_RE),
        ("fence", _FENCE_RE),
    ):
        m = pattern.search(head)
        if m:
            candidates.append((m.start(), kind, m))
    answer_at = head.find(_ANSWER_OPEN)
    if candidates and (answer_at < 0 or min(candidates)[0] < answer_at):
        _, kind, m = min(candidates, key=lambda c: c[0])
        if head[: m.start()].strip():
            notes.append("text_before_action")
        if kind == "tool_call":
            attrs = dict(_ATTR_RE.findall(m.group("attrs")))
            raw_id = attrs.get("id")
            if raw_id is not None and not raw_id.strip().isdigit():
                raise ParseError(f'tool call id="{raw_id}" must be a positive integer', text)
            call_id = int(raw_id) if raw_id is not None else None
            if call_id is not None and call_id < 1:
                raise ParseError("tool call ids start at 1", text)
            depends = _parse_depends(attrs.get("depends", ""), text)
            action, more = _call_from_json(m.group("body").strip(), text, call_id, depends, next_id)
            return ParsedOutput(think, action, tuple(notes + more))
        if kind == "remove":
            return ParsedOutput(think, RemoveAction(int(m.group("id"))), tuple(notes))
        if kind == "pause":
            return ParsedOutput(think, PauseAction(), tuple(notes))
        action, more = _call_from_json(m.group("body"), text, None, (), next_id)
        return ParsedOutput(think, action, tuple(notes + ["fenced_json"] + more))

    if answer_at >= 0:
        body = head[answer_at + len(_ANSWER_OPEN) :]
        close = body.find(_ANSWER_CLOSE)
        if close < 0:
            notes.append("answer_unclosed")
        else:
            body = body[:close]
        if head[:answer_at].strip():
            notes.append("text_before_action")
        return ParsedOutput(think, AnswerAction(body.strip()), tuple(notes))

    if stripped.startswith("{") or stripped.startswith("["):
        bare_end = _bare_json_end(stripped) if stripped.startswith("{") else len(stripped)
        body = stripped[:bare_end] if bare_end else stripped
        action, more = _call_from_json(body, text, None, (), next_id)
        return ParsedOutput(think, action, tuple(notes + ["bare_json"] + more))
    imitated = _INPUT_TAG_RE.match(stripped)
    if imitated:
        hint = (
            "tool results arrive by themselves: write <pause/> to wait for one, or <answer> "
            "once you have it"
            if imitated.group(1) == "tool_result"
            else "write one action: <tool_call>, <remove/>, <pause/> or <answer>"
        )
        raise ParseError(f"that is an input tag; {hint}", text)
    unclosed = _UNCLOSED_CALL_RE.match(stripped)
    if unclosed and _bare_json_end(unclosed.group("body")) is not None:
        body = unclosed.group("body")
        attrs = dict(_ATTR_RE.findall(unclosed.group("attrs")))
        raw_id = attrs.get("id", "")
        call_id = int(raw_id) if raw_id.isdigit() and int(raw_id) > 0 else None
        depends = _parse_depends(attrs.get("depends", ""), text)
        action, more = _call_from_json(
            body[: _bare_json_end(body)], text, call_id, depends, next_id
        )
        return ParsedOutput(think, action, tuple(notes + ["tool_call_unclosed"] + more))
    if re.match(r"<remove\s*/?>", stripped):
        raise ParseError('<remove/> needs the id of the call to withdraw: <remove id="N"/>', text)
    if stripped.startswith("<") and re.match(r"<(tool_call|remove|pause|answer)\b", stripped):
        raise ParseError("unfinished action: close the tag you opened", text)
    return ParsedOutput(think, AnswerAction(stripped), tuple(notes + ["untagged_answer"]))
