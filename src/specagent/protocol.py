"""The asynchronous in-context protocol: render what the model sees, parse what it writes.

This module is the only place that knows the tag syntax. The runtime, the scripted test model
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
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from .events import (
    Brief,
    ConfirmationAnswered,
    ConfirmationAsked,
    Event,
    ModelOutput,
    ProtocolError,
    ToolCallCancelled,
    ToolCallCompensated,
    ToolCallFailed,
    ToolCallFinished,
    ToolCallRevised,
    UserSpeech,
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
]

THINK_INTERRUPTED = "</think_interrupted>"


# -- actions ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ToolCallAction:
    call_id: int
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    depends: tuple[int, ...] = ()


@dataclass(frozen=True)
class RemoveAction:
    call_id: int


@dataclass(frozen=True)
class PauseAction:
    pass


@dataclass(frozen=True)
class AnswerAction:
    text: str


Action = ToolCallAction | RemoveAction | PauseAction | AnswerAction


@dataclass(frozen=True)
class ParsedOutput:
    """One generation read as ``think`` + one ``action``.

    ``tolerated`` names each liberty the parser took (for protocol-validity metrics: a
    strictly valid turn has none).
    """

    think: str
    action: Action
    tolerated: tuple[str, ...] = ()


class ParseError(ValueError):
    """Model output that holds no readable action. ``raw`` is the text that was read."""

    def __init__(self, message: str, raw: str) -> None:
        super().__init__(message)
        self.message = message
        self.raw = raw


# -- rendering --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChatMessage:
    """One message of the chat-format context handed to a model backend."""

    role: Literal["system", "user", "assistant"]
    content: str


def _seen_at(event: Event) -> float:
    return event.started_t if isinstance(event, ModelOutput) else event.t


def render_messages(events: Iterable[Event], system_prompt: str) -> list[ChatMessage]:
    """The model's view of a ledger: inputs become user messages, outputs assistant messages.

    Consecutive inputs are joined into one user message. The ledger holds events in the order
    they happened; a model output is placed where its generation *started*, so an input that
    arrived while the model was writing comes after that output, as the model saw it. A
    superseded result (see :class:`SupersededResults`) is left out.
    """
    events = list(events)
    superseded = SupersededResults()
    for index, event in enumerate(events):
        superseded.feed(index, event)
    out = [ChatMessage("system", system_prompt)]
    pending: list[str] = []
    placed = sorted(range(len(events)), key=lambda i: _seen_at(events[i]))
    for index in placed:
        event = events[index]
        if isinstance(event, ModelOutput):
            if pending:
                out.append(ChatMessage("user", "\n".join(pending)))
                pending = []
            out.append(ChatMessage("assistant", event.text))
            continue
        text = None if index in superseded.indices else render_input(event)
        if text is not None:
            pending.append(text)
    if pending:
        out.append(ChatMessage("user", "\n".join(pending)))
    return out


_RESULT_EVENTS = (ToolCallFinished, ToolCallFailed)


class SupersededResults:
    """Finds results the model must not see because it revised their call before reading them.

    A read-only call can finish while the model is still writing a revision of it. Placed
    where it arrived, the old version's result would come *after* the revision in the context,
    looking exactly like the new version's result, and the model could answer from stale data.
    Such a result is left out; the revised call's own result follows. A result the model had
    seen before it revised the call stays: it is history, correctly ordered.

    Fed the ledger in order, it marks the last result of call N superseded when a
    ``ToolCallRevised`` of N comes from a generation that started before that result arrived.
    A session records a generation's ``ModelOutput`` just before the events of its action, so
    the generation that wrote a revision is the last ``ModelOutput`` before it.
    """

    def __init__(self) -> None:
        self.indices: set[int] = set()
        self._last_result: dict[int, tuple[int, float]] = {}  # call id -> (index, arrived at)
        self._generation_started = float("-inf")  # of the last ModelOutput fed

    def feed(self, index: int, event: Event) -> int | None:
        """Take the next ledger event; returns the index of a result it marked superseded."""
        if isinstance(event, _RESULT_EVENTS) and event.notify_model:
            self._last_result[event.call_id] = (index, event.t)
        elif isinstance(event, ModelOutput):
            self._generation_started = event.started_t
        elif isinstance(event, ToolCallRevised):
            seen = self._last_result.pop(event.call_id, None)
            if seen is not None and self._generation_started < seen[1]:
                self.indices.add(seen[0])
                return seen[0]
        return None


class ContextRenderer:
    """:func:`render_messages` for a growing ledger, reusing what it rendered last time.

    A session renders its ledger before every generation; rendering it whole each time made a
    long request cost time quadratic in its length. A ledger only grows, so this keeps the
    messages already built and folds in just the new events, provided none of them sorts before
    an input or output already rendered (otherwise it renders from scratch). Either way the
    result equals ``render_messages(events, system_prompt)``.
    """

    def __init__(self) -> None:
        self._reset("")

    def _reset(self, system_prompt: str) -> None:
        self._prompt = system_prompt
        self._done = [ChatMessage("system", system_prompt)]
        self._pending: list[str] = []
        self._count = 0  # events consumed so far
        self._last: Event | None = None  # the last of them (to check the prefix is unchanged)
        self._latest = float("-inf")  # latest _seen_at among rendered inputs and outputs
        self._superseded = SupersededResults()  # fed every event consumed so far

    def render(self, events: Sequence[Event], system_prompt: str) -> list[ChatMessage]:
        if (
            system_prompt != self._prompt
            or len(events) < self._count
            or (self._count and events[self._count - 1] is not self._last)
        ):
            self._reset(system_prompt)
        # (seen at, ledger index, event, text or None for a model output); events the model
        # never sees are skipped, as they change nothing in the rendering wherever they sort.
        fresh: list[tuple[float, int, Event, str | None]] = []
        for index in range(self._count, len(events)):
            event = events[index]
            hidden = self._superseded.feed(index, event)
            if hidden is not None and hidden < self._count:
                # a result already rendered turned out superseded: start over
                self._reset(system_prompt)
                return self.render(events, system_prompt)
            if isinstance(event, ModelOutput):
                fresh.append((_seen_at(event), index, event, None))
            else:
                text = render_input(event)
                if text is not None:
                    fresh.append((_seen_at(event), index, event, text))
        fresh = [f for f in fresh if f[1] not in self._superseded.indices]
        if fresh and min(f[0] for f in fresh) < self._latest:
            # a new event belongs before one already rendered: start over
            self._reset(system_prompt)
            return self.render(events, system_prompt)
        fresh.sort(key=lambda f: f[0])  # stable, like sorted(events, key=_seen_at)
        for seen, _, event, text in fresh:
            if text is None:
                if self._pending:
                    self._done.append(ChatMessage("user", "\n".join(self._pending)))
                    self._pending = []
                self._done.append(ChatMessage("assistant", event.text))  # type: ignore[attr-defined]
            else:
                self._pending.append(text)
            self._latest = max(self._latest, seen)
        self._count = len(events)
        self._last = events[-1] if events else None
        out = list(self._done)
        if self._pending:
            out.append(ChatMessage("user", "\n".join(self._pending)))
        return out


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str)


def render_input(event: Event) -> str | None:
    """The text an event contributes to the model's context, or None if the model never sees it."""
    if isinstance(event, UserSpeech):
        tag = "final_query_update" if event.final else "partial_query_update"
        return f"<{tag}>{event.text}</{tag}>"
    if isinstance(event, Brief):
        return event.text
    if isinstance(event, (ToolCallFinished, ToolCallFailed, ToolCallCompensated)) and not (
        event.notify_model
    ):
        return None  # an earlier version of a revised call: the model knows it is gone
    if isinstance(event, ToolCallFinished):
        return f'<tool_result id="{event.call_id}">{_json(event.result)}</tool_result>'
    if isinstance(event, ToolCallFailed):
        return (
            f'<tool_result id="{event.call_id}" error="{event.error_type}">'
            f"{event.error}</tool_result>"
        )
    if isinstance(event, ToolCallCancelled):
        return f'<cancel id="{event.call_id}"/>' if event.notify_model else None
    if isinstance(event, ToolCallCompensated):  # it ran, and has been undone
        return f'<cancel id="{event.call_id}"/>'
    if isinstance(event, ProtocolError):
        return f"<protocol_error>{event.message}</protocol_error>"
    if isinstance(event, ConfirmationAsked):  # held for the user's consent, not run
        return (
            f'<tool_result id="{event.call_id}" error="needs_confirmation">not run yet: the '
            f'user was asked "{event.question}"; it runs only if they say yes</tool_result>'
        )
    if isinstance(event, ConfirmationAnswered) and not event.granted:
        return f'<cancel id="{event.call_id}"/>'
    return None


