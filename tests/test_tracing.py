"""OpenTelemetry spans from session events, checked with the SDK's in-memory exporter.

Runs on the virtual clock with ``epoch_ns=0``, so every span time is simulated seconds in
nanoseconds and is asserted exactly."""

from __future__ import annotations

import gzip
import http.server
import json
import threading
from collections.abc import Sequence

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from specagent.agent import Policy, Session, session_for
from specagent.clock import VirtualClock
from specagent.events import ModelOutput, ToolCallHeld, ToolCallStarted, UserSpeech
from specagent.ledger import Ledger
from specagent.models import ScriptedBackend
from specagent.protocol import ChatMessage
from specagent.tools import Toolset
from specagent.tracing import (
    SessionTracer,
    TracingError,
    chain_observers,
    configure_tracing,
)

from mcp_fixtures import stdio_command
from test_session import World, call, everything_said, make_tools, model_said, speech

NS = 1_000_000_000


def provider_and_spans() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def book_after_lookup(messages: Sequence[ChatMessage]) -> str:
    said, made = everything_said(messages), model_said(messages)
    if 'id="1"' not in made and "Paris" in said:
        return call(1, "lookup", '{"city": "Paris"}')
    if 'id="2"' not in made and "book a hotel" in said:
        return call(2, "book", '{"item": "hotel"}')
    if "please" in said and 'tool_result id="2"' in said:
        return "<answer>Sunny; hotel booked.</answer>"
    return "<pause/>"


CHUNKS = speech((1.0, "weather in Paris"), (2.0, "and book a hotel"), (3.0, "please"))


def traced_run(policy: Policy, responder=book_after_lookup, chunks=CHUNKS, **tracer_options):
    provider, exporter = provider_and_spans()
    clock = VirtualClock()
    tools = make_tools(World())
    backend = ScriptedBackend(clock, responder)
    ledger = Ledger(session_id="conv-42")
    tracer = SessionTracer(
        provider=provider, session_id=ledger.session_id, toolset=tools, policy=policy,
        backend=backend, clock_kind="virtual", epoch_ns=0, **tracer_options,
    )
    session = session_for(
        policy, backend, tools, clock, ledger=ledger, observer=tracer,
        latency=lambda n, a: 0.5,
    )
    with tracer:
        result = clock.run(session.run(chunks))
    return result, exporter.get_finished_spans()


def by_name(spans, name):
    return [s for s in spans if s.name == name]


def test_session_turn_generation_and_call_spans_carry_virtual_times_and_ids():
    result, spans = traced_run(Policy.ASYNC)
    assert result.ended == "answered"
    (root,) = by_name(spans, "specagent.session")
    (turn,) = by_name(spans, "specagent.turn")
    generations = by_name(spans, "specagent.generation")
    calls = {s.attributes["specagent.call.id"]: s for s in by_name(spans, "specagent.tool_call")}
    # one trace, the tree as documented, the session id on every span
    assert {s.context.trace_id for s in spans} == {root.context.trace_id}
    assert turn.parent.span_id == root.context.span_id
    assert all(s.parent.span_id == turn.context.span_id for s in generations + list(calls.values()))
    assert all(s.attributes["specagent.session.id"] == "conv-42" for s in spans)
    assert root.attributes["specagent.policy"] == "async"
    assert root.attributes["specagent.clock"] == "virtual"
    # generations: one span per ModelOutput, at its simulated start and end
    outputs = [e for e in result.ledger.events if isinstance(e, ModelOutput)]
    assert [(g.start_time, g.end_time) for g in generations] == [
        (round(o.started_t * NS), round(o.t * NS)) for o in outputs
    ]
    assert [g.attributes["specagent.generation.tokens"] for g in generations] == [
        o.tokens for o in outputs
    ]
    # the read ran at once; the write was held for its commit point
    lookup, book = calls[1], calls[2]
    assert lookup.attributes["specagent.tool.effect"] == "read_only"
    assert lookup.attributes["specagent.call.mechanism"] == "run_now"
    assert lookup.attributes["specagent.call.disposition"] == "committed"
    assert lookup.attributes["specagent.call.status"] == "done"
    assert lookup.attributes["specagent.call.run_s"] == pytest.approx(0.5)
    assert book.attributes["specagent.tool.effect"] == "irreversible"
    assert book.attributes["specagent.call.mechanism"] == "hold"
    held = next(e for e in result.ledger.events if isinstance(e, ToolCallHeld) and e.call_id == 2)
    started = next(
        e for e in result.ledger.events if isinstance(e, ToolCallStarted) and e.call_id == 2
    )
    assert book.attributes["specagent.call.held_s"] == pytest.approx(started.t - held.t)
    assert book.attributes["specagent.call.held_s"] > 0.5
    final = next(e.t for e in result.ledger.events if isinstance(e, UserSpeech) and e.final)
    assert turn.attributes["specagent.turn.final_words_s"] == final
    assert turn.attributes["specagent.turn.latency_s"] == pytest.approx(result.latency_s)
    assert turn.attributes["specagent.turn.ended"] == "answered"
    assert root.end_time == turn.end_time == round(result.answer_done_s * NS)


