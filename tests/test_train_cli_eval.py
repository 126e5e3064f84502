"""The training CLI and the evaluation scorer (scored on the teacher, which must be perfect,
and on a model that only pauses, which must score zero)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from specagent.clock import VirtualClock
from specagent.models.scripted import ScriptedBackend
from specagent.train.cli import app
from specagent.train.evaluate import evaluate_backend, held_out_tasks, summarize
from specagent.train.teacher import Teacher


def test_synth_command_writes_jsonl_and_report(tmp_path):
    out, report = tmp_path / "t.jsonl", tmp_path / "r.json"
    result = CliRunner().invoke(
        app, ["synth", "--out", str(out), "--count", "5", "--seed", "2", "--report", str(report)]
    )
    assert result.exit_code == 0, result.output
    lines = out.read_text().splitlines()
    assert len(lines) == json.loads(report.read_text())["written"] == 5
    assert json.loads(lines[0])["split"] == "train"


def test_synth_and_train_give_clear_errors(tmp_path):
    runner = CliRunner()
    bad = runner.invoke(app, ["synth", "--out", str(tmp_path / "x.jsonl"), "--source", "nope"])
    assert bad.exit_code == 2 and "unknown task source" in bad.output
    missing = runner.invoke(
        app, ["train", "--data", str(tmp_path / "none.jsonl"), "--out", str(tmp_path / "run")]
    )
    assert missing.exit_code == 2


def test_held_out_tasks_cover_families_from_the_test_split():
    tasks = held_out_tasks(10)
    assert len(tasks) == 10 and all(t.split == "test" for t in tasks)
    assert len({t.family for t in tasks}) == 10


def test_scorer_gives_the_teacher_full_marks_and_a_pausing_model_none():
    tasks = held_out_tasks(4)
    scores = []
    for task in tasks:
        teacher = ScriptedBackend(VirtualClock(), Teacher(task, seed=0), ttft_s=0.05, token_s=0.01)
        scores += evaluate_backend(teacher, [task], ["sync", "speculative"])
    summary = summarize(scores)
    for policy in ("sync", "speculative"):
        assert summary[policy]["task_success"] == 4
        assert summary[policy]["protocol_valid_pct"] == 100.0
        assert summary[policy]["call_recall_pct"] == 100.0
    speedup = summary["speedup_correct_under_both"]
    assert speedup["tasks"] == 4 and speedup["ratio_of_means"] > 1.0

    pauser = ScriptedBackend(VirtualClock(), lambda m: "<think>Wait.</think><pause/>")
    bad = summarize(evaluate_backend(pauser, tasks[:2], ["speculative"]))["speculative"]
    assert bad["task_success"] == 0 and bad["call_recall_pct"] == 0.0
    assert bad["protocol_valid_pct"] == 100.0  # valid, and useless: both are reported


def test_export_and_evaluate_are_commands_of_the_main_cli(tmp_path):
    from specagent.cli import app as main_app

    runner = CliRunner()
    export = runner.invoke(main_app, ["export", "--run", str(tmp_path / "no-run")])
    assert export.exit_code == 2 and "holds no PEFT adapter" in export.output
    step = runner.invoke(
        main_app, ["export", "--run", str(tmp_path / "no-run"), "--checkpoint", "100"]
    )
    assert step.exit_code == 2 and "checkpoint-100 holds no PEFT adapter" in step.output
    evaluate = runner.invoke(
        main_app,
        ["evaluate", "--model", str(tmp_path / "none.gguf"), "--out", str(tmp_path / "e.json")],
    )
    assert evaluate.exit_code == 2 and "error" in evaluate.output
    assert not (tmp_path / "e.json").exists()
