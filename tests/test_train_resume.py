"""A training run spans sessions: progress with an ETA, a budget that stops with a checkpoint,
and `--resume` that goes on from that checkpoint with the stored settings (or refuses)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from specagent.train.cli import app
from specagent.train.progress import ProgressTracker, format_duration
from specagent.train.run_dir import RunDirError, last_checkpoint, load_run, start_run
from specagent.train.settings import TrainSettings
from specagent.train.sources import load_tasks
from specagent.train.synth import synthesize, write_jsonl


class _Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_progress_lines_give_pace_and_eta_and_the_budget_stops_before_overrunning(tmp_path):
    clock, cpu, seen = _Clock(), _Clock(), []
    tracker = ProgressTracker(
        tmp_path, 10, start_step=4, budget_s=100.0, echo=seen.append, clock=clock, cpu_clock=cpu
    )
    clock.t += 30.0  # step 5 took 30 s, of which the process ran 45 s of processor time
    cpu.t += 45.0
    tracker.tick()
    line = tracker.report(5, 1.25, tokens=9000)
    assert (line.s_per_step, line.eta_s, line.status) == (30.0, 150.0, "running")  # 5 left x 30 s
    assert (line.step_s, line.cpu_s, line.tokens) == (30.0, 45.0, 9000)
    assert not tracker.should_stop()  # 30 s used, one more step ends at 60 s < 100 s
    clock.t += 20.0  # step 6 took 20 s: pace 25 s
    tracker.tick()
    line = tracker.report(6, 1.0)
    assert (line.s_per_step, line.eta_s) == (25.0, 100.0)
    clock.t += 30.0  # 80 s used; another 25 s step would end at 105 s
    tracker.tick()
    tracker.report(7, 0.9)
    assert tracker.should_stop()
    end = tracker.finish(7)
    assert end.status == "stopped" and end.loss == 0.9
    assert json.loads((tmp_path / "progress.json").read_text())["status"] == "stopped"
    lines = [json.loads(x) for x in (tmp_path / "progress.jsonl").read_text().splitlines()]
    assert [x["step"] for x in lines] == [5, 6, 7, 7]
    assert seen[0].startswith("step 5/10  loss 1.2500  30.0 s/step") and "ETA 0:02:30" in seen[0]
    assert format_duration(3725) == "1:02:05"


@pytest.fixture(scope="module")
def traces(tmp_path_factory):
    tasks = [t for t in load_tasks("assistant", split="train") if t.family == "calendar_check"]
    found, _ = synthesize(tasks, 4, seed=0)
    return write_jsonl(found, tmp_path_factory.mktemp("resume") / "short.jsonl")


def _settings(data: Path, out: Path, **kw) -> TrainSettings:
    base = dict(
        data=str(data), output_dir=str(out), max_steps=4, batch_size=1, learning_rate=5e-3,
        warmup_steps=0, max_examples=2, save_steps=2,
    )  # fmt: skip
    return TrainSettings(**{**base, **kw})


def test_a_run_directory_refuses_a_second_run_and_a_changed_resume(traces, tmp_path):
    data = tmp_path / "data.jsonl"
    data.write_bytes(traces.read_bytes())
    settings = _settings(data, tmp_path / "run")
    start_run(settings)
    with pytest.raises(RunDirError, match="already holds a training run"):
        start_run(settings)
    # the stored settings come back; a session may change its budget and threads only
    again = load_run(tmp_path / "run", {"max_minutes": 30.0, "threads": 1, "max_steps": 4})
    assert replace(again, max_minutes=None, threads=2) == settings
    assert again.max_minutes == 30.0 and again.threads == 1
    with pytest.raises(RunDirError, match=r"max_steps: run has 4, given 8"):
        load_run(tmp_path / "run", {"max_steps": 8})
    with pytest.raises(RunDirError, match=r"other settings \(data: run has"):
        load_run(tmp_path / "run", {"data": str(traces)})
    data.write_text(data.read_text() + "\n")
    with pytest.raises(RunDirError, match="has changed since the run started"):
        load_run(tmp_path / "run")
    data.unlink()
    with pytest.raises(RunDirError, match="is gone"):
        load_run(tmp_path / "run")
    with pytest.raises(RunDirError, match="holds no training run"):
        load_run(tmp_path / "elsewhere")


def test_the_cli_refuses_a_resume_that_differs(traces, tmp_path):
    runner = CliRunner()
    start_run(_settings(traces, tmp_path / "run"))
    bad = runner.invoke(app, ["train", "--resume", str(tmp_path / "run"), "--lr", "0.1"])
    assert bad.exit_code == 2 and "learning_rate: run has 0.005, given 0.1" in bad.output
    fresh = runner.invoke(app, ["train", "--data", str(traces), "--out", str(tmp_path / "run")])
    assert fresh.exit_code == 2 and "--resume" in fresh.output
    none = runner.invoke(app, ["train", "--out", str(tmp_path / "x")])
    assert none.exit_code == 2 and "needs --data and --out" in none.output


def test_a_budget_stop_then_resume_reaches_the_same_steps_and_losses_as_one_run(traces, tmp_path):
    pytest.importorskip("torch")
    from specagent.train.sft import train

    whole = train(_settings(traces, tmp_path / "whole"))
    assert whole.steps == 4 and whole.complete
    lines: list[str] = []
    # a budget of 6 ms: the session stops after its first step, saving that step
    first = train(_settings(traces, tmp_path / "split", max_minutes=1e-4), echo=lines.append)
    assert first.steps == 1 and not first.complete
    assert last_checkpoint(tmp_path / "split").name == "checkpoint-1"
    progress = json.loads((tmp_path / "split" / "progress.json").read_text())
    assert progress["status"] == "stopped" and progress["step"] == 1
    assert lines[0].startswith("step 1/4  loss ") and " s/step " in lines[0] and "ETA" in lines[0]

    resumed = train(load_run(tmp_path / "split"), resume=True)
    assert resumed.steps == whole.steps == 4 and resumed.complete
    assert resumed.resumed_from == 1
    session = [
        json.loads(x) for x in (tmp_path / "split" / "progress.jsonl").read_text().splitlines()
    ]
    # the second session's first step is step 2, not step 1 again
    assert [x["step"] for x in session] == [1, 1, 2, 3, 4, 4]
    assert [x["status"] for x in session][-1] == "done"
    assert [e["step"] for e in resumed.log] == [1.0, 2.0, 3.0, 4.0]
    # weights, optimizer, schedule and data order continued: the same losses as one run
    assert [e["loss"] for e in resumed.log] == pytest.approx(
        [e["loss"] for e in whole.log], rel=1e-3
    )
    assert (tmp_path / "split" / "adapter" / "adapter_config.json").is_file()
    assert resumed.peak_rss_mb and resumed.mean_batch_tokens and resumed.s_per_step
