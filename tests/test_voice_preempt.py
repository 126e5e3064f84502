"""Preemptive replies and the adaptive end of turn, on real speech engines and virtual time.

Speech in is real (espeak-ng audio with a scripted pause -> Silero VAD -> Whisper tiny.en),
speech out is real (piper); the model is the scripted backend. The speech engines compute
for real but are charged a fixed, modelled time on the virtual clock (``EngineCosts``), so
when a pass finishes does not depend on how busy the machine is: the assertions are about
order and exact bounds, never wall time.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from specagent.agent import Policy
from specagent.clock import VirtualClock
from specagent.events import ToolCallCommitted, UserSpeech
from specagent.models import ScriptedBackend
from specagent.protocol import ChatMessage
from specagent.tools import Effect, Tool, Toolset, tool
from specagent.voice import AudioStream, VoiceAgent, VoiceConfig, VoiceEngines, read_wav
from specagent.voice.audio import Audio
from specagent.voice.compute import EngineCosts, Worker
from specagent.voice.events import (
    AgentSpoke,
    BargeIn,
    PreemptiveConfirmed,
    PreemptiveDiscarded,
    PreemptiveStarted,
    SpeechOut,
    TurnEndGuess,
    VoiceEnded,
    VoiceResumed,
)
from specagent.voice.preempt import gated_toolset
from specagent.voice.speaker import Speaker
from specagent.voice.tts import SentenceSplitter
from specagent.voice.turn_end import TurnEndConfig, judge_turn_end
from specagent.voice.vad import EndpointConfig, Endpointer, VadChange

COSTS = EngineCosts(asr_pass_s=0.2, tts_piece_s=0.05)
# A 0.7 s pause after a sentence that looks complete. With the end-of-turn silence for a
# complete-looking sentence at 0.9 s the pause does not end the turn, but it is long enough
# for the tentative pass (0.16 s of silence + 0.2 s) to be judged and a reply to start.
PATIENT = TurnEndConfig(complete_silence_s=0.9, incomplete_silence_s=1.2)


def espeak(path: Path, text: str) -> Path:
    if shutil.which("espeak-ng") is None:
        raise RuntimeError(
            "espeak-ng is needed to synthesise test speech: apt-get install espeak-ng"
        )
    subprocess.run(
        ["espeak-ng", "-m", "-v", "en-us", "-s", "150", "-w", str(path), text], check=True
    )
    return path


@pytest.fixture(scope="module")
def wavs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("preempt")
    return {
        "goes_on": espeak(
            d / "goes_on.wav",
            'I need to send a message to Sam. <break time="700ms"/> Tell him I am running late.',
        ),
        "short_pause": espeak(
            d / "short_pause.wav",
            'I need to send a message to Sam. <break time="350ms"/> Tell him I am running late.',
        ),
        "unfinished": espeak(
            d / "unfinished.wav",
            'Book a table for <break time="900ms"/> two people at eight tonight.',
        ),
        "weather": espeak(d / "weather.wav", "What is the weather in Paris tomorrow?"),
        "london": espeak(d / "london.wav", "Stop. What about London?"),
    }


@pytest.fixture(scope="module")
def engines() -> VoiceEngines:
    return VoiceEngines.load()


def events(result, kind):  # type: ignore[no-untyped-def]
    return [e for e in result.ledger if isinstance(e, kind)]


def heard_by_model(messages: Sequence[ChatMessage]) -> str:
    return " ".join(m.content for m in messages if m.role == "user").lower()


class Outbox:
    """A state-changing tool that records when its code really ran."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self.sent: list[tuple[float, str, str]] = []

        @tool(effect=Effect.IRREVERSIBLE, timeout_s=30.0)
        async def send_message(to: str, text: str) -> dict:
            """Send a text message to a contact."""
            self.sent.append((clock.now(), to, text))
            return {"status": "sent"}

        self.tool: Tool = send_message


