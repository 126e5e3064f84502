"""The command line, on the scripted model (the real-model run is the README's main job)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

import specagent.cli as cli
from specagent.models import ScriptedBackend


def _scripted(model, clock, profile_name):
    def respond(messages):
        said = "\n".join(m.content for m in messages if m.role == "user")
        if "<tool_result" in said:
            return "<answer>Sunny in Paris.</answer>"
        if "final_query_update" in said:
            return '<tool_call id="1">{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>'
        return "<pause/>"

    return ScriptedBackend(clock, respond)


def test_run_compare_json_reports_every_policy(monkeypatch):
    monkeypatch.setattr(cli, "_load", _scripted)
    result = CliRunner().invoke(
        cli.app, ["run", "What's the weather in Paris?", "--policy", "compare", "--json"]
    )
    assert result.exit_code == 0, result.output
    runs = json.loads(result.output)["runs"]
    assert set(runs) == {"sync", "async", "speculative", "oracle", "verified"}
    for record in runs.values():
        assert record["answer"] == "Sunny in Paris."
        assert {"latency_s", "first_token_latency_s", "tool_calls", "speculation"} <= set(record)
        call = record["tool_calls"][0]
        assert {"id", "name", "arguments", "status", "started_s", "finished_s"} <= set(call)
        assert "extra_tokens_vs_sync" in record
    assert runs["sync"]["extra_tokens_vs_sync"] == 0


def test_unknown_policy_and_model_are_clear_errors(monkeypatch):
    result = CliRunner().invoke(cli.app, ["run", "hi", "--policy", "fast"])
    assert result.exit_code != 0 and "unknown policy" in result.output
    result = CliRunner().invoke(cli.app, ["run", "hi", "--model", "nope"])
    assert result.exit_code == 2 and "unknown model" in result.output
