"""``specagent bench --mcp`` on a jsonl episode file whose expected calls are MCP tools; the
scripted model stands in for the real one (figures from this test mean nothing)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import specagent.cli as cli
import specagent.tracing as tracing
from specagent.models import ScriptedBackend

from mcp_fixtures import stdio_command

SERVER = stdio_command("--prefix", "web_")


@pytest.fixture(autouse=True)
def no_leftover_tracing(monkeypatch):
    monkeypatch.delenv(tracing.TRACE_ENV, raising=False)
    yield
    tracing._process_setup.clear()


def _scripted(spec, clock, profile):
    def respond(messages):
        said = "\n".join(m.content for m in messages if m.role == "user")
        if "<tool_result" in said:
            return "<answer>It is sunny in Lima.</answer>"
        if "final_query_update" in said:
            return ('<tool_call id="1">{"name": "web_get_weather", '
                    '"arguments": {"city": "Lima"}}</tool_call>')
        return "<pause/>"

    return ScriptedBackend(clock, respond)


def episodes_file(tmp_path: Path) -> Path:
    path = tmp_path / "mcp_episodes.jsonl"
    line = {
        "id": "lima",
        "turns": ["What's the weather in Lima?"],
        "tools": [],
        "expected_calls": [{"name": "web_get_weather", "arguments": {"city": "Lima"}}],
        "answer_contains": ["sunny"],
    }
    path.write_text(json.dumps(line) + "\n")
    return path


def test_bench_jsonl_episodes_with_mcp_tools(tmp_path, monkeypatch):
    monkeypatch.setattr("specagent.models.loader.load_backend", _scripted)
    out, trace = tmp_path / "out", tmp_path / "trace.jsonl"
    result = CliRunner().invoke(cli.app, [
        "bench", "--dataset", f"jsonl:{episodes_file(tmp_path)}", "--policies", "sync,async",
        "--mcp", SERVER, "--out", str(out), "--trace", str(trace), "--fresh",
    ])
    assert result.exit_code == 0, result.output
    results = json.loads((out / "results.json").read_text())
    assert results["settings"]["mcp"] == [SERVER]
    runs = {e["policy"]: e for e in results["episodes"]}
    assert set(runs) == {"sync", "async"}
    for run in runs.values():
        assert run["passed"], run["check_detail"]
        issued = [r for r in run["timeline"] if r.get("status") == "issued"]
        assert [(r["tool"], r["effect"], r["call"]) for r in issued] == [
            ("web_get_weather", "read_only", 1)
        ]
    tracing._process_setup[0].provider.force_flush()
    spans = [json.loads(line) for line in trace.read_text().splitlines()]
    sessions = [s for s in spans if s["name"] == "specagent.session"]
    assert len(sessions) == 2  # one trace per episode run
    assert {s["attributes"]["specagent.episode"] for s in sessions} == {
        f"jsonl:{episodes_file(tmp_path)}/lima"
    }
    calls = [s for s in spans if s["name"] == "specagent.tool_call"]
    assert {c["attributes"]["specagent.tool.effect_source"] for c in calls} == {"annotation"}


def test_bench_refuses_mcp_for_built_in_datasets(monkeypatch):
    monkeypatch.setattr("specagent.models.loader.load_backend", _scripted)
    result = CliRunner().invoke(cli.app, ["bench", "--dataset", "assistant", "--mcp", SERVER])
    assert result.exit_code == 2 and "jsonl: episode files only" in result.output
