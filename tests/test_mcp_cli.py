"""``specagent tools`` and ``run --mcp/--tool-effect/--trace`` against the real demo server
(tool names prefixed ``web_`` so they sit beside the built-in assistant tools)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import specagent.cli as cli
import specagent.tracing as tracing
from specagent.models import ScriptedBackend

from mcp_fixtures import stdio_command

SERVER = stdio_command("--prefix", "web_")


@pytest.fixture(autouse=True)
def no_leftover_tracing(monkeypatch):
    monkeypatch.delenv(tracing.TRACE_ENV, raising=False)  # restored (absent) afterwards
    yield
    tracing._process_setup.clear()


def invoke(*args: str):
    return CliRunner().invoke(cli.app, list(args))


def test_tools_lists_builtin_and_mcp_tools_with_where_each_class_came_from():
    result = invoke(
        "tools", "--mcp", SERVER, "--json",
        "--tool-effect", "web_send_message=read_only",
        "--tool-effect", "web_hold_seat=reversible:web_release_seat",
    )
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.output)["tools"]}
    assert rows["get_weather"]["effect_source"] == "declared" and rows["get_weather"]["server"] is None
    assert (rows["web_get_weather"]["effect"], rows["web_get_weather"]["effect_source"]) == (
        "read_only", "annotation")
    assert rows["web_get_weather"]["annotations"]["readOnlyHint"] is True
    assert (rows["web_delete_note"]["effect"], rows["web_delete_note"]["effect_source"]) == (
        "irreversible", "default")
    assert (rows["web_send_message"]["effect"], rows["web_send_message"]["effect_source"]) == (
        "read_only", "override")
    assert rows["web_hold_seat"]["effect"] == "reversible"
    assert rows["web_hold_seat"]["compensate_with"] == "web_release_seat"
    assert rows["web_book_table"]["server"] == SERVER


def test_tools_table_without_servers_shows_the_builtin_tools():
    result = invoke("tools")
    assert result.exit_code == 0, result.output
    assert "book_flight" in result.output and "declared" in result.output


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--tool-effect", "x=read_only"], "give --mcp SERVER too"),
        (["--mcp", SERVER, "--tool-effect", "x=sometimes"], "unknown effect class"),
        (["--mcp", SERVER, "--tool-effect", "nothing_here=read_only"], "names no MCP tool"),
        (["--mcp", "/nonexistent/mcp-server"], "cannot connect to MCP server"),
        (["--mcp", stdio_command()], "'get_weather' is offered by both"),
    ],
)
def test_tools_bad_options_are_one_clear_line(args, says):
    result = invoke("tools", *args)
    assert result.exit_code == 2
    assert says in " ".join(result.output.split())
    assert "Traceback" not in result.output


def _scripted(model, clock, profile_name):
    def respond(messages):
        said = "\n".join(m.content for m in messages if m.role == "user")
        if "<tool_result" in said:
            return "<answer>Sunny in Oslo.</answer>"
        if "Oslo" in said:
            return ('<tool_call id="1">{"name": "web_get_weather", '
                    '"arguments": {"city": "Oslo"}}</tool_call>')
        return "<pause/>"

    return ScriptedBackend(clock, respond)


def test_run_with_an_mcp_server_and_a_trace_file(monkeypatch, tmp_path):
    monkeypatch.setattr(cli, "_load", _scripted)
    trace = tmp_path / "trace.jsonl"
    result = invoke(
        "run", "What's the weather in Oslo?", "--policy", "async", "--json",
        "--mcp", SERVER, "--trace", str(trace),
    )
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    assert record["answer"] == "Sunny in Oslo."
    (weather,) = record["tool_calls"]
    assert weather["name"] == "web_get_weather" and weather["status"] == "done"
    assert weather["effect"] == "read_only"
    tracing._process_setup[0].provider.force_flush()
    spans = [json.loads(line) for line in trace.read_text().splitlines()]
    (call,) = [s for s in spans if s["name"] == "specagent.tool_call"]
    assert call["attributes"]["specagent.tool.effect_source"] == "annotation"
    assert call["attributes"]["specagent.tool.server"] == SERVER
    assert call["attributes"]["specagent.call.disposition"] == "committed"
    assert {s["name"] for s in spans} >= {"specagent.session", "specagent.turn"}


def test_run_rejects_a_bad_trace_value_before_loading_a_model(monkeypatch):
    monkeypatch.setattr(cli, "_load", lambda *a: pytest.fail("loaded a model"))
    result = invoke("run", "hi", "--trace", "zipkin")
    assert result.exit_code == 2 and "unknown trace exporter 'zipkin'" in result.output


def test_voice_checks_mcp_and_trace_options_before_loading_anything(tmp_path, monkeypatch):
    from specagent.voice import cli as voice_cli

    monkeypatch.setattr(
        "specagent.models.loader.load_backend", lambda *a: pytest.fail("loaded a model")
    )
    wav = tmp_path / "none.wav"
    for args, says in (
        (["--mcp", "ftp://example/x"], "unsupported scheme 'ftp'"),
        (["--tool-effect", "x=read_only"], "give --mcp SERVER too"),
        (["--trace", "zipkin"], "unknown trace exporter"),
    ):
        result = CliRunner().invoke(voice_cli.app, ["--in", str(wav), *args])
        assert result.exit_code == 2, result.output
        assert says in " ".join(result.output.split())
