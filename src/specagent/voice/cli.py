"""``specagent voice``: play a WAV to the agent as a live stream and hear its reply.

The request is played in real time (frames on the clock), recognised, answered, synthesised
and "played"; the reply audio is written on the conversation's timeline, and a timeline of
what happened is printed as it happens. ``--barge-in-at SECONDS WAV`` mixes a second
utterance into the stream at that time, to speak over the agent.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from ..agent import Policy
from ..clock import Clock, RealClock, VirtualClock
from ..envs.assistant import AssistantWorld, assistant_toolset, tool_latency
from ..events import Event
from ..mcptools.cli import MCP_HELP, TOOL_EFFECT_HELP, McpOptions, open_toolset
from ..mcptools.cli import without_simulated_latency
from ..mcptools.errors import McpError
from ..models.base import ModelError
from ..models.registry import DEFAULT_MODEL
from ..profiles import PROFILES, get_profile
from ..timeline import TimelinePrinter, describe
from ..tracing import TracingError, chain_observers, session_tracer, use_trace_option
from .agent import VoiceAgent
from .config import VoiceConfig, VoiceEngines
from .results import VoiceResult
from .audio import Audio, read_wav, write_wav
from .errors import VoiceError
from .events import (
    AgentSpoke,
    BargeIn,
    PreemptiveConfirmed,
    PreemptiveDiscarded,
    PreemptiveStarted,
    TurnEndGuess,
    VoiceResumed,
    SpeechOut,
    SubAgentCancelled,
    SubAgentReported,
    SubAgentStarted,
    VoiceEnded,
    VoiceStarted,
    VoiceUnclear,
)
from .asr import WHISPER_LOG_PROB_THRESHOLD
from .stream import AudioInput, AudioStream
from .turn_end import TurnEndConfig
from .vad import EndpointConfig

__all__ = ["app", "describe_voice"]

app = typer.Typer(add_completion=False, help="Talk to the agent with audio (ASR, VAD, TTS).")
err = Console(stderr=True)


def describe_voice(event: Event) -> tuple[str, str] | None:
    """A (lane, text) line for a voice event or any session event."""
    if isinstance(event, VoiceStarted):
        return ("voice", f"user starts speaking (speech from {event.speech_t:.2f}s)")
    if isinstance(event, VoiceEnded):
        return ("voice", f"end of turn (last speech {event.speech_t:.2f}s)")
    if isinstance(event, TurnEndGuess):
        looks = "complete" if event.complete else f"unfinished ({event.reason})"
        until = "" if event.end_silence_s is None else f"; turn ends after {event.end_silence_s}s"
        unsure = " (unclear)" if event.unclear else ""
        return ("voice", f"pause: {event.text!r}{unsure} looks {looks}{until}")
    if isinstance(event, VoiceResumed):
        return ("voice", "user goes on after the pause")
    if isinstance(event, VoiceUnclear):
        return (
            "voice",
            f"UNCLEAR: heard {event.text!r} at log-prob {event.avg_logprob:.2f} "
            f"(< {event.threshold}): not acted on, the user is asked to repeat",
        )
    if isinstance(event, PreemptiveStarted):
        return ("voice", f"preemptive reply started on {event.text!r} (held)")
    if isinstance(event, PreemptiveConfirmed):
        return ("voice", f"end of turn confirmed: preemptive reply plays ({event.waited_s:.2f}s)")
    if isinstance(event, PreemptiveDiscarded):
        return ("voice", f"preemptive reply discarded: {event.reason}")
    if isinstance(event, BargeIn):
        return ("voice", "BARGE-IN: user speaks over the agent")
    if isinstance(event, SpeechOut):
        return ("speak", f"plays: {event.text}")
    if isinstance(event, AgentSpoke):
        cut = f" (cut off; audio ends {event.audio_end_t:.2f}s)" if event.interrupted else ""
        return ("speak", f"user heard: {event.text!r}{cut}")
    if isinstance(event, SubAgentStarted):
        return ("task", f"task {event.task_id} {event.mode}ed: {event.task}")
    if isinstance(event, SubAgentReported):
        return ("task", f"task {event.task_id} reports ({event.ended}): {event.text}")
    if isinstance(event, SubAgentCancelled):
        return ("task", f"task {event.task_id} cancelled")
    return describe(event)


def _clock(name: str) -> Clock:
    if name == "real":
        return RealClock()
    if name == "virtual":
        return VirtualClock()
    raise typer.BadParameter(
        f"unknown clock {name!r}; choose real or virtual", param_hint="--clock"
    )


def _threshold(value: str) -> float | None:
    if value.strip().lower() == "off":
        return None
    try:
        threshold = float(value)
    except ValueError:
        threshold = math.nan
    if not math.isfinite(threshold):
        raise ValueError(
            f"--unclear-below takes a log-probability (e.g. -1.0) or 'off', not {value!r}"
        )
    return threshold


def summary(result: VoiceResult) -> dict[str, Any]:
    """The JSON record of one conversation."""
    return {
        "policy": result.policy,
        "ended": result.ended,
        "replies": [
            {**t.to_json(), "latency_s": None if t.latency_s is None else round(t.latency_s, 4)}
            for t in result.timings()
        ],
        "spoken": [
            {"answer_id": s.answer_id, "text": s.text, "interrupted": s.interrupted}
            for s in result.spoken()
        ],
        "turns": [
            {"ended": r.ended, "answer": r.answer, "tool_calls": [c.name for c in r.tool_calls]}
            for r in result.turns
        ],
        "asr": {
            "passes": result.listener.passes,
            "seconds": round(result.listener.asr_s, 3),
            "passes_by_kind": result.listener.passes_by_kind,
            "seconds_by_kind": {k: round(v, 3) for k, v in result.listener.asr_s_by_kind.items()},
            "vad_windows": result.listener.windows,
            "vad_s": round(result.listener.vad_s, 3),
        },
        "unclear_utterances": [
            {
                "utterance": e.utterance,
                "text": e.text,
                "avg_logprob": round(e.avg_logprob, 3),
                "no_speech_prob": None if e.no_speech_prob is None else round(e.no_speech_prob, 3),
                "threshold": e.threshold,
            }
            for e in result.unclear()
        ],
        "tts_seconds": [round(s, 3) for s in result.synth_s],
        **result.summary_counts(),
        "preemption": result.preemption.to_json(),
    }


@app.callback(invoke_without_command=True)
def voice(
    input_wav: Annotated[
        Path | None, typer.Option("--in", help="The user's request (a WAV file).")
    ] = None,
    mic: Annotated[
        float | None,
        typer.Option(help="Listen to the microphone for SECONDS instead of --in (real clock)."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the agent's reply audio here.")
    ] = None,
    policy: Annotated[str, typer.Option(help="sync, async or speculative.")] = "speculative",
    model: Annotated[str, typer.Option(help="Registry name or openai:MODEL@BASE_URL.")] = (
        DEFAULT_MODEL
    ),
    clock: Annotated[
        str, typer.Option(help="real (wall time) or virtual (compute charged as measured).")
    ] = "real",
    profile: Annotated[str, typer.Option(help=f"Latency profile: {', '.join(PROFILES)}.")] = (
        "measured"
    ),
    barge_in_at: Annotated[
        tuple[float, Path] | None,
        typer.Option("--barge-in-at", help="SECONDS WAV: speak this over the agent then."),
    ] = None,
    end_silence: Annotated[
        float, typer.Option(help="Silence (s) that ends the user's turn (--fixed-end).")
    ] = 0.5,
    complete_silence: Annotated[
        float, typer.Option(help="Silence (s) that ends a turn whose words look complete.")
    ] = 0.3,
    incomplete_silence: Annotated[
        float, typer.Option(help="Silence (s) that ends a turn whose words look unfinished.")
    ] = 1.0,
    fixed_end: Annotated[
        bool, typer.Option(help="End every turn after --end-silence, whatever the words.")
    ] = False,
    preempt: Annotated[
        bool, typer.Option(help="Start the reply when the words look complete (held).")
    ] = True,
    first_words: Annotated[
        int, typer.Option(help="Words in the first spoken piece (0: a whole sentence).")
    ] = 4,
    partial_every: Annotated[
        float, typer.Option(help="Partial re-transcription period (s).")
    ] = 1.0,
    vocabulary: Annotated[
        str | None,
        typer.Option(help="Words Whisper should expect besides the tools' names (places, names)."),
    ] = None,
    small_talk: Annotated[
        bool,
        typer.Option(
            "--small-talk/--no-small-talk",
            help="Tell the model small talk needs no tool (on: the default model calls tools "
            "for most small talk without it; SmolLM2-135M stalls with it).",
        ),
    ] = True,
    unclear_below: Annotated[
        str,
        typer.Option(
            help="Ask the user to repeat (and act on nothing) when Whisper's mean token "
            "log-probability of their words is below this (Whisper's failed-decode line); "
            "'off': never."
        ),
    ] = str(WHISPER_LOG_PROB_THRESHOLD),
    chunk: Annotated[
        float, typer.Option(help="Playback chunk (s); barge-in stops within one.")
    ] = 0.04,
    sub_agents: Annotated[
        bool, typer.Option(help="Give the agent start_task (fork/spawn).")
    ] = False,
    seed: Annotated[int, typer.Option(help="Seed of simulated tool latencies.")] = 0,
    mix: Annotated[
        Path | None, typer.Option(help="Also write a stereo file: user | agent.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON summary.")] = False,
    mcp: Annotated[list[str] | None, typer.Option("--mcp", help=MCP_HELP)] = None,
    tool_effect: Annotated[
        list[str] | None, typer.Option("--tool-effect", help=TOOL_EFFECT_HELP)
    ] = None,
    trace: Annotated[
        str | None,
        typer.Option("--trace", help="OpenTelemetry spans: console, otlp or a .jsonl file."),
    ] = None,
) -> None:
    """Play --in as a live stream to the agent; print the timeline; write --out."""
    try:
        mcp_options = McpOptions.from_cli(mcp, tool_effect)
        use_trace_option(trace)
        if (input_wav is None) == (mic is None):
            raise ValueError("give exactly one of --in FILE.wav and --mic SECONDS")
        pol = Policy.parse(policy)
        if not pol.accepts_live_speech:
            raise ValueError(
                f"the {pol.value} policy needs to know in advance when the request ends; "
                "live audio cannot tell it: use sync, async or speculative"
            )
        if pol.needs_draft_model:
            raise ValueError(
                f"the {pol.value} policy needs a draft model, which `voice` does not load: "
                "use sync, async or speculative"
            )
        stream: AudioInput
        if input_wav is not None:
            inserts = []
            if barge_in_at is not None:
                at_s, path = barge_in_at
                inserts.append((float(at_s), read_wav(path), "barge-in"))
            stream = AudioStream(read_wav(input_wav), inserts=inserts)
        else:
            from .microphone import MicrophoneStream

            assert mic is not None
            if clock != "real" or barge_in_at is not None:
                raise ValueError("--mic runs on the real clock and takes no --barge-in-at")
            stream = MicrophoneStream(mic)
        config = VoiceConfig(
            endpoint=EndpointConfig(
                end_silence_s=end_silence, tentative_silence_s=min(0.16, end_silence)
            ),
            partial_every_s=partial_every,
            playback_chunk_s=chunk,
            sub_agents=sub_agents,
            first_words=first_words or None,
            turn_end=TurnEndConfig(
                complete_silence_s=complete_silence,
                incomplete_silence_s=incomplete_silence,
                adaptive=not fixed_end,
            ),
            preempt=preempt,
            vocabulary=vocabulary or True,
            small_talk=small_talk,
            unclear_below=_threshold(unclear_below),
        )
        the_clock = _clock(clock)
        from ..models.loader import load_backend

        backend = load_backend(model, the_clock, get_profile(profile))
        with err.status("loading speech models …"):
            engines = VoiceEngines.load()
        out_console = Console()
        observer = (
            None if as_json else TimelinePrinter(out_console, describe=describe_voice, lane_width=7)
        )

        async def main() -> VoiceResult:
            base = assistant_toolset(AssistantWorld())
            try:
                async with open_toolset(base, mcp_options, the_clock) as tools:
                    tracer = session_tracer(
                        session_id=None,
                        toolset=tools,
                        policy=pol,
                        backend=backend,
                        clock=the_clock,
                        attributes={"specagent.voice": True},
                    )
                    agent = VoiceAgent(
                        backend,
                        tools,
                        the_clock,
                        pol,
                        engines,
                        config=config,
                        latency=without_simulated_latency(tool_latency(seed), tools),
                        observer=chain_observers(observer, tracer),
                    )
                    try:
                        return await agent.run(stream)
                    finally:
                        if tracer is not None:
                            tracer.close()
            finally:
                await backend.aclose()

        result = the_clock.run(main())
    except (VoiceError, ValueError, McpError, TracingError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    except ModelError as exc:
        err.print(f"[red]model error:[/red] {exc}")
        raise typer.Exit(2) from None
    if out is not None:
        write_wav(out, result.reply)
    if mix is not None:
        heard = stream.audio  # type: ignore[attr-defined]
        user = Audio(heard.samples, heard.rate).resampled(result.reply.rate)
        write_wav(mix, [user, result.reply])
    record = summary(result)
    record.update(model=model, clock=clock, profile=profile, input=str(input_wav or "microphone"))
    if as_json:
        json.dump(record, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
        return
    for reply in record["replies"]:
        lat, gap = reply["latency_s"], reply["first_audio_latency_s"]
        out_console.print(
            f"[bold]{reply['label']}[/bold]: end of speech → first reply audio "
            f"{'-' if lat is None else f'{lat:.2f}s'} (from the VAD's end of speech "
            f"{'-' if gap is None else f'{gap:.2f}s'}; {clock} clock; VAD end "
            f"+{reply['vad_end_after_s']}s, final heard +{reply['final_heard_after_s']}s, "
            f"answer starts +{reply['answer_started_after_s']}s)"
        )
    out_console.print(
        f"preemptive replies: {record['preemptive_started']} started, "
        f"{record['preemptive_confirmed']} played, {record['preemptive_discarded']} discarded; "
        f"false starts: {record['false_starts']}; unclear, asked to repeat: {record['unclear']}"
    )
    if out is not None:
        out_console.print(f"reply audio written to {out}")
