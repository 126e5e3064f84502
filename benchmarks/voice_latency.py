"""Voice latency: end of the user's speech to the first audio of the reply, per design and policy.

The spoken set (``voice_spoken_set.py``: 18 requests, 8 without a tool and 10 with one, 6
with a pause in the middle, four offline voices) is played as a live 16 kHz stream to the
voice agent (Silero VAD + Whisper tiny.en in, piper out) driving the real default model
(llama.cpp in process), under each policy and each turn-taking design:

* ``preemptive`` (the default ``VoiceConfig``): adaptive end of turn, preemptive reply,
  first spoken piece of four words;
* ``fixed``: the earlier design, for comparison: every turn ends after 0.5 s of silence, the
  reply starts only then, the first piece is a sentence or a 5-word clause.

Each request is spoken by one voice, in turn (``--all-voices``: by every voice).

Latency is measured from the end of speech (ground truth from the waveform: the last
10 ms frame within 35 dB of the loudest) to the moment the first reply audio chunk is handed
to the speaker; ``first_audio_latency_s`` is the same from the VAD's end of speech (what a
deployed agent can measure). Also counted per run: preemptive replies started, played and
discarded; *false starts* (an answer's first audio while the user was mid-utterance); *false
cuts* (the VAD ended a turn before the user had finished); whether the request's tool was
called; the word error of what was heard.

Clock: ``real`` (default) runs everything on wall time: only meaningful on an idle machine
(every run records the load average before and after). ``virtual`` runs on the virtual clock,
the model charged by ``--profile`` (a modelled profile: reproducible) and Whisper and piper
by ``--asr-cost``/``--tts-cost`` seconds per job (default: as measured).

``--turn-end-study`` measures only the end of turn (VAD + Whisper, no model) on every request
and voice, for fixed and adaptive silences: false cuts and how soon the turn ends.
``--asr-study`` is the earlier partial-transcript study (``voice_asr_study.py``).

Progress goes to stderr; results (every run, the summary, the settings) to ``--out``.

Run::

    .venv/bin/python benchmarks/voice_latency.py --out docs/voice-latency.json
    .venv/bin/python benchmarks/voice_latency.py --turn-end-study --out docs/voice-turn-end.json
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

from voice_spoken_set import REQUESTS, VOICES, SpokenRequest, plain_text, synthesise, wer

from specagent.agent import Policy
from specagent.clock import Clock, RealClock, VirtualClock
from specagent.envs.assistant import AssistantWorld, assistant_toolset, tool_latency
from specagent.events import UserSpeech
from specagent.models.llamacpp import LlamaCppBackend
from specagent.models.registry import DEFAULT_MODEL
from specagent.profiles import get_profile
from specagent.voice import AudioStream, VoiceAgent, VoiceConfig, VoiceEngines
from specagent.voice.asr import WhisperAsr
from specagent.voice.audio import Audio
from specagent.voice.compute import EngineCosts, Worker
from specagent.voice.events import TurnEndGuess, VoiceEnded
from specagent.voice.listener import Listener, ListenerConfig
from specagent.voice.results import VoiceResult
from specagent.voice.tts import PiperTts
from specagent.voice.turn_end import TurnEndConfig
from specagent.voice.vad import EndpointConfig, SileroVad

DESIGNS: dict[str, VoiceConfig] = {
    "preemptive": VoiceConfig(),
    "fixed": VoiceConfig(turn_end=TurnEndConfig(adaptive=False), preempt=False, first_words=None),
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def quantile(xs: list[float], q: float) -> float | None:
    if not xs:
        return None
    xs = sorted(xs)
    k = (len(xs) - 1) * q
    lo, hi = int(k), min(len(xs) - 1, int(k) + 1)
    return round(xs[lo] + (xs[hi] - xs[lo]) * (k - lo), 3)


def false_cuts(result: VoiceResult) -> int:
    """Turns the VAD ended before the user had finished the utterance (ground truth)."""
    spans = [
        (result.stream_t0 + s.speech_start_s, result.stream_t0 + s.speech_end_s - 0.05)
        for s in result.segments
    ]
    ends = [e for e in result.ledger if isinstance(e, VoiceEnded)]
    return sum(1 for e in ends if any(a < e.speech_t < b for a, b in spans))


def one_run(
    backend: LlamaCppBackend,
    engines: VoiceEngines,
    request: SpokenRequest,
    audio: Audio,
    design: str,
    policy: Policy,
    args: argparse.Namespace,
    seed: int,
) -> dict[str, Any]:
    clock: Clock = RealClock() if args.clock == "real" else VirtualClock()
    backend.rebind(clock, get_profile(args.profile))
    agent = VoiceAgent(
        backend,
        assistant_toolset(AssistantWorld()),
        clock,
        policy,
        engines,
        config=DESIGNS[design],
        latency=tool_latency(seed),
        costs=EngineCosts(asr_pass_s=args.asr_cost, tts_piece_s=args.tts_cost),
    )
    before = load()
    wall = time.perf_counter()
    result = clock.run(agent.run(AudioStream(audio)))
    wall = time.perf_counter() - wall
    timing = result.timings()[0]
    turns = result.turns
    calls = [c.name for t in turns for c in t.tool_calls]
    # Everything the model was given as the user's words (partial and final updates).
    heard = " ".join(e.text for e in result.conversation if isinstance(e, UserSpeech) and e.text)
    guesses = [e for e in result.ledger if isinstance(e, TurnEndGuess)]
    return {
        "latency_s": None if timing.latency_s is None else round(timing.latency_s, 3),
        **{k: v for k, v in timing.to_json().items() if k != "label"},
        **result.summary_counts(),
        "false_cuts": false_cuts(result),
        "turns": len(turns),
        "ended": turns[-1].ended if turns else result.ended,
        "answer": turns[-1].answer if turns else None,
        "tool_calls": calls,
        "tool_ok": (request.tool in calls) if request.tool else not calls,
        "tokens": sum(t.tokens_generated for t in turns),
        "heard": heard,
        "heard_wer": round(wer(request.text, heard), 3),
        "guesses": [{"t": round(g.t, 3), "text": g.text, "complete": g.complete} for g in guesses],
        "preempt_waited_s": [round(x, 3) for x in result.preemption.waited_s],
        "asr_passes": result.listener.passes_by_kind,
        "asr_s": {k: round(v, 3) for k, v in result.listener.asr_s_by_kind.items()},
        "tts_first_s": round(result.synth_s[0], 3) if result.synth_s else None,
        "wall_s": round(wall, 2),
        "loadavg_before": before,
        "loadavg_after": load(),
    }


def plan(args: argparse.Namespace) -> list[tuple[SpokenRequest, str]]:
    wanted = (
        REQUESTS
        if args.requests == "all"
        else [r for r in REQUESTS if r.id in args.requests.split(",")]
    )
    if args.limit:
        wanted = wanted[: args.limit]
    voices = list(VOICES) if args.voices == "all" else args.voices.split(",")
    for v in voices:
        if v not in VOICES:
            raise SystemExit(f"unknown voice {v!r}; known: {', '.join(VOICES)}")
    if args.all_voices:
        return [(r, v) for r in wanted for v in voices]
    return [(r, voices[i % len(voices)]) for i, r in enumerate(wanted)]


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per design/policy and request kind (no-tool, tool, all), and by what the model did:
    ``no-call`` (answered without calling a tool: the 1.5B model calls tools for some
    requests that need none) and ``called``."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in runs:
        did = "called" if r["tool_calls"] else "no-call"
        for kind in (r["kind"], "all", did):
            groups.setdefault(f"{r['design']}/{r['policy']}/{kind}", []).append(r)
    out = {}
    for key, rs in sorted(groups.items()):
        lat = [r["latency_s"] for r in rs if r["latency_s"] is not None]
        vad = [r["first_audio_latency_s"] for r in rs if r["first_audio_latency_s"] is not None]
        out[key] = {
            "runs": len(rs),
            "median_latency_s": quantile(lat, 0.5),
            "p90_latency_s": quantile(lat, 0.9),
            "median_from_vad_end_s": quantile(vad, 0.5),
            "p90_from_vad_end_s": quantile(vad, 0.9),
            "no_reply": len(rs) - len(lat),
            "preemptive_started": sum(r["preemptive_started"] for r in rs),
            "preemptive_discarded": sum(r["preemptive_discarded"] for r in rs),
            "false_starts": sum(r["false_starts"] for r in rs),
            "false_cuts": sum(r["false_cuts"] for r in rs),
            "tool_ok": sum(r["tool_ok"] for r in rs),
            "mean_heard_wer": round(statistics.mean(r["heard_wer"] for r in rs), 3),
        }
    return out


def latency_main(args: argparse.Namespace) -> dict[str, Any]:
    policies = [Policy.parse(p) for p in args.policies.split(",")]
    designs = args.designs.split(",")
    for d in designs:
        if d not in DESIGNS:
            raise SystemExit(f"unknown design {d!r}; known: {', '.join(DESIGNS)}")
    tts = PiperTts()
    cases = plan(args)
    audio = {(r.id, v): synthesise(r.text, v, tts) for r, v in cases}
    engines = VoiceEngines(asr=WhisperAsr(), tts=tts, vad=SileroVad())
    backend = LlamaCppBackend.from_registry(args.model, VirtualClock())
    runs: list[dict[str, Any]] = []
    total = args.runs * len(cases) * len(designs) * len(policies)
    for rep in range(args.runs):
        for request, voice in cases:
            for design in designs:
                for policy in policies:
                    record = one_run(
                        backend,
                        engines,
                        request,
                        audio[(request.id, voice)],
                        design,
                        policy,
                        args,
                        args.seed + rep,
                    )
                    record.update(
                        request=request.id,
                        kind="tool" if request.tool else "no-tool",
                        voice=voice,
                        design=design,
                        policy=policy.value,
                        rep=rep,
                    )
                    runs.append(record)
                    log(
                        f"[{len(runs)}/{total}] {request.id:15s} {voice:12s} {design:10s} "
                        f"{policy.value:11s} latency {record['latency_s']}s "
                        f"(from VAD end {record['first_audio_latency_s']}) "
                        f"preempt {record['preemptive_started']}/"
                        f"{record['preemptive_discarded']} discarded, "
                        f"false starts {record['false_starts']}, cuts {record['false_cuts']}, "
                        f"calls {record['tool_calls']} load {record['loadavg_before'][0]} "
                        f"| heard {record['heard']!r} | {record['answer']!r}"
                    )
    return {"summary": summarise(runs), "runs": runs}


# -- the end of turn alone --------------------------------------------------------------------

TURN_END_SETTINGS: dict[str, TurnEndConfig] = {
    "fixed-0.5": TurnEndConfig(adaptive=False),
    "adaptive-0.3": TurnEndConfig(complete_silence_s=0.3),
    "adaptive-0.5": TurnEndConfig(complete_silence_s=0.5),
    "adaptive-0.7": TurnEndConfig(complete_silence_s=0.7),
}


def turn_end_study(args: argparse.Namespace) -> dict[str, Any]:
    """VAD + Whisper only, on the virtual clock (Whisper charged ``--asr-cost``, default
    0.35 s a pass): per setting, the false cuts and how long after the end of speech the
    turn ends."""
    asr_cost = 0.35 if args.asr_cost is None else args.asr_cost
    tts = PiperTts()
    asr, vad = WhisperAsr(), SileroVad()
    cases = [(r, v) for r in REQUESTS for v in VOICES]
    runs = []
    for r, voice in cases:
        audio = synthesise(r.text, voice, tts)
        for name, turn_end in TURN_END_SETTINGS.items():
            clock = VirtualClock()
            out: list[Any] = []
            worker = Worker(clock, "asr", charge_s=asr_cost)
            config = ListenerConfig(
                endpoint=EndpointConfig(), partial_every_s=0.0, turn_end=turn_end
            )
            listener = Listener(clock, vad, asr, worker, out.append, config)
            stream = AudioStream(audio)
            try:
                clock.run(listener.run(stream.frames(clock)))
            finally:
                worker.close()
            seg = stream.segments[0]
            start, end = stream.started_t + seg.speech_start_s, stream.started_t + seg.speech_end_s
            ends = [e for e in out if isinstance(e, VoiceEnded)]
            cuts = [e for e in ends if start < e.speech_t < end - 0.05]
            final_end = [e.t - end for e in ends if e.speech_t >= end - 0.05]
            runs.append(
                {
                    "request": r.id,
                    "voice": voice,
                    "setting": name,
                    "paused": "|" in r.text,
                    "false_cuts": len(cuts),
                    "turn_end_after_s": round(final_end[0], 3) if final_end else None,
                    "guesses": [(e.text, e.complete) for e in out if isinstance(e, TurnEndGuess)],
                }
            )
            log(
                f"{r.id:15s} {voice:12s} {name:12s} cuts {len(cuts)} end {runs[-1]['turn_end_after_s']}"
            )
    summary = {}
    for name in TURN_END_SETTINGS:
        rs = [x for x in runs if x["setting"] == name]
        ends = [x["turn_end_after_s"] for x in rs if x["turn_end_after_s"] is not None]
        summary[name] = {
            "utterances": len(rs),
            "with_a_pause": sum(x["paused"] for x in rs),
            "false_cuts": sum(x["false_cuts"] for x in rs),
            "utterances_cut": sum(1 for x in rs if x["false_cuts"]),
            "median_turn_end_after_s": quantile(ends, 0.5),
            "p90_turn_end_after_s": quantile(ends, 0.9),
        }
    return {
        "asr_cost_s": asr_cost,
        "settings": {k: repr(v) for k, v in TURN_END_SETTINGS.items()},
        "summary": summary,
        "runs": runs,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--policies", default="sync,async,speculative")
    parser.add_argument("--designs", default="preemptive,fixed")
    parser.add_argument("--requests", default="all", help="all, or comma-separated ids")
    parser.add_argument("--voices", default="all", help="all, or comma-separated names")
    parser.add_argument("--all-voices", action="store_true", help="every request in every voice")
    parser.add_argument("--limit", type=int, default=0, help="only the first N requests")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--clock", choices=["real", "virtual"], default="real")
    parser.add_argument("--profile", default="measured", help="model latency profile")
    parser.add_argument("--asr-cost", type=float, default=None, help="virtual: s per pass")
    parser.add_argument("--tts-cost", type=float, default=None, help="virtual: s per piece")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--turn-end-study", action="store_true")
    parser.add_argument("--asr-study", action="store_true")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--resummarise", type=Path, default=None, help="recompute the summary of a results file"
    )
    args = parser.parse_args()
    if args.resummarise:
        record = json.loads(args.resummarise.read_text())
        record["summary"] = summarise(record["runs"])
        args.resummarise.write_text(json.dumps(record, indent=2, default=str) + "\n")
        log(f"rewrote the summary of {args.resummarise}")
        return 0
    if args.clock == "real" and (args.profile != "measured" or args.asr_cost or args.tts_cost):
        raise SystemExit("--profile, --asr-cost and --tts-cost model time: use --clock virtual")
    started = time.perf_counter()
    load_before = load()
    if args.asr_study:
        from voice_asr_study import asr_study

        body = asr_study(args)
    elif args.turn_end_study:
        body = turn_end_study(args)
    else:
        body = latency_main(args)
    record = {
        "command": " ".join(["python", *sys.argv]),
        "settings": {
            "model": args.model,
            "clock": args.clock,
            "profile": args.profile,
            "asr_cost_s": args.asr_cost,
            "tts_cost_s": args.tts_cost,
            "runs": args.runs,
            "seed": args.seed,
            "requests": {
                r.id: {"text": plain_text(r.text), "said": r.text, "tool": r.tool} for r in REQUESTS
            },
            "designs": {k: repr(v) for k, v in DESIGNS.items()},
            "tool_latency_s": "0.5-1.0 (seeded)",
        },
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "loadavg_at_start": load_before,
            "loadavg_at_end": load(),
        },
        "elapsed_s": round(time.perf_counter() - started, 1),
        **body,
    }
    if args.out:
        args.out.write_text(json.dumps(record, indent=2, default=str) + "\n")
        log(f"wrote {args.out}")
    else:
        print(json.dumps(record.get("summary", record), indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
