"""The partial-transcript study: Whisper re-transcription against pocketsphinx partials.

On two requests voiced by piper and by espeak-ng: compute per pass and per second of audio,
and the word error of what each heard (docs/voice.md, "Partial transcripts"). Run through
``benchmarks/voice_latency.py --asr-study``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from specagent.voice.asr import WhisperAsr
from specagent.voice.audio import Audio, voiced_extent
from specagent.voice.tts import PiperTts

REQUESTS = {
    "no-tool": "Thank you, that is all for now.",
    "tool": "What is the weather in Boston on Friday?",
}


def wer(ref: str, hyp: str) -> float:
    r = [w.strip(".,!?").lower() for w in ref.split()]
    h = [w.strip(".,!?").lower() for w in hyp.split()]
    d = np.zeros((len(r) + 1, len(h) + 1), dtype=int)
    d[:, 0] = np.arange(len(r) + 1)
    d[0, :] = np.arange(len(h) + 1)
    for i in range(1, len(r) + 1):
        for j in range(1, len(h) + 1):
            d[i, j] = min(
                d[i - 1, j] + 1, d[i, j - 1] + 1, d[i - 1, j - 1] + (r[i - 1] != h[j - 1])
            )
    return float(d[len(r), len(h)] / max(1, len(r)))


def asr_study(args: argparse.Namespace) -> dict[str, Any]:
    import subprocess
    import tempfile

    from pocketsphinx import Decoder

    from specagent.voice.audio import read_wav

    tts = PiperTts()
    whisper = WhisperAsr()
    out: dict[str, Any] = {}
    for name, text in REQUESTS.items():
        voices = {"piper": tts.synthesize(text).resampled(16000)}
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "e.wav"
            subprocess.run(
                ["espeak-ng", "-v", "en-us", "-s", "165", "-w", str(path), text], check=True
            )
            voices["espeak"] = read_wav(path).resampled(16000)
        for voice, raw in voices.items():
            # As the listener sees an utterance: a little silence before (its pre-roll) and
            # the silence that ends the turn after.
            audio = Audio.silence(0.25, 16000).mixed(raw, 0.25)
            audio = audio.mixed(Audio.silence(0.5, 16000), audio.duration_s)
            start, end = voiced_extent(audio)
            speech_s = end - start
            # Whisper: re-transcribe the growing utterance every 0.5 s, then the whole.
            passes, costs, hyps = [], [], []
            cut = 0.5
            while cut < audio.duration_s + 0.5:
                n = min(len(audio.samples), round(cut * 16000))
                t = time.perf_counter()
                hyp = whisper.transcribe(audio.samples[:n])
                costs.append(time.perf_counter() - t)
                passes.append(round(n / 16000, 2))
                hyps.append(hyp)
                cut += 0.5
            # pocketsphinx: 100 ms chunks, its own partial hypothesis after each.
            decoder = Decoder(samprate=16000)
            pcm = (np.clip(audio.samples, -1, 1) * 32767).astype(np.int16)
            partials = []
            t = time.perf_counter()
            decoder.start_utt()
            for i in range(0, len(pcm), 1600):
                decoder.process_raw(pcm[i : i + 1600].tobytes(), False, False)
                h = decoder.hyp()
                partials.append(h.hypstr if h else "")
            decoder.end_utt()
            sphinx_s = time.perf_counter() - t
            final_sphinx = decoder.hyp().hypstr if decoder.hyp() else ""
            out[f"{name}/{voice}"] = {
                "reference": text,
                "speech_s": round(speech_s, 2),
                "whisper": {
                    "pass_seconds_median": round(statistics.median(costs), 3),
                    "pass_seconds_max": round(max(costs), 3),
                    "passes_at_s": passes,
                    "hypotheses": hyps,
                    "final_wer": round(wer(text, hyps[-1]), 3),
                    "compute_per_audio_s_at_2_passes_per_s": round(2 * statistics.median(costs), 3),
                },
                "pocketsphinx": {
                    "seconds_total": round(sphinx_s, 3),
                    "compute_per_audio_s": round(sphinx_s / audio.duration_s, 3),
                    "partials_every_0.5s": partials[4::5],
                    "final": final_sphinx,
                    "final_wer": round(wer(text, final_sphinx), 3),
                },
            }
            print(
                name,
                voice,
                json.dumps(out[f"{name}/{voice}"]["whisper"]["final_wer"]),
                out[f"{name}/{voice}"]["pocketsphinx"]["final"],
                flush=True,
            )
    return out
