"""The live page of `specagent serve` in headless Chromium (Debian's, through Playwright): it
connects, streams a typed request word by word, and shows the calls (one started early, one
held for its commit point and then committed) and the answer with its latency."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from specagent.agent import Policy
from specagent.serve import Hub, ScriptedModels, ServeConfig
from specagent.serve.testing import running

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DOCS_SHOT = Path(__file__).resolve().parents[1] / "docs" / "serve-page.png"

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")


def test_the_page_streams_a_request_and_shows_calls_and_the_answer(tmp_path: Path) -> None:
    from playwright.async_api import async_playwright, expect

    hub = Hub(ServeConfig(policy=Policy.ASYNC), ScriptedModels(ttft_s=0.02, token_s=0.01))
    shot = tmp_path / "serve-page.png"

    async def main() -> dict[str, str]:
        async with running(hub) as base, async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            try:
                page = await browser.new_page(viewport={"width": 1150, "height": 980})
                await page.goto(base.replace("ws://", "http://") + "/")
                await expect(page.locator("#status")).to_have_attribute("data-state", "open")
                await page.fill(
                    "#text", "What's the weather in Paris and text Sam that I am running late"
                )
                await page.fill("#gap", "150")
                await page.click("#speak")
                committed = page.locator('#calls tr[data-call-id="2"][data-state="committed"]')
                await expect(committed).to_be_visible(timeout=20_000)
                await expect(page.locator("#latency")).to_contain_text("latency", timeout=20_000)
                await page.screenshot(path=str(shot), full_page=True)
                return {
                    "answer": await page.inner_text("#answer"),
                    "heard": await page.inner_text("#heard"),
                    "latency": await page.inner_text("#latency"),
                    "call1": await page.inner_text('#calls tr[data-call-id="1"]'),
                    "call2": await page.inner_text('#calls tr[data-call-id="2"]'),
                    "words": str(await page.locator("#heard .word").count()),
                    "history2": await page.inner_text('#calls tr[data-call-id="2"] .history'),
                    "timeline": await page.inner_text("#timeline"),
                }
            finally:
                await browser.close()

    seen = asyncio.run(asyncio.wait_for(main(), 90))
    assert seen["answer"] == "Paris: sunny, 21 C. Message sent to Sam."
    assert (
        seen["heard"].split()
        == "What's the weather in Paris and text Sam that I am running late".split()
    )
    assert seen["words"] == "13"  # one update per word, as typed
    assert "latency" in seen["latency"] and "async" in seen["latency"]
    # the lookup ran before the user finished; the message waited for its commit point
    assert "get_weather" in seen["call1"] and "early" in seen["call1"]
    assert "send_message" in seen["call2"] and "irreversible" in seen["call2"]
    steps = [step.split()[0] for step in seen["history2"].split(" → ")]
    assert steps == ["issued", "held", "running", "done", "committed"]
    assert "[final] late" in seen["timeline"]
    assert shot.stat().st_size > 10_000
    if os.environ.get("SPECAGENT_WRITE_DOCS"):  # refresh the screenshot in docs/serve.md
        shutil.copyfile(shot, DOCS_SHOT)


def test_the_page_microphone_is_heard(tmp_path: Path) -> None:
    """Chromium's fake microphone plays a spoken request; the page sends it as PCM."""
    pytest.importorskip("faster_whisper")
    from playwright.async_api import async_playwright, expect

    from specagent.serve import ServerClock
    from specagent.serve.audio import AudioEngines
    from specagent.voice.audio import Audio, read_wav, write_wav
    from specagent.voice.errors import VoiceError

    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is needed to synthesise test speech")
    raw = tmp_path / "raw.wav"
    subprocess.run(
        ["espeak-ng", "-v", "en-us", "-s", "165", "-w", str(raw), "What is the weather in Paris?"],
        check=True,
    )
    voice = read_wav(raw).resampled(48_000)
    track = Audio.silence(0.5, 48_000).mixed(voice, 0.5)
    track = track.mixed(Audio.silence(3.0, 48_000), track.duration_s)
    wav = tmp_path / "mic.wav"
    write_wav(wav, track)
    clock = ServerClock()
    try:
        engines = AudioEngines(clock)
    except VoiceError as exc:
        pytest.skip(f"voice models not installed: {exc}")
    hub = Hub(ServeConfig(policy=Policy.ASYNC), ScriptedModels(ttft_s=0.02, token_s=0.01),
              clock=clock, audio=engines)  # fmt: skip
    mic_args = [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={wav}%noloop",
        "--autoplay-policy=no-user-gesture-required",
    ]

    async def main() -> tuple[str, str]:
        async with running(hub) as base, async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS + mic_args)
            try:
                page = await browser.new_page()
                await page.goto(base.replace("ws://", "http://") + "/")
                await expect(page.locator("#status")).to_have_attribute("data-state", "open")
                await page.click("#mic")
                await expect(page.locator("#latency")).to_contain_text("latency", timeout=60_000)
                return await page.inner_text("#answer"), await page.inner_text("#heard")
            finally:
                await browser.close()

    try:
        answer, heard = asyncio.run(asyncio.wait_for(main(), 120))
    finally:
        engines.close()
    assert answer == "Paris: sunny, 21 C."
    assert "paris" in heard.lower()
