"""OpenTelemetry traces of sessions, built from the events a session already reports.

A :class:`SessionTracer` is a session ``observer``: it turns the event stream into spans, so
the session code knows nothing of tracing. One trace per conversation::

    specagent.session                      the conversation (ledger session id, policy, clock)
    ├── specagent.turn                     one user turn: speech start to the turn's end
    │   ├── specagent.generation           one model generation: tokens, interrupted or not,
    │   │                                  draft tokens checked and kept (verified policy)
    │   └── specagent.tool_call            one call (one version of it): tool, effect class and
    │                                      where it came from, mechanism, held time, status,
    │                                      disposition (committed / cancelled / compensated)
    └── ...

Every span carries ``specagent.session.id``. Spans are stamped with explicit start and end
times taken from the events, so a virtual-clock run records virtual time: a span's duration
is simulated seconds, and its start is the run's wall-clock start plus the event's simulated
time (``epoch_ns`` fixes that origin, e.g. 0 in tests).

Off by default. :func:`configure_tracing` turns it on from a ``--trace`` value (``console``,
``otlp``, or a ``.jsonl`` file) or from the standard variables: ``OTEL_TRACES_EXPORTER``
(``console``, ``otlp``, ``none``), or an ``OTEL_EXPORTER_OTLP_ENDPOINT`` /
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` alone (means ``otlp``); ``OTEL_SDK_DISABLED=true``
wins over all. The SDK is the ``otel`` extra.
"""

from __future__ import annotations

import atexit
import json
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import SpecagentError
from .events import (
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
from .extras import require
from .speculation import Speculation, mechanism_for

__all__ = [
    "SessionTracer",
    "TraceSetup",
    "TracingError",
    "chain_observers",
    "configure_tracing",
    "process_tracing",
    "session_tracer",
    "shutdown_process_tracing",
    "use_trace_option",
]

TRACE_ENV = "SPECAGENT_TRACE"
"""Set by ``--trace`` so worker processes started later trace the same way."""

_FEATURE = "tracing"
_TURN_START = "session-start"


class TracingError(SpecagentError, ValueError):
    """A ``--trace`` value or OTel variable that names no exporter this build knows."""


# -- setting up a tracer provider -------------------------------------------------------------


class JsonLinesSpanExporter:
    """Writes each finished span as one JSON line (the SDK's own span JSON, compacted)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)

    def export(self, spans: Any) -> Any:
        export = require("opentelemetry.sdk.trace.export", extra="otel", feature=_FEATURE)
        with self._lock, self.path.open("a", encoding="utf-8") as out:
            for span in spans:
                out.write(json.dumps(json.loads(span.to_json())) + "\n")
        return export.SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


@dataclass(frozen=True)
class TraceSetup:
    """A tracer provider with one exporter; ``description`` says where spans go."""

    provider: Any
    description: str

    def shutdown(self) -> None:
        """Flush and close the exporter."""
        self.provider.shutdown()


def _target_from_env(env: Mapping[str, str]) -> str | None:
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    exporter = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter:
        return exporter.split(",")[0].strip()
    if env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return "otlp"
    return None


def _exporter_kind(target: str) -> str:
    kind = target.strip().lower()
    if kind in ("console", "otlp", "none") or kind.endswith((".jsonl", ".json")):
        return kind
    raise TracingError(
        f"unknown trace exporter {target!r}: use console, otlp, none, or a file path "
        "ending in .jsonl"
    )


def configure_tracing(
    option: str | None = None, *, environ: Mapping[str, str] | None = None
) -> TraceSetup | None:
    """A tracer provider for ``option`` (``--trace``) or, without one, the OTel variables;
    ``None`` when tracing is off."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    target = option.strip() if option is not None else _target_from_env(env)
    if not target or target.lower() == "none":
        return None
    kind = _exporter_kind(target)
    trace_sdk = require("opentelemetry.sdk.trace", extra="otel", feature=_FEATURE)
    export = require("opentelemetry.sdk.trace.export", extra="otel", feature=_FEATURE)
    resources = require("opentelemetry.sdk.resources", extra="otel", feature=_FEATURE)
    if kind == "console":
        processor, where = export.SimpleSpanProcessor(export.ConsoleSpanExporter()), "console"
    elif kind == "otlp":
        otlp = require(
            "opentelemetry.exporter.otlp.proto.http.trace_exporter", extra="otel", feature=_FEATURE
        )
        processor = export.BatchSpanProcessor(otlp.OTLPSpanExporter())
        where = "OTLP/HTTP " + (
            env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            or env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
            or "http://localhost:4318"
        )
    else:
        path = Path(target)
        processor, where = export.SimpleSpanProcessor(JsonLinesSpanExporter(path)), str(path)
    resource = resources.Resource.create({"service.name": "specagent"})
    provider = trace_sdk.TracerProvider(resource=resource)
    provider.add_span_processor(processor)
    return TraceSetup(provider, where)


_process_setup: list[TraceSetup | None] = []


def process_tracing() -> TraceSetup | None:
    """This process's tracing, built once from ``SPECAGENT_TRACE`` (what ``--trace`` sets)
    or the OTel variables; flushed at exit."""
    if not _process_setup:
        setup = configure_tracing(os.environ.get(TRACE_ENV) or None)
        _process_setup.append(setup)
        if setup is not None:
            atexit.register(setup.shutdown)
    return _process_setup[0]


def use_trace_option(value: str | None) -> TraceSetup | None:
    """Apply a ``--trace`` value to this process (and the worker processes it starts): check
    it now, so a bad value fails before any model loads. ``None`` keeps the OTel variables."""
    if value is not None:
        _exporter_kind(value)  # raises TracingError on a bad value
        os.environ[TRACE_ENV] = value
        _process_setup.clear()
    return process_tracing()


def session_tracer(
    *,
    session_id: str | None,
    toolset: Any = None,
    policy: Any = None,
    backend: Any = None,
    clock: Any = None,
    attributes: Mapping[str, Any] | None = None,
) -> SessionTracer | None:
    """A tracer for one conversation when this process traces (:func:`process_tracing`)."""
    setup = process_tracing()
    if setup is None:
        return None
    kind = None if clock is None else ("virtual" if clock.is_virtual else "real")
    return SessionTracer(
        provider=setup.provider,
        session_id=session_id,
        toolset=toolset,
        policy=policy,
        backend=backend,
        clock_kind=kind,
        attributes=attributes,
    )


def shutdown_process_tracing() -> None:
    """Flush this process's spans now (the CLI calls it before printing its summary)."""
    if _process_setup and _process_setup[0] is not None:
        _process_setup[0].provider.force_flush()


def chain_observers(
    *observers: Callable[[Event], None] | None,
) -> Callable[[Event], None] | None:
    """One observer calling each given one in turn (``None`` entries skipped)."""
    present = [o for o in observers if o is not None]
    if not present:
        return None
    if len(present) == 1:
        return present[0]

    def observe(event: Event) -> None:
        for observer in present:
            observer(event)

    return observe


# -- events to spans --------------------------------------------------------------------------


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
            name = {AnswerSuppressed: "answer_suppressed", ProtocolError: "protocol_error",
                    Interrupt: "interrupt"}[type(event)]
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