def test_interrupted_generations_and_failed_calls_are_marked():
    def chatty(messages):
        said, made = everything_said(messages), model_said(messages)
        if "tool_call" not in made:
            return call(1, "boom")
        if 'tool_result id="1"' in said and "please" in said:
            return "<answer>It failed.</answer>"
        return "<think>" + "still thinking " * 40 + "</think><pause/>"

    result, spans = traced_run(Policy.ASYNC, chatty)
    assert result.ended == "answered"
    generations = by_name(spans, "specagent.generation")
    assert any(g.attributes["specagent.generation.interrupted"] for g in generations)
    assert result.interrupted_generations == sum(
        g.attributes["specagent.generation.interrupted"] for g in generations
    )
    (boom,) = by_name(spans, "specagent.tool_call")
    assert boom.attributes["specagent.call.status"] == "failed"
    assert boom.attributes["specagent.call.error_type"] == "tool_error"
    assert boom.status.status_code.name == "ERROR"


def test_verified_generations_record_draft_tokens_kept():
    def paris(messages):
        said, made = everything_said(messages), model_said(messages)
        if 'tool_result id="1"' in said:
            return "<answer>Sunny in Paris today.</answer>"
        if "Paris" in said and "tool_call" not in made:
            return call(1, "lookup", '{"city": "Paris"}')
        return "<pause/>"

    chunks = speech((1.0, "what's the weather"), (2.0, "in Paris"), (4.0, "please"))
    result, spans = traced_run(Policy.VERIFIED, paris, chunks)
    drafted = [g for g in by_name(spans, "specagent.generation")
               if "specagent.generation.draft_tokens" in g.attributes]
    assert drafted, "the actor's generations were given drafts"
    kept = sum(g.attributes["specagent.generation.draft_tokens_kept"] for g in drafted)
    checked = sum(g.attributes["specagent.generation.draft_tokens"] for g in drafted)
    assert (checked, kept) == (result.speculation.drafted_tokens,
                               result.speculation.accepted_tokens)
    assert kept > 0


def test_mcp_calls_are_labelled_with_the_source_of_their_effect_class():
    provider, exporter = provider_and_spans()
    clock = VirtualClock()

    def responder(messages):
        said, made = everything_said(messages), model_said(messages)
        if 'id="1"' not in made:
            return call(1, "get_weather", '{"city": "Oslo"}')
        if 'id="2"' not in made:
            return call(2, "send_message", '{"to": "Ana", "text": "hi"}')
        if 'tool_result id="2"' in said:
            return "<answer>Done.</answer>"
        return "<pause/>"

    async def main():
        async with Toolset.from_mcp(stdio_command(), clock=clock, virtual_cost_s=0.2) as tools:
            with SessionTracer(provider=provider, toolset=tools, policy=Policy.SYNC,
                               epoch_ns=0) as tracer:
                session = Session(ScriptedBackend(clock, responder), tools, clock, Policy.SYNC,
                                  observer=tracer)
                await session.run(speech((0.5, "weather in Oslo and tell Ana hi")))

    clock.run(main())
    calls = {s.attributes["specagent.tool.name"]: s for s in by_name(
        exporter.get_finished_spans(), "specagent.tool_call")}
    weather, message = calls["get_weather"], calls["send_message"]
    assert weather.attributes["specagent.tool.effect_source"] == "annotation"
    assert weather.attributes["specagent.tool.server"] == stdio_command()
    assert weather.attributes["specagent.call.run_s"] == pytest.approx(0.2)
    assert message.attributes["specagent.tool.effect"] == "irreversible"
    assert message.attributes["specagent.tool.effect_source"] == "default"


