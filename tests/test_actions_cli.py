"""``specagent actions {chess,retail,tuning}``: JSON output, tables, clear errors."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from specagent.actions.cli import app

runner = CliRunner()


def test_chess_json_reports_every_k_and_is_lossless() -> None:
    result = runner.invoke(
        app,
        [
            "chess",
            "--games",
            "1",
            "--max-plies",
            "6",
            "--actor-nodes",
            "3000",
            "--speculator-nodes",
            "300",
            "--nps",
            "1000000",
            "--k",
            "1,3",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [v["variant"]["k"] for v in data["variants"]] == [1, 3]
    assert all(v["lossless"] for v in data["variants"])
    assert data["nps"] == 1_000_000 and len(data["games"]) == 1
    assert len(data["games"][0]["moves"]) == 6


def test_chess_table() -> None:
    result = runner.invoke(
        app,
        [
            "chess",
            "--games",
            "1",
            "--max-plies",
            "4",
            "--actor-nodes",
            "2000",
            "--speculator-nodes",
            "200",
            "--nps",
            "1000000",
            "--k",
            "2",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "saved" in result.stdout and "k=2" in result.stdout
    assert "Speculator accuracy on every sequential position" in result.stdout


def test_tuning_json_compares_actor_only_with_speculative() -> None:
    result = runner.invoke(app, ["tuning", "--seeds", "1", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["actor_only"]["mode"] == "actor-only"
    assert data["speculative"]["speculator_writes"] > 0
    assert data["actor_only"]["shifts"] == data["speculative"]["shifts"] == 3


def test_retail_json_on_a_few_tasks() -> None:
    result = runner.invoke(app, ["retail", "--limit", "3", "--k", "2", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["tasks"] == 3 and data["calls"] > 0
    labels = [v["label"] for v in data["variants"]]
    assert labels == ["k=2 lookup only", "k=2 lookup+next step"]
    assert all(v["lossless"] for v in data["variants"])
    assert 0 <= data["variants"][0]["predicted_topk"] <= 1


def test_bad_input_is_a_clear_error() -> None:
    for args, needle in (
        (["chess", "--k", "0"], "every k must be >= 1"),
        (["chess", "--timing", "bogus"], "--timing must be nodes or wall"),
        (["chess", "--games", "99"], "--games must be between"),
        (["chess", "--engines", "1", "--nps", "1e6"], "engines must be >= 2"),
        (["retail", "--split", "nope"], "unknown split"),
        (["retail", "--profile", "measured"], "not a modelled profile"),
        (["tuning", "--actor-think", "0"], "actor_think_s must be positive"),
        (["tuning", "--seeds", "0"], "--seeds must be >= 1"),
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert needle in result.output, (args, result.output)