def render_action(action: Action, think: str | None = None) -> str:
    """The canonical text of an action, as a well-trained model would write it."""
    prefix = f"<think>{think}</think>" if think else ""
    if isinstance(action, ToolCallAction):
        deps = ",".join(str(d) for d in action.depends)
        body = _json({"name": action.name, "arguments": action.arguments})
        dep_attr = f' depends="{deps}"' if deps else ""
        return f'{prefix}<tool_call id="{action.call_id}"{dep_attr}>{body}</tool_call>'
    if isinstance(action, RemoveAction):
        return f'{prefix}<remove id="{action.call_id}"/>'
    if isinstance(action, PauseAction):
        return f"{prefix}<pause/>"
    return f"{prefix}<answer>{action.text}</answer>"


def render_interrupted(partial: str) -> str:
    """Close a generation that an event cut short.

    Reasoning is kept and closed with ``</think_interrupted>``; a half-written action is
    dropped, since it was never carried out.
    """
    text = partial
    if "<think>" in text and "</think>" not in text:
        return text.rstrip() + THINK_INTERRUPTED
    end = _visible_start(text)
    return text[:end].rstrip() + THINK_INTERRUPTED if end is not None else THINK_INTERRUPTED


# -- streaming detection ----------------------------------------------------------------------

_TOOL_CALL_RE = re.compile(r"<tool_call(?P<attrs>[^>]*)>(?P<body>.*?)</tool_call>", re.S)
_REMOVE_RE = re.compile(r"<remove\s+id\s*=\s*\"?(?P<id>\d+)\"?\s*/?>")
_PAUSE_RE = re.compile(r"<pause\s*/?>")
_ANSWER_OPEN = "<answer>"
_ANSWER_CLOSE = "</answer>"
_FENCE_RE = re.compile(r"```(?:json|tool_call|JSON)?\s*(?P<body>[\[{].*?)\s*```", re.S)
_INPUT_TAG_RE = re.compile(
    r"<(tool_result|partial_query_update|final_query_update|cancel|protocol_error)\b"
)
_UNCLOSED_CALL_RE = re.compile(r"<tool_call(?P<attrs>[^>]*)>(?P<body>.*)", re.S)
_ATTR_RE = re.compile(r"(\w+)\s*=\s*\"([^\"]*)\"")


def _visible_start(text: str) -> int | None:
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
    start = _visible_start(text)
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
    start = _visible_start(text)
    return start is not None and bool(text[start:].strip())


def answer_start(text: str) -> int | None:
    """Index where a tagged ``<answer>`` body begins, if the model has opened one."""
    start = _visible_start(text)
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
    start = _visible_start(text)
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
