"""The model's view: ledger events rendered as chat messages, actions as canonical text.

Rendering is half of the protocol's tag syntax (the other half, reading the model's output back,
is ``parse.py``). The session renders its ledger before every generation, so the incremental
:class:`ContextRenderer` lives here too, beside the plain :func:`render_messages` it must equal.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ..events import (
    Brief,
    EarlyCallsReview,
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
from .actions import Action, PauseAction, RemoveAction, ToolCallAction
from .parse import THINK_INTERRUPTED, visible_start

__all__ = [
    "ChatMessage",
    "ContextRenderer",
    "SupersededResults",
    "render_action",
    "render_input",
    "render_interrupted",
    "render_messages",
    "shown_value",
]


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


def shown_value(value: Any) -> Any:
    """A tool result as the model reads it back: rendered to JSON as in ``<tool_result>``
    (a value JSON cannot hold becomes its string) and parsed again."""
    return json.loads(_json(value))


def render_input(event: Event) -> str | None:
    """The text an event contributes to the model's context, or None if the model never sees it."""
    if isinstance(event, UserSpeech):
        tag = "final_query_update" if event.final else "partial_query_update"
        return f"<{tag}>{event.text}</{tag}>"
    if isinstance(event, Brief):
        return event.text
    if isinstance(event, EarlyCallsReview):
        made = "; ".join(event.calls)
        return (
            f'<review>The user has finished. The whole request: "{event.request}". Calls you '
            f"made before they finished: {made}. Check each against the whole request: if a "
            "value is wrong or missing, write the call again with the same id and the right "
            'arguments; if nobody asked for it, write <remove id="N"/>. Then make any call '
            "still missing, or answer.</review>"
        )
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
    end = visible_start(text)
    return text[:end].rstrip() + THINK_INTERRUPTED if end is not None else THINK_INTERRUPTED
