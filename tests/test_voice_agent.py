"""The voice agent end to end on real speech engines, with WAVs synthesised at test time.

Speech in is real (espeak-ng audio -> Silero VAD -> Whisper tiny.en), speech out is real
(piper); the agent's model is the scripted backend, which decides from what the recogniser
heard. Everything runs on the virtual clock with the engines' real compute held and charged
as measured, so the assertions are about order and bounds, never about wall time.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from specagent.agent import Policy
from specagent.agent.prompt import SMALL_TALK_RULE
from specagent.clock import VirtualClock
from specagent.envs.assistant import AssistantWorld, assistant_toolset, tool_latency
from specagent.events import Brief, UserSpeech
from specagent.models import ScriptedBackend
from specagent.protocol import ChatMessage
from specagent.tools import Effect, Toolset, tool
from specagent.voice import AudioStream, VoiceAgent, VoiceConfig, VoiceEngines, read_wav
from specagent.voice.compute import EngineCosts
from specagent.voice.events import (
    AgentSpoke,
    BargeIn,
    SpeechOut,
    SubAgentCancelled,
    SubAgentReported,
    SubAgentStarted,
    VoiceEnded,
    VoiceStarted,
)
from specagent.voice.vad import WINDOW, SileroVad

LONG_ANSWER = (
    "Tomorrow in Paris will be sunny, with a high of twenty one degrees. "
    "The morning starts cool, so bring a light jacket. "
    "By the afternoon it will be warm enough for a walk along the river. "
    "In the evening the sky stays clear and the wind is calm. "
    "It is a good day for a picnic in one of the parks. "
    "Museums will be busy, so book your tickets early. "
    "Have a lovely time in Paris."
)


def espeak(path: Path, text: str) -> Path:
    if shutil.which("espeak-ng") is None:
        raise RuntimeError(
            "espeak-ng is needed to synthesise test speech: apt-get install espeak-ng"
        )
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "165", "-w", str(path), text], check=True)
    return path


@pytest.fixture(scope="module")
def wavs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("voice")
    return {
        "weather": espeak(d / "weather.wav", "What is the weather in Paris tomorrow?"),
        "london": espeak(d / "london.wav", "Stop. What about London?"),
        "flights": espeak(d / "flights.wav", "Find flights from New York to Denver on Friday."),
    }


@pytest.fixture(scope="module")
def engines() -> VoiceEngines:
    return VoiceEngines.load()


def user_text(messages: Sequence[ChatMessage]) -> str:
    return " ".join(m.content for m in messages if m.role == "user").lower()


def events(result, kind):  # type: ignore[no-untyped-def]
    return [e for e in result.ledger if isinstance(e, kind)]


# -- the engines ------------------------------------------------------------------------------


def test_streaming_vad_matches_the_whole_file_pass(wavs: dict[str, Path]) -> None:
    from faster_whisper.vad import get_vad_model

    audio = read_wav(wavs["weather"]).resampled(16000)
    n = len(audio.samples) // WINDOW * WINDOW
    batch = np.asarray(get_vad_model()(audio.samples[:n])).reshape(-1)
    vad = SileroVad()
    streamed = [vad.probability(audio.samples[i : i + WINDOW]) for i in range(0, n, WINDOW)]
    assert np.allclose(streamed, batch, atol=1e-4)
    assert max(streamed) > 0.9 and min(streamed) < 0.1


def test_whisper_and_piper(engines: VoiceEngines, wavs: dict[str, Path]) -> None:
    audio = read_wav(wavs["weather"]).resampled(16000)
    text = engines.asr.transcribe(audio.samples).lower()
    assert "weather" in text and "paris" in text
    speech = engines.tts.synthesize("It will be sunny in Paris.")
    assert speech.rate == 22050 and 0.8 < speech.duration_s < 4.0
    assert np.abs(speech.samples).max() > 0.1


# -- transcription drives the agent -----------------------------------------------------------


def weather_agent(messages: Sequence[ChatMessage]) -> str:
    last = messages[-1].content
    if "<tool_result" in last:
        forecast = re.search(r'"forecast": "([^"]+)"', last)
        return f"<answer>Tomorrow Paris will be {forecast.group(1) if forecast else '?'}.</answer>"
    if "final_query_update" in last and "paris" in user_text(messages):
        return (
            '<tool_call id="1">{"name": "get_weather", '
            '"arguments": {"city": "Paris", "date": "tomorrow"}}</tool_call>'
        )
    return "<pause/>"


@pytest.mark.parametrize("preempt", [False, True])
def test_transcription_drives_the_agent(
    engines: VoiceEngines, wavs: dict[str, Path], preempt: bool
) -> None:
    clock = VirtualClock()
    backend = ScriptedBackend(clock, weather_agent)
    agent = VoiceAgent(
        backend,
        assistant_toolset(AssistantWorld()),
        clock,
        Policy.ASYNC,
        engines,
        config=VoiceConfig(preempt=preempt),
        latency=tool_latency(0),
        # With a preemptive reply, charge Whisper a fixed time so that its pass is judged
        # within the pause however busy the machine is.
        costs=EngineCosts(asr_pass_s=0.3, tts_piece_s=0.05) if preempt else None,
    )
    assert SMALL_TALK_RULE in agent.prompt  # a voice user also chats
    stream = AudioStream(read_wav(wavs["weather"]))
    result = clock.run(agent.run(stream))

    assert result.ended == "finished" and len(result.turns) == 1
    turn = result.turns[0]
    assert turn.answer == "Tomorrow Paris will be sunny."
    assert [(c.name, c.arguments["city"]) for c in turn.tool_calls] == [("get_weather", "Paris")]
    heard = " ".join(e.text for e in events(result, UserSpeech)).lower()
    assert "paris" in heard and "weather" in heard
    assert result.listener.passes >= 2  # partial passes plus the final (or tentative) one
    # Voice activity brackets the speech, and the reply is spoken after it, in full.
    seg = result.segments[0]
    started, ended = events(result, VoiceStarted), events(result, VoiceEnded)
    assert len(started) == len(ended) == 1
    assert abs(started[0].speech_t - (result.stream_t0 + seg.speech_start_s)) < 0.25
    assert abs(ended[0].speech_t - (result.stream_t0 + seg.speech_end_s)) < 0.25
    spoke = events(result, AgentSpoke)
    assert [(s.text, s.interrupted) for s in spoke] == [(turn.answer, False)]
    timing = result.timings()[0]
    assert timing.latency_s is not None and timing.latency_s > 0
    if not preempt:
        assert (
            timing.vad_end_t
            <= timing.final_heard_t
            <= timing.answer_started_t
            <= timing.first_audio_t
        )
    else:  # the reply started on the words heard at the pause, before the VAD confirmed
        # the end of the turn; it plays only after that.
        assert result.preemption.confirmed == 1 and result.preemption.discarded == 0
        assert timing.final_heard_t <= timing.vad_end_t <= timing.first_audio_t
        assert timing.answer_started_t <= timing.first_audio_t
    # The reply track is silent until the first audio, then holds speech.
    rate = result.reply.rate
    first = round((timing.first_audio_t - result.stream_t0) * rate)
    assert np.abs(result.reply.samples[:first]).max() == 0.0
    assert np.abs(result.reply.samples[first : first + rate]).max() > 0.1


# -- barge-in ---------------------------------------------------------------------------------


def chatty_agent(messages: Sequence[ChatMessage]) -> str:
    last = messages[-1].content
    if "final_query_update" not in last:
        return "<pause/>"
    if "london" in last.lower():
        return "<answer>London will have light rain.</answer>"
    return f"<answer>{LONG_ANSWER}</answer>"


def test_barge_in_stops_speech_within_one_chunk_and_the_agent_carries_on(
    engines: VoiceEngines, wavs: dict[str, Path]
) -> None:
    clock = VirtualClock()
    backend = ScriptedBackend(clock, chatty_agent)
    config = VoiceConfig(playback_chunk_s=0.04)
    agent = VoiceAgent(backend, Toolset([]), clock, Policy.SYNC, engines, config=config)
    # The long answer plays for ~20 s from a few seconds in: speak over it at 14 s.
    stream = AudioStream(
        read_wav(wavs["weather"]), inserts=[(14.0, read_wav(wavs["london"]), "barge-in")]
    )
    result = clock.run(agent.run(stream))

    barge = events(result, BargeIn)
    assert len(barge) == 1
    spoke = events(result, AgentSpoke)
    cut, rest = spoke[0], spoke[1:]
    assert cut.interrupted and cut.answer_id == 1
    # Stopped within one audio chunk of the VAD hearing the user.
    assert 0.0 <= cut.audio_end_t - barge[0].t <= agent.config.playback_chunk_s + 1e-9
    played_after = [t for t, _ in agent._speaker.track if barge[0].t < t < cut.audio_end_t + 5.0]
    assert all(t >= cut.audio_end_t - 1e-9 for t in played_after)  # nothing more of answer 1
    # The user was heard starting to speak promptly (VAD: two windows plus its own lag).
    onset = result.stream_t0 + result.segments[1].speech_start_s
    assert 0.0 < barge[0].t - onset < 0.3
    # What was heard is a true prefix of the answer, and the model is told so.
    words = LONG_ANSWER.split()
    heard = cut.text.split()
    assert 0 < len(heard) < len(words) and heard == words[: len(heard)]
    notes = [e for e in result.conversation if isinstance(e, Brief)]
    assert len(notes) == 1 and cut.text in notes[0].text
    # The agent carries on: the new utterance is answered and spoken in full.
    assert [t.answer for t in result.turns][-1] == "London will have light rain."
    assert rest and rest[-1].text == "London will have light rain." and not rest[-1].interrupted
    second = result.timings()[1]
    assert second.first_audio_t is not None and second.first_audio_t > cut.audio_end_t
    # The reply track is silent from the cut until the next answer plays.
    rate = result.reply.rate
    a = round((cut.audio_end_t - result.stream_t0) * rate) + 1
    b = round((second.first_audio_t - result.stream_t0) * rate) - 1
    assert b > a and np.abs(result.reply.samples[a:b]).max() == 0.0


# -- fork and spawn ---------------------------------------------------------------------------


def delegating_agent(mode: str):  # type: ignore[no-untyped-def]
    def respond(messages: Sequence[ChatMessage]) -> str:
        last = messages[-1].content
        if "<tool_result" in last:
            return "<answer>I have asked a helper to look for flights. Meanwhile, anything else?</answer>"
        if "final_query_update" in last and "flights" in user_text(messages):
            return (
                '<tool_call id="1">{"name": "start_task", "arguments": {"task": "find the cheapest '
                f'flight from New York to Denver on Friday", "mode": "{mode}"}}}}</tool_call>'
            )
        return "<pause/>"

    return respond


def helper(messages: Sequence[ChatMessage]) -> str:
    last = messages[-1].content
    if "<tool_result" in last:
        price = re.search(r'"price_usd": (\d+)', last)
        return f"<answer>The cheapest flight costs {price.group(1) if price else '?'} dollars.</answer>"
    return (
        '<tool_call id="2">{"name": "search_flights", "arguments": {"origin": "New York", '
        '"destination": "Denver", "date": "Friday"}}</tool_call>'
    )


@pytest.mark.parametrize("mode", ["fork", "spawn"])
def test_sub_agent_reports_back_by_event_while_the_agent_talks(
    engines: VoiceEngines, wavs: dict[str, Path], mode: str
) -> None:
    clock = VirtualClock()
    main = ScriptedBackend(clock, delegating_agent(mode))
    sub = ScriptedBackend(clock, helper)
    agent = VoiceAgent(
        main,
        assistant_toolset(AssistantWorld()),
        clock,
        Policy.SYNC,
        engines,
        config=VoiceConfig(sub_agents=True),
        latency=tool_latency(0),
        sub_backend=sub,
    )
    result = clock.run(agent.run(AudioStream(read_wav(wavs["flights"]))))

    assert result.ended == "finished"
    started, reported = events(result, SubAgentStarted), events(result, SubAgentReported)
    assert [(s.task_id, s.mode) for s in started] == [(1, mode)]
    assert len(reported) == 1 and reported[0].ended == "answered"
    assert re.fullmatch(r"The cheapest flight costs \d+ dollars\.", reported[0].text)
    # The main agent answered without waiting for the helper (its turn ended first) ...
    assert len(result.turns) == 1 and result.turns[0].answer_done_s < reported[0].t
    # ... the report is spoken once the main answer has been, not over it ...
    main_spoke = [s for s in events(result, AgentSpoke) if s.answer_id == 1]
    report_out = [s for s in events(result, SpeechOut) if s.answer_id == 2]
    assert main_spoke and not main_spoke[0].interrupted
    assert report_out and report_out[0].t >= main_spoke[0].t
    assert any(s.text.endswith(reported[0].text) for s in events(result, AgentSpoke)[1:])
    # ... and told to the model for later turns.
    assert any(isinstance(e, Brief) and reported[0].text in e.text for e in result.conversation)
    # Fork: the helper saw the conversation; spawn: only its brief and its task.
    helper_context = user_text(sub.contexts[0])
    assert "denver" in helper_context
    assert ("find flights from new york" in helper_context) == (mode == "fork")


def test_every_peripheral_task_ends_with_the_session(
    engines: VoiceEngines, wavs: dict[str, Path]
) -> None:
    """A sub-agent that never finishes is cancelled when the conversation's time is up;
    no task or worker thread outlives run()."""

    @tool(effect=Effect.READ_ONLY, timeout_s=600.0)
    async def search_flights(origin: str, destination: str, date: str) -> dict:
        """Never answers."""
        await asyncio.Event().wait()
        return {}

    clock = VirtualClock()
    main = ScriptedBackend(clock, delegating_agent("spawn"))
    sub = ScriptedBackend(clock, helper)
    agent = VoiceAgent(
        main,
        Toolset([search_flights]),
        clock,
        Policy.SYNC,
        engines,
        config=VoiceConfig(sub_agents=True, tail_s=20.0),
        sub_backend=sub,
    )

    async def main_task():  # type: ignore[no-untyped-def]
        result = await agent.run(AudioStream(read_wav(wavs["flights"])))
        await asyncio.sleep(0)
        return result, asyncio.all_tasks() - {asyncio.current_task()}

    result, left = clock.run(main_task())
    assert result.ended == "tail_timeout"
    assert [e.task_id for e in events(result, SubAgentCancelled)] == [1]
    assert not left
    assert not [t for t in threading.enumerate() if t.name.startswith(("asr", "tts"))]
    assert sub.open_streams == 0 and main.open_streams == 0


@pytest.mark.parametrize("policy", [Policy.ORACLE, Policy.VERIFIED])
def test_policies_that_need_the_end_of_the_request_in_advance_are_refused(policy) -> None:
    clock = VirtualClock()
    with pytest.raises(ValueError, match="in advance when the request ends"):
        VoiceAgent(ScriptedBackend(clock, ["<pause/>"]), Toolset([]), clock, policy, None)  # type: ignore[arg-type]
