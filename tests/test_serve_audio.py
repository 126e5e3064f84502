"""Speech in over the WebSocket: a client's microphone (espeak-ng speech as 16-bit PCM, sent in
32 ms messages at the pace a microphone would) is heard by the voice layer (Silero VAD and
Whisper tiny.en) and drives the conversation like typed speech."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("faster_whisper")

from specagent.serve import Hub, ScriptedModels, ServeConfig, ServerClock  # noqa: E402
from specagent.serve.testing import Client, running  # noqa: E402
from specagent.voice.audio import Audio, read_wav, write_wav  # noqa: E402
from specagent.voice.errors import VoiceError  # noqa: E402

CHUNK = 512  # samples a message: 32 ms at 16 kHz


@pytest.fixture(scope="module")
def engines() -> Iterator[object]:
    from specagent.serve.audio import AudioEngines

    try:
        loaded = AudioEngines(ServerClock())
    except VoiceError as exc:
        pytest.skip(f"voice models not installed: {exc}")
    yield loaded
    loaded.close()


def spoken(tmp_path: Path, text: str, *, silence_s: float = 1.5) -> Path:
    """``text`` spoken by espeak-ng, then ``silence_s`` of silence, as a 16 kHz WAV."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is needed to synthesise test speech")
    raw = tmp_path / "raw.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "165", "-w", str(raw), text], check=True)
    voice = read_wav(raw).resampled(16_000)
    padded = Audio.silence(0.3, 16_000).mixed(voice, 0.3)
    padded = padded.mixed(Audio.silence(silence_s, 16_000), padded.duration_s)
    out = tmp_path / "speech.wav"
    write_wav(out, padded)
    return out


def pcm_chunks(path: Path) -> list[bytes]:
    samples = read_wav(path).resampled(16_000).samples
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    return [pcm[i : i + CHUNK].tobytes() for i in range(0, len(pcm), CHUNK)]


def test_a_spoken_request_over_the_socket_is_heard_and_answered(engines, tmp_path: Path) -> None:
    wav = spoken(tmp_path, "What is the weather in Paris today?")
    hub = Hub(ServeConfig(), ScriptedModels(ttft_s=0.01, token_s=0.002), clock=engines.clock,
              audio=engines)  # fmt: skip

    async def main() -> Client:
        async with running(hub) as base, Client.connect(base) as client:
            ready = await client.until("ready")
            assert ready["audio"] is True
            await client.ws.send(b"\x01\x02\x03")  # not whole samples
            error = await client.until("error")
            assert error["code"] == "bad_audio"
            for chunk in pcm_chunks(wav):  # as a microphone would: 32 ms at a time
                await client.ws.send(chunk)
                await asyncio.sleep(CHUNK / 16_000)
            answer = await client.until("answer")
            await client.send(type="audio_end")
            assert answer["text"] == "Paris: sunny, 21 C."
            return client

    client = asyncio.run(asyncio.wait_for(main(), 120))
    types = [m["type"] for m in client.received]
    assert types.index("voice_started") < types.index("user_speech")
    heard = client.of_type("user_speech")
    assert heard[-1]["final"] is True
    words = " ".join(m["text"] for m in heard).lower()
    assert "weather" in words and "paris" in words