def messenger(messages: Sequence[ChatMessage]) -> str:
    """Sends Sam whatever the user asked to say, as soon as it has heard a final update."""
    last = messages[-1].content
    if "<tool_result" in last:
        return "<answer>Done, I sent it.</answer>"
    if "final_query_update" not in last:
        return "<pause/>"
    said = re.search(r"tell him (.+?)[.?!]", heard_by_model(messages))
    text = said.group(1) if said else "hello"
    return (
        '<tool_call id="1">{"name": "send_message", '
        f'"arguments": {{"to": "Sam", "text": "{text}"}}}}</tool_call>'
    )


@pytest.mark.parametrize("policy", [Policy.SYNC, Policy.ASYNC, Policy.SPECULATIVE])
def test_a_preemptive_reply_is_discarded_when_the_user_goes_on(
    engines: VoiceEngines, wavs: dict[str, Path], policy: Policy
) -> None:
    clock = VirtualClock()
    outbox = Outbox(clock)
    agent = VoiceAgent(
        ScriptedBackend(clock, messenger),
        Toolset([outbox.tool]),
        clock,
        policy,
        engines,
        config=VoiceConfig(turn_end=PATIENT),
        costs=COSTS,
    )
    result = clock.run(agent.run(AudioStream(read_wav(wavs["goes_on"]))))

    assert result.ended == "finished" and len(result.turns) == 1
    guesses = events(result, TurnEndGuess)
    assert [g.complete for g in guesses] == [True, True]
    assert "sam" in guesses[0].text.lower() and "late" not in guesses[0].text.lower()
    started, discarded = events(result, PreemptiveStarted), events(result, PreemptiveDiscarded)
    confirmed = events(result, PreemptiveConfirmed)
    assert len(started) == 2 and len(confirmed) == 1
    assert [d.reason for d in discarded] == ["the user went on"]
    resumed = events(result, VoiceResumed)
    assert len(resumed) == 1 and discarded[0].t == resumed[0].t
    assert result.preemption.discarded == 1 and result.preemption.confirmed == 1
    # The discarded reply had decided to send "hello" (it heard no "say ..."); that call
    # never ran. The confirmed reply's call ran once, after the end of the turn.
    end = events(result, VoiceEnded)[-1]
    assert [(to, text) for _, to, text in outbox.sent] == [("Sam", "i'm running late")]
    assert outbox.sent[0][0] >= end.t
    # The conversation holds only the confirmed reply: one call, committed once.
    committed = [e for e in result.conversation if isinstance(e, ToolCallCommitted)]
    assert [e.call_id for e in committed] == [1]
    finals = [e for e in result.conversation if isinstance(e, UserSpeech) and e.final]
    assert len(finals) == 1 and "running late" in finals[0].text.lower()
    assert result.listener.claimed_finals == 1
    # Nothing was said while the user was speaking; the answer came after they stopped.
    assert result.false_starts() == []
    speech_end = result.stream_t0 + result.segments[0].speech_end_s
    assert all(e.t > speech_end for e in events(result, SpeechOut))
    assert [s.text for s in result.spoken()] == ["Done, I sent it."]


@pytest.mark.parametrize("policy", [Policy.SYNC, Policy.ASYNC])
@pytest.mark.parametrize("wav", ["short_pause", "unfinished"])
def test_the_agent_never_speaks_over_an_unfinished_turn(
    engines: VoiceEngines, wavs: dict[str, Path], policy: Policy, wav: str
) -> None:
    """Default settings. A pause shorter than the complete-sentence silence (0.35 s against
    0.5 s) after a whole sentence, or a long one (0.9 s) after words that need more ("Book
    a table for"): the turn does not end there, and the agent answers once, after the user
    has finished, the whole request."""

    def quick(messages: Sequence[ChatMessage]) -> str:
        if "final_query_update" in messages[-1].content:
            return "<answer>Sure.</answer>"
        return "<pause/>"

    clock = VirtualClock()
    agent = VoiceAgent(
        ScriptedBackend(clock, quick), Toolset([]), clock, policy, engines, costs=COSTS
    )
    result = clock.run(agent.run(AudioStream(read_wav(wavs[wav]))))
    assert result.false_starts() == []
    assert len(result.turns) == 1 and result.turns[0].answer == "Sure."
    assert len(events(result, VoiceEnded)) == 1
    if wav == "unfinished":
        assert not events(result, TurnEndGuess)[0].complete
    speech = [
        (result.stream_t0 + s.speech_start_s, result.stream_t0 + s.speech_end_s)
        for s in result.segments
    ]
    firsts: dict[int, SpeechOut] = {}
    for e in events(result, SpeechOut):
        firsts.setdefault(e.answer_id, e)
    assert firsts
    for e in firsts.values():
        assert not any(a < e.t < b for a, b in speech)


