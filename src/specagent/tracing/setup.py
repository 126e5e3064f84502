"""Where spans go: a tracer provider from a ``--trace`` value or the OTel variables, once a process.

Tracing is off unless asked for. This module reads the ask (``console``, ``otlp``, a ``.jsonl``
file, or the standard ``OTEL_*`` variables), builds the provider with its one exporter, and
keeps this process's provider so worker processes started later trace the same way
(``SPECAGENT_TRACE``). What the spans say is :mod:`.spans`'s business.
"""

from __future__ import annotations

import atexit
import json
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import SpecagentError
from ..extras import require

__all__ = [
    "TRACE_ENV",
    "JsonLinesSpanExporter",
    "TraceSetup",
    "TracingError",
    "configure_tracing",
    "process_tracing",
    "shutdown_process_tracing",
    "use_trace_option",
]

TRACE_ENV = "SPECAGENT_TRACE"
"""Set by ``--trace`` so worker processes started later trace the same way."""

_FEATURE = "tracing"


class TracingError(SpecagentError, ValueError):
    """A ``--trace`` value or OTel variable that names no exporter this build knows."""


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


def shutdown_process_tracing() -> None:
    """Flush this process's spans now (the CLI calls it before printing its summary)."""
    if _process_setup and _process_setup[0] is not None:
        _process_setup[0].provider.force_flush()
