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

One concern a module: ``setup.py`` turns a ``--trace`` value or the OTel variables into a
tracer provider, once per process; ``spans.py`` holds :class:`SessionTracer`, which maps
events to spans; ``observers.py`` hooks a tracer into a session (:func:`session_tracer`,
:func:`chain_observers`).
"""

from __future__ import annotations

from .observers import chain_observers, session_tracer
from .setup import TRACE_ENV as TRACE_ENV
from .setup import JsonLinesSpanExporter as JsonLinesSpanExporter
from .setup import (
    TraceSetup,
    TracingError,
    configure_tracing,
    process_tracing,
    shutdown_process_tracing,
    use_trace_option,
)
from .setup import _process_setup as _process_setup
from .spans import SessionTracer

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