def test_a_confirmed_reply_plays_at_once_and_barge_in_still_stops_it_within_one_chunk(
    engines: VoiceEngines, wavs: dict[str, Path]
) -> None:
    long_answer = " ".join(["It will be sunny in Paris tomorrow, with a light breeze."] * 6)

    def chatty(messages: Sequence[ChatMessage]) -> str:
        last = messages[-1].content
        if "final_query_update" not in last:
            return "<pause/>"
        if "london" in last.lower():
            return "<answer>London will have light rain.</answer>"
        return f"<answer>{long_answer}</answer>"

    clock = VirtualClock()
    config = VoiceConfig(turn_end=PATIENT, playback_chunk_s=0.04)
    agent = VoiceAgent(
        ScriptedBackend(clock, chatty),
        Toolset([]),
        clock,
        Policy.SYNC,
        engines,
        config=config,
        costs=COSTS,
    )
    stream = AudioStream(
        read_wav(wavs["weather"]), inserts=[(9.0, read_wav(wavs["london"]), "barge-in")]
    )
    result = clock.run(agent.run(stream))

    confirmed = events(result, PreemptiveConfirmed)
    assert len(confirmed) >= 1
    first = events(result, SpeechOut)[0]
    # The reply was ready before the end of turn was confirmed, so it plays at that moment.
    assert first.t == pytest.approx(confirmed[0].t)
    assert confirmed[0].waited_s > 0
    barge = events(result, BargeIn)
    assert len(barge) == 1
    cut = events(result, AgentSpoke)[0]
    assert cut.interrupted and cut.answer_id == first.answer_id
    assert 0.0 <= cut.audio_end_t - barge[0].t <= config.playback_chunk_s + 1e-9
    assert result.turns[-1].answer == "London will have light rain."
    assert result.false_starts() == []


def test_a_gated_tool_runs_only_once_the_gate_opens() -> None:
    clock = VirtualClock()
    outbox = Outbox(clock)

    @tool(effect=Effect.READ_ONLY)
    async def lookup(city: str) -> str:
        """Read something."""
        return city

    gate = asyncio.Event()
    tools = gated_toolset(Toolset([outbox.tool, lookup]), gate)
    assert tools["lookup"] is lookup  # read-only tools are not gated
    assert tools["send_message"].effect is Effect.IRREVERSIBLE
    assert tools["send_message"].schema() == outbox.tool.schema()

    async def main() -> list[tuple[float, str, str]]:
        call = asyncio.create_task(tools["send_message"].call({"to": "Anna", "text": "hi"}))
        await clock.sleep(5.0)
        assert outbox.sent == [] and not call.done()
        gate.set()
        await call
        cancelled = asyncio.create_task(
            gated_toolset(Toolset([outbox.tool]), asyncio.Event())["send_message"].call(
                {"to": "Bo", "text": "x"}
            )
        )
        await clock.sleep(1.0)
        cancelled.cancel()
        await asyncio.gather(cancelled, return_exceptions=True)
        return outbox.sent

    assert clock.run(main()) == [(5.0, "Anna", "hi")]


# -- the parts, without speech models --------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "complete"),
    [
        ("What is the weather in Boston on Friday?", True),
        ("Thank you, that is all for now.", True),
        ("Book a table for.", False),
        ("Book a table for", False),
        ("I want to fly to Denver and...", False),
        ("Send it to Sam,", False),
        ("Um.", False),
        ("", False),
        ("Yes.", True),
    ],
)
def test_turn_end_rule(text: str, complete: bool) -> None:
    assert judge_turn_end(text).complete is complete


