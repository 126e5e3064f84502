"""``specagent voice`` end to end: real speech engines, a real (small) local model."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from specagent.voice import read_wav
from specagent.voice.cli import app

runner = CliRunner()


def espeak(path: Path, text: str) -> Path:
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "165", "-w", str(path), text], check=True)
    return path


def test_bad_input_is_a_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["--in", str(tmp_path / "none.wav")])
    assert result.exit_code == 2 and "no such audio file" in result.output
    wav = espeak(tmp_path / "hi.wav", "hello")
    result = runner.invoke(app, ["--in", str(wav), "--policy", "oracle"])
    assert result.exit_code == 2 and "oracle" in result.output
    result = runner.invoke(app, ["--in", str(wav), "--model", "nope"])
    assert result.exit_code == 2 and "unknown model" in result.output
    result = runner.invoke(app, [])
    assert result.exit_code == 2 and "exactly one of --in" in result.output
    # No PortAudio or no input device on a machine without a microphone: a clear error.
    result = runner.invoke(app, ["--mic", "3"])
    assert result.exit_code == 2 and ("microphone" in result.output or "input" in result.output)


@pytest.mark.real_model
def test_voice_command_plays_a_wav_and_writes_the_reply(tmp_path: Path) -> None:
    request = espeak(tmp_path / "req.wav", "Hello there. Tell me a short joke.")
    second = espeak(tmp_path / "stop.wav", "Stop, thanks.")
    out, mix = tmp_path / "reply.wav", tmp_path / "mix.wav"
    result = runner.invoke(
        app,
        [
            "--in",
            str(request),
            "--out",
            str(out),
            "--mix",
            str(mix),
            "--model",
            "smollm2-135m",
            "--profile",  # the model charged by a fixed profile, not by this machine's load
            "smollm2-135m-cpu2",
            "--clock",
            "virtual",
            "--policy",
            "async",
            "--barge-in-at",
            "30",
            str(second),
            "--no-small-talk",  # SmolLM2-135M, the fast model here, stalls with the rule
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    record = json.loads(result.output[result.output.index("{") :])
    assert [r["label"] for r in record["replies"]] == ["request", "barge-in"]
    # Counted from the acoustic end of speech the VAD found, and checked against the audio.
    assert record["false_starts"] == 0
    started = record["preemptive_started"]
    assert started == record["preemptive_confirmed"] + record["preemptive_discarded"]
    for r in record["replies"]:
        if r["first_audio_after_s"] is not None:
            gap = r["first_audio_latency_s"]
            assert gap is not None and gap > 0
            assert gap == pytest.approx(
                r["first_audio_after_s"] - r["vad_speech_end_after_s"], abs=1e-3
            )
    assert record["turns"] and record["asr"]["passes"] >= 1
    reply = read_wav(out)  # the agent's track on the conversation's timeline
    assert reply.rate == 22050 and reply.duration_s >= 30.0
    spoke = [r for r in record["replies"] if r["first_audio_after_s"] is not None]
    for r in spoke:  # whatever the small model said was played after the user stopped
        assert r["latency_s"] > 0
    assert (np.abs(reply.samples).max() > 0.05) == bool(record["spoken"])
    assert read_wav(mix).duration_s >= 30.0
