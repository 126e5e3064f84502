"""What the spans say: :class:`SessionTracer` turns a session's event stream into spans.

It is an ordinary session observer, so the session code knows nothing of tracing. The span
tree, the attributes and the timing rule (explicit times from the events, so a virtual-clock
run records simulated seconds) are described in :mod:`specagent.tracing`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..events import (
    AnswerCompleted,
    AnswerStarted,
    AnswerSuppressed,
    Event,
    Interrupt,
    ModelOutput,
    ProtocolError,
    SessionEnded,
    Timer,
    ToolCallCancelled,
    ToolCallCommitted,
    ToolCallCompensated,
    ToolCallFailed,
    ToolCallFinished,
    ToolCallHeld,
    ToolCallIssued,
    ToolCallRemoved,
    ToolCallRevised,
    ToolCallStarted,
    UserSpeech,
)
from ..extras import require
from ..speculation import Speculation, mechanism_for
from .setup import _FEATURE

__all__ = ["SessionTracer"]

_TURN_START = "session-start"


@dataclass
class _CallSpan:
    span: Any
    name: str
    issued_t: float
    held_t: float | None = None
    started_t: float | None = None


class SessionTracer:
    """A session observer that records the conversation as OpenTelemetry spans.

    ``toolset``: to label calls with their effect class (and, for MCP tools, where it came
    from); ``policy``: to label them with their mechanism; ``backend``: the model backend, to
    read how many draft tokens each generation checked and kept. Call :meth:`close` (or use it
    as a context manager) when the conversation is over.
    """

    def __init__(
        self,
        *,
        provider: Any = None,
        session_id: str | None = None,
        toolset: Any = None,
        policy: Any = None,
        backend: Any = None,
        clock_kind: str | None = None,
        attributes: Mapping[str, Any] | None = None,
        epoch_ns: int | None = None,
    ) -> None:
        trace = require("opentelemetry.trace", extra="otel", feature=_FEATURE)
        self._trace = trace
        provider = provider if provider is not None else trace.get_tracer_provider()
        self._tracer = provider.get_tracer("specagent")
        self._toolset, self._policy, self._backend = toolset, policy, backend
        self._epoch_ns = epoch_ns
        self._common: dict[str, Any] = {}
        if session_id:
            self._common["specagent.session.id"] = session_id
        self._root_attributes = dict(self._common)
        if policy is not None:
            self._root_attributes["specagent.policy"] = getattr(policy, "value", str(policy))
        if clock_kind:
            self._root_attributes["specagent.clock"] = clock_kind
        if backend is not None and getattr(backend, "name", None):
            self._root_attributes["specagent.model"] = str(backend.name)
        self._root_attributes.update({k: v for k, v in (attributes or {}).items() if v is not None})
        self._root: Any = None
        self._root_ctx: Any = None
        self._turn: Any = None
        self._turn_ctx: Any = None
        self._turns = 0
        self._calls: dict[int, _CallSpan] = {}
        self._superseded: dict[int, _CallSpan] = {}
        self._final_t: float | None = None
        self._last_t = 0.0
        self._closed = False

    # -- time ---------------------------------------------------------------------------

    def _ns(self, t: float) -> int:
        assert self._epoch_ns is not None
        return self._epoch_ns + int(round(t * 1e9))

    def _start(self, name: str, t: float, parent_ctx: Any, **attributes: Any) -> Any:
        attrs = {**self._common, **{k: v for k, v in attributes.items() if v is not None}}
        return self._tracer.start_span(
            name, context=parent_ctx, start_time=self._ns(t), attributes=attrs
        )

    # -- structure ----------------------------------------------------------------------

    def _ensure_root(self, t: float) -> None:
        if self._root is not None:
            return
        if self._epoch_ns is None:
            self._epoch_ns = time.time_ns() - int(round(t * 1e9))
        self._root = self._tracer.start_span(
            "specagent.session", start_time=self._ns(t), attributes=self._root_attributes
        )
        self._root_ctx = self._trace.set_span_in_context(self._root)

    def _ensure_turn(self, t: float) -> None:
        self._ensure_root(t)
        if self._turn is None:
            self._turns += 1
            self._turn = self._start(
                "specagent.turn", t, self._root_ctx, **{"specagent.turn.index": self._turns}
            )
            self._turn_ctx = self._trace.set_span_in_context(self._turn)
            self._final_t = None

    def _end_turn(self, t: float, reason: str) -> None:
        for call_id in list(self._calls):
            self._end_call(self._calls.pop(call_id), t, "open")
        for call_id in list(self._superseded):
            self._end_call(self._superseded.pop(call_id), t, "open")
        if self._turn is not None:
            self._turn.set_attribute("specagent.turn.ended", reason)
            self._turn.end(end_time=self._ns(t))
            self._turn = self._turn_ctx = None

    def close(self) -> None:
        """End whatever is still open (at the last event's time) and the session span."""
        if self._closed:
            return
        self._closed = True
        if self._root is None:
            return
        self._end_turn(self._last_t, "not ended")
        self._root.set_attribute("specagent.turns", self._turns)
        self._root.end(end_time=self._ns(self._last_t))

    def __enter__(self) -> SessionTracer:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    # -- the observer -------------------------------------------------------------------

    def __call__(self, event: Event) -> None:
        if self._closed or type(event).__module__ != Event.__module__:
            return  # closed, or not a session event (e.g. the voice layer's own events)
        self._last_t = max(self._last_t, event.t)
        if isinstance(event, Timer) and event.name == _TURN_START:
            self._end_turn(event.t, "not ended")
            self._ensure_turn(event.t)
            return
        self._ensure_turn(event.t)
        turn = self._turn
        if isinstance(event, UserSpeech):
            if event.final:
                self._final_t = event.t
                turn.set_attribute("specagent.turn.final_words_s", event.t)
            turn.add_event("user_speech", {"final": event.final}, timestamp=self._ns(event.t))
        elif isinstance(event, ModelOutput):
            self._generation(event)
        elif isinstance(event, AnswerStarted):
            turn.add_event("answer_started", timestamp=self._ns(event.t))
            if self._final_t is not None:
                turn.set_attribute("specagent.turn.first_token_latency_s", event.t - self._final_t)
        elif isinstance(event, AnswerCompleted):
            turn.add_event("answer_completed", timestamp=self._ns(event.t))
            if self._final_t is not None:
                turn.set_attribute("specagent.turn.latency_s", event.t - self._final_t)
        elif isinstance(event, (AnswerSuppressed, ProtocolError, Interrupt)):
            detail = getattr(event, "reason", None) or getattr(event, "message", "")
            name = {
                AnswerSuppressed: "answer_suppressed",
                ProtocolError: "protocol_error",
                Interrupt: "interrupt",
            }[type(event)]
            turn.add_event(name, {"detail": str(detail)[:300]}, timestamp=self._ns(event.t))
        elif isinstance(event, SessionEnded):
            self._end_turn(event.t, event.reason)
        else:
            self._tool_event(event)

    def _generation(self, event: ModelOutput) -> None:
        attributes: dict[str, Any] = {
            "specagent.generation.tokens": event.tokens,
            "specagent.generation.interrupted": event.interrupted,
            "specagent.generation.chars": len(event.text),
        }
        draft = getattr(self._backend, "last_draft", None)
        if draft is not None:
            attributes["specagent.generation.draft_tokens"] = draft.draft_tokens
            attributes["specagent.generation.draft_tokens_kept"] = draft.accepted_tokens
        start = min(event.started_t, event.t) if event.started_t else event.t
        span = self._start("specagent.generation", start, self._turn_ctx, **attributes)
        span.end(end_time=self._ns(event.t))

    # -- tool calls ---------------------------------------------------------------------

    def _call_attributes(self, name: str) -> dict[str, Any]:
        attributes: dict[str, Any] = {"specagent.tool.name": name}
        tool = self._toolset.get(name) if self._toolset is not None else None
        if tool is not None:
            attributes["specagent.tool.effect"] = tool.effect.value
            speculation = getattr(self._policy, "speculation", Speculation.NONE)
            attributes["specagent.call.mechanism"] = mechanism_for(tool, speculation).value
        origin = getattr(self._toolset, "origins", {}).get(name)
        if origin is not None:
            attributes["specagent.tool.effect_source"] = origin.source.value
            attributes["specagent.tool.server"] = origin.server
        return attributes

    def _end_call(self, call: _CallSpan, t: float, disposition: str) -> None:
        call.span.set_attribute("specagent.call.disposition", disposition)
        if call.held_t is not None:
            until = call.started_t if call.started_t is not None else t
            call.span.set_attribute("specagent.call.held_s", until - call.held_t)
        call.span.end(end_time=self._ns(max(t, call.issued_t)))

    def _tool_event(self, event: Event) -> None:
        call_id = getattr(event, "call_id", None)
        if call_id is None:
            return
        t = event.t
        if isinstance(event, (ToolCallIssued, ToolCallRevised)):
            previous = self._calls.pop(call_id, None)
            if previous is not None:
                self._superseded[call_id] = previous
            attributes = self._call_attributes(event.name)
            attributes["specagent.call.id"] = call_id
            attributes["specagent.call.revision"] = isinstance(event, ToolCallRevised)
            span = self._start("specagent.tool_call", t, self._turn_ctx, **attributes)
            self._calls[call_id] = _CallSpan(span, event.name, t)
            return
        current = getattr(event, "notify_model", True)
        call = self._calls.get(call_id)
        if not current and call_id in self._superseded:
            call = self._superseded[call_id]  # an earlier version of a revised call
        if call is None:
            return
        span = call.span
        if isinstance(event, ToolCallHeld):
            call.held_t = t
            span.add_event("held", {"reason": event.reason}, timestamp=self._ns(t))
        elif isinstance(event, ToolCallStarted):
            call.started_t = t
            span.add_event("started", timestamp=self._ns(t))
            span.set_attribute("specagent.call.held_s", t - call.held_t if call.held_t else 0.0)
        elif isinstance(event, ToolCallFinished):
            span.set_attribute("specagent.call.status", "done")
            span.add_event("finished", timestamp=self._ns(t))
            if call.started_t is not None:
                span.set_attribute("specagent.call.run_s", t - call.started_t)
        elif isinstance(event, ToolCallFailed):
            span.set_attribute("specagent.call.status", "failed")
            if call.started_t is not None:
                span.set_attribute("specagent.call.run_s", t - call.started_t)
            span.set_attribute("specagent.call.error_type", event.error_type)
            span.add_event("failed", {"error": event.error[:300]}, timestamp=self._ns(t))
            status = self._trace.Status(self._trace.StatusCode.ERROR, event.error[:300])
            span.set_status(status)
        elif isinstance(event, ToolCallRemoved):
            span.add_event("removed", timestamp=self._ns(t))
        elif isinstance(event, (ToolCallCommitted, ToolCallCancelled, ToolCallCompensated)):
            disposition = {
                ToolCallCommitted: "committed",
                ToolCallCancelled: "cancelled",
                ToolCallCompensated: "compensated",
            }[type(event)]
            if isinstance(event, ToolCallCancelled):
                span.set_attribute("specagent.call.status", "cancelled")
                span.add_event("cancelled", {"reason": event.reason}, timestamp=self._ns(t))
            for table in (self._calls, self._superseded):
                if table.get(call_id) is call:
                    del table[call_id]
            self._end_call(call, t, disposition)