def test_end_after_sets_the_silence_of_the_current_pause_only() -> None:
    cfg = EndpointConfig(min_speech_s=0.064, tentative_silence_s=0.096, end_silence_s=0.5)
    ep = Endpointer(cfg)
    t = 0.0

    def feed(p: float, n: int) -> list[VadChange]:
        nonlocal t
        out = []
        for _ in range(n):
            t += 0.032
            out += [s.change for s in ep.feed(p, t)]
        return out

    assert feed(0.9, 5) == [VadChange.STARTED]
    ep.end_after(0.2)  # not paused: ignored
    assert feed(0.1, 3) == [VadChange.PAUSED]  # 96 ms of silence
    ep.end_after(0.2)
    assert feed(0.1, 3) == []  # 192 ms of silence: not yet
    assert feed(0.1, 1) == [VadChange.ENDED]  # 224 ms >= 0.2 s (the default would be 0.5 s)


def test_end_after_is_forgotten_when_the_user_resumes() -> None:
    cfg = EndpointConfig(min_speech_s=0.064, tentative_silence_s=0.096, end_silence_s=0.32)
    ep = Endpointer(cfg)
    changes = []
    probs = [0.9] * 5 + [0.1] * 3 + [-1] + [0.1] * 2 + [0.9] * 3 + [0.1] * 10
    for i, p in enumerate(probs):
        if p < 0:
            ep.end_after(2.0)  # a long pause was decided for this pause ...
            continue
        changes += [s.change for s in ep.feed(p, (i + 1) * 0.032)]
    # ... but after the user resumed, the next pause ends after the default 0.32 s.
    assert changes == [
        VadChange.STARTED,
        VadChange.PAUSED,
        VadChange.RESUMED,
        VadChange.PAUSED,
        VadChange.ENDED,
    ]


def test_first_piece_is_a_few_words() -> None:
    splitter = SentenceSplitter(clause_words=5, first_words=4)
    pieces: list[str] = []
    for token in "Thank you for your message. I am here to help, if you need me.".split():
        pieces += splitter.push(token + " ")
    assert pieces == ["Thank you for your", "message.", "I am here to help,", "if you need me."]
    splitter.clear()  # a new answer: its first piece is short again
    assert splitter.push("Sure, the weather is ") == ["Sure,"]
    assert SentenceSplitter(first_words=4).push("It is sunny ") == []


class ToneTts:
    """Stands in for piper in logic tests: 0.2 s of tone per piece."""

    rate = 16000

    def synthesize(self, text: str) -> Audio:
        return Audio(np.full(3200, 0.3, dtype=np.float32), self.rate)


def test_speaker_holds_releases_and_drops_answers() -> None:
    clock = VirtualClock()
    out: list[object] = []
    worker = Worker(clock, "tts-test", charge_s=0.01)
    speaker = Speaker(clock, ToneTts(), worker, out.append, chunk_s=0.04)  # type: ignore[arg-type]

    async def main() -> None:
        async with asyncio.TaskGroup() as group:
            task = group.create_task(speaker.run())
            speaker.hold(1)
            speaker.say(1, "held answer")
            speaker.end_answer(1)
            speaker.hold(2)
            speaker.say(2, "dropped answer")
            speaker.end_answer(2)
            await clock.sleep(1.0)
            assert not [e for e in out if isinstance(e, SpeechOut)]  # nothing played
            speaker.drop(2)
            speaker.release(1)
            await clock.sleep(1.0)
            task.cancel()

    try:
        clock.run(main())
    finally:
        worker.close()
    played = [(e.t, e.answer_id) for e in out if isinstance(e, SpeechOut)]
    assert played == [(1.0, 1)]  # answer 1 at its release, answer 2 never
    assert [(e.answer_id, e.text) for e in out if isinstance(e, AgentSpoke)] == [(1, "held answer")]