# -- switching it on ---------------------------------------------------------------------------


def test_tracing_is_off_unless_asked():
    assert configure_tracing(environ={}) is None
    assert configure_tracing(environ={"OTEL_TRACES_EXPORTER": "none"}) is None
    assert configure_tracing("console", environ={"OTEL_SDK_DISABLED": "true"}) is None
    console = configure_tracing(environ={"OTEL_TRACES_EXPORTER": "console"})
    assert console is not None and console.description == "console"
    console.shutdown()
    endpoint_only = configure_tracing(
        environ={"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"}
    )
    assert endpoint_only is not None and endpoint_only.description.startswith("OTLP/HTTP")
    endpoint_only.provider.shutdown()
    with pytest.raises(TracingError, match="unknown trace exporter 'zipkin'"):
        configure_tracing("zipkin", environ={})


def test_chain_observers_calls_each_in_turn():
    seen: list[tuple[str, object]] = []
    both = chain_observers(None, lambda e: seen.append(("a", e)), lambda e: seen.append(("b", e)))
    assert both is not None
    both("x")  # type: ignore[arg-type]
    assert seen == [("a", "x"), ("b", "x")]
    assert chain_observers(None, None) is None


def test_trace_file_gets_one_json_span_per_line(tmp_path):
    path = tmp_path / "spans.jsonl"
    setup = configure_tracing(str(path), environ={})
    assert setup is not None
    clock = VirtualClock()
    tracer = SessionTracer(provider=setup.provider, session_id="file-1", epoch_ns=0)
    session = Session(ScriptedBackend(clock, ["<answer>Hi.</answer>"]), make_tools(World()),
                      clock, Policy.SYNC, observer=tracer)
    with tracer:
        clock.run(session.run(speech((0.5, "hello"))))
    setup.shutdown()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert {line["name"] for line in lines} == {
        "specagent.session", "specagent.turn", "specagent.generation"
    }
    assert all(line["attributes"]["specagent.session.id"] == "file-1" for line in lines)


class _Collector(http.server.BaseHTTPRequestHandler):
    received: list[tuple[str, bytes]] = []

    def do_POST(self) -> None:  # noqa: N802 - the http.server interface
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        self.received.append((self.path, body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return None


def test_otlp_exporter_posts_the_spans_to_a_collector_on_localhost(monkeypatch):
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    server = http.server.HTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Collector.received = []
    endpoint = f"http://127.0.0.1:{server.server_address[1]}/v1/traces"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", endpoint)
    try:
        setup = configure_tracing(environ={"OTEL_TRACES_EXPORTER": "otlp"})
        assert setup is not None
        clock = VirtualClock()
        tracer = SessionTracer(provider=setup.provider, session_id="otlp-1")
        session = Session(ScriptedBackend(clock, ["<answer>Hi.</answer>"]), make_tools(World()),
                          clock, Policy.SYNC, observer=tracer)
        with tracer:
            clock.run(session.run(speech((0.5, "hello"))))
        setup.shutdown()  # flushes the batch
    finally:
        server.shutdown()
        server.server_close()
    assert _Collector.received and _Collector.received[0][0] == "/v1/traces"
    request = ExportTraceServiceRequest()
    request.ParseFromString(_Collector.received[0][1])
    names = {span.name for rs in request.resource_spans for ss in rs.scope_spans
             for span in ss.spans}
    assert names == {"specagent.session", "specagent.turn", "specagent.generation"}
