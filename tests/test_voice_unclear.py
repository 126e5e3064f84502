"""Words heard too unsure to act on: the agent asks the user to repeat instead of acting.

Three levels. The decision itself (:class:`Transcript` from Whisper's segments, the
threshold), on made-up segments. The listener and the agent with stand-in engines (a VAD that
hears any loud sound, an ASR that returns a chosen confidence, a silent TTS), so the
streaming case (partial words heard clearly, the whole utterance not) is exact. And end to
end on real engines (espeak-ng audio -> Silero VAD -> Whisper tiny.en -> piper) with a
scripted model on the virtual clock: Finnish speech, which the English-only tiny.en writes as
made-up English with a low log-probability (checked first), gets the request to repeat and no
tool call; a clear English request still goes through.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from typer.testing import CliRunner

from specagent.agent import Policy
from specagent.clock import VirtualClock
from specagent.events import (
    Brief,
    SessionEnded,
    ToolCallCancelled,
    ToolCallCommitted,
    ToolCallIssued,
    ToolCallStarted,
    UserSpeech,
)
from specagent.models import ScriptedBackend
from specagent.protocol import ChatMessage
from specagent.tools import Effect, Toolset, tool
from specagent.voice import AudioStream, VoiceAgent, VoiceConfig, VoiceEngines, read_wav
from specagent.voice.agent import SESSION_OVER
from specagent.voice.asr import WHISPER_LOG_PROB_THRESHOLD, Transcript, hear, whisper_prompt
from specagent.voice.audio import Audio, write_wav
from specagent.voice.compute import EngineCosts, Worker
from specagent.voice.events import (
    PreemptiveStarted,
    SpeechOut,
    TurnEndGuess,
    VoiceEnded,
    VoiceUnclear,
)
from specagent.voice.listener import Listener, ListenerConfig
from specagent.voice.unclear import MODEL_NOTE, REPEAT_REQUEST
from specagent.voice.vad import EndpointConfig

RATE = 16000
COSTS = EngineCosts(asr_pass_s=0.2, tts_piece_s=0.05)


def events(result, kind):  # type: ignore[no-untyped-def]
    return [e for e in result.ledger if isinstance(e, kind)]


# -- the decision -----------------------------------------------------------------------------


def segment(text: str, tokens: int, avg_logprob: float, no_speech_prob: float) -> SimpleNamespace:
    return SimpleNamespace(
        text=text,
        tokens=list(range(tokens)),
        avg_logprob=avg_logprob,
        no_speech_prob=no_speech_prob,
    )


def test_confidence_is_the_token_weighted_mean_of_the_segments() -> None:
    heard = Transcript.from_segments(
        [segment(" Book a table", 3, -0.5, 0.1), segment(" for two.", 7, -1.5, 0.4)]
    )
    assert heard.text == "Book a table for two."
    # Whisper's avg_logprob divides by tokens + 1: (4 * -0.5 + 8 * -1.5) / 12
    assert heard.avg_logprob == pytest.approx(-14.0 / 12)
    assert heard.no_speech_prob == pytest.approx(0.4)
    assert Transcript.from_segments([]) == Transcript("", None, None)


def test_the_threshold_is_whispers_failed_decode_line() -> None:
    assert WHISPER_LOG_PROB_THRESHOLD == -1.0
    assert Transcript("x", -1.01, 0.2).below(WHISPER_LOG_PROB_THRESHOLD)
    assert not Transcript("x", -1.0, 0.2).below(WHISPER_LOG_PROB_THRESHOLD)
    assert not Transcript("x", -0.3, 0.9).below(WHISPER_LOG_PROB_THRESHOLD)
    assert not Transcript("x", -5.0, 0.9).below(None)  # the check is off
    assert not Transcript("", None, None).below(WHISPER_LOG_PROB_THRESHOLD)  # nothing to judge


class WordsOnlyAsr:
    def transcribe(self, samples: np.ndarray) -> str:
        return "hello there"


def test_an_engine_without_confidence_is_never_judged_unclear() -> None:
    heard = hear(WordsOnlyAsr(), np.zeros(RATE, np.float32))
    assert heard == Transcript("hello there", None, None)
    assert not heard.below(WHISPER_LOG_PROB_THRESHOLD)


# -- stand-in engines -------------------------------------------------------------------------


def tone(seconds: float, amp: float = 0.5) -> Audio:
    t = np.arange(round(seconds * RATE)) / RATE
    return Audio((amp * np.sin(2 * np.pi * 220 * t)).astype(np.float32), RATE)


class LoudVad:
    """Speech wherever the audio is loud."""

    def reset(self) -> None:
        pass

    def probability(self, window: np.ndarray) -> float:
        return 0.9 if float(np.abs(window).max()) > 0.05 else 0.0


class ChosenAsr:
    """Hears ``words``; sure of them (log-probability -0.2) on audio shorter than
    ``sure_until_s``, unsure (-1.6) on anything longer."""

    def __init__(self, words: str, sure_until_s: float = 0.0) -> None:
        self.words = words
        self.sure_until = round(sure_until_s * RATE)
        self.passes: list[Transcript] = []

    def hear(self, samples: np.ndarray, prompt: str | None = None) -> Transcript:
        logprob = -0.2 if len(samples) < self.sure_until else -1.6
        heard = Transcript(self.words, logprob, 0.3)
        self.passes.append(heard)
        return heard

    def transcribe(self, samples: np.ndarray, prompt: str | None = None) -> str:
        return self.hear(samples, prompt).text


class SilentTts:
    rate = 22050

    def synthesize(self, text: str) -> Audio:
        return Audio(np.zeros(round(0.05 * len(text.split()) * self.rate), np.float32), self.rate)


def listen(asr: ChosenAsr, unclear_below: float | None, partial_every_s: float = 0.0) -> list:
    clock = VirtualClock()
    out: list[object] = []
    config = ListenerConfig(
        endpoint=EndpointConfig(tentative_silence_s=0.096, end_silence_s=0.3),
        partial_every_s=partial_every_s,
        min_partial_s=0.3,
        preroll_s=0.0,
        unclear_below=unclear_below,
    )
    worker = Worker(clock, "asr-test")
    listener = Listener(clock, LoudVad(), asr, worker, out.append, config)  # type: ignore[arg-type]
    try:
        clock.run(listener.run(AudioStream(tone(1.5), lead_s=0.5, tail_s=1.0).frames(clock)))
    finally:
        worker.close()
    return out


def test_the_listener_sends_unsure_words_as_unclear_not_as_the_users_request() -> None:
    out = listen(ChosenAsr("send it now"), WHISPER_LOG_PROB_THRESHOLD)
    assert not [e for e in out if isinstance(e, UserSpeech)]
    [unclear] = [e for e in out if isinstance(e, VoiceUnclear)]
    assert unclear.text == "send it now" and unclear.avg_logprob == -1.6
    assert unclear.threshold == -1.0 and unclear.no_speech_prob == 0.3
    [guess] = [e for e in out if isinstance(e, TurnEndGuess)]
    assert guess.unclear
    ended = [e for e in out if isinstance(e, VoiceEnded)][0]
    assert unclear.t >= ended.t


def test_with_the_check_off_the_same_words_are_the_users_request() -> None:
    out = listen(ChosenAsr("send it now"), None)
    assert not [e for e in out if isinstance(e, VoiceUnclear)]
    finals = [e for e in out if isinstance(e, UserSpeech) and e.final]
    assert [f.text for f in finals] == ["send it now"]
    assert not [e for e in out if isinstance(e, TurnEndGuess)][0].unclear


def test_unsure_partial_passes_pass_no_words_on() -> None:
    asr = ChosenAsr("one two three four five")  # unsure of every pass
    out = listen(asr, WHISPER_LOG_PROB_THRESHOLD, partial_every_s=0.3)
    assert sum(1 for _ in asr.passes) >= 3  # partial passes ran
    assert not [e for e in out if isinstance(e, UserSpeech)]
    assert len([e for e in out if isinstance(e, VoiceUnclear)]) == 1


class Tools:
    """A read-only lookup and a message sender that record when their code really ran."""

    def __init__(self, clock: VirtualClock) -> None:
        self.looked: list[float] = []
        self.sent: list[float] = []

        @tool(effect=Effect.READ_ONLY)
        async def check_inbox() -> dict:
            """List the newest messages."""
            self.looked.append(clock.now())
            return {"messages": 2}

        @tool(effect=Effect.IRREVERSIBLE, timeout_s=30.0)
        async def send_reply() -> dict:
            """Reply to the newest message."""
            self.sent.append(clock.now())
            return {"status": "sent"}

        self.toolset = Toolset([check_inbox, send_reply])


def eager(messages: Sequence[ChatMessage]) -> str:
    """Acts on anything it hears: looks at the inbox on the first words, then replies."""
    last = messages[-1].content
    if "<tool_result" in last and '"sent"' in last:
        return "<answer>Done, I replied.</answer>"
    if "<tool_result" in last:
        return '<tool_call id="2">{"name": "send_reply", "arguments": {}}</tool_call>'
    looked = any("check_inbox" in m.content for m in messages if m.role == "assistant")
    if "query_update" in last and not looked:
        return '<tool_call id="1">{"name": "check_inbox", "arguments": {}}</tool_call>'
    return "<pause/>"


def speculate_on_unsure_words(clock: VirtualClock, backend: ScriptedBackend, toolset: Toolset):
    """A `speculative` voice agent hearing 1.5 s of speech whose partial passes (under 1.2 s
    of audio) are sure and whose whole utterance is not."""
    asr = ChosenAsr("reply to the newest message", sure_until_s=1.2)
    engines = VoiceEngines(asr=asr, tts=SilentTts(), vad=LoudVad())  # type: ignore[arg-type]
    config = VoiceConfig(
        endpoint=EndpointConfig(tentative_silence_s=0.096, end_silence_s=0.3),
        partial_every_s=0.3,
    )
    agent = VoiceAgent(
        backend, toolset, clock, Policy.SPECULATIVE, engines, config=config, costs=COSTS
    )
    return clock.run(agent.run(AudioStream(tone(1.5), lead_s=0.5, tail_s=1.5)))


def test_a_streaming_turn_on_clear_partial_words_is_dropped_when_the_whole_is_unclear() -> None:
    """Partial passes (under 1.2 s of audio) are sure, so the speculative turn starts on
    their words and looks at the inbox; the whole utterance is not, so the turn is dropped
    before its reply is sent, taken out of the conversation, and the user is asked again."""
    clock = VirtualClock()
    tools = Tools(clock)
    result = speculate_on_unsure_words(clock, ScriptedBackend(clock, eager), tools.toolset)

    partials = [e for e in result.ledger if isinstance(e, UserSpeech) and not e.final]
    assert partials  # the turn heard clear partial words ...
    assert tools.looked  # ... and acted on them with a read-only call
    [unclear] = events(result, VoiceUnclear)
    assert tools.sent == []  # the state-changing reply never ran
    assert not [e for e in result.ledger if isinstance(e, UserSpeech) and e.final]
    assert result.turns == []  # the dropped turn is no result
    # The conversation holds only the note, not the dropped turn's words or calls.
    assert not [e for e in result.conversation if isinstance(e, (UserSpeech, ToolCallIssued))]
    assert [e.text for e in result.conversation if isinstance(e, Brief)] == [MODEL_NOTE]
    spoken = [e for e in events(result, SpeechOut)]
    assert spoken and all(e.t >= unclear.t for e in spoken)
    assert [s.text for s in result.spoken()] == [REPEAT_REQUEST]
    assert result.summary_counts()["unclear"] == 1
    assert result.false_starts() == []


def reservation_tool(reserved: list[str]):  # type: ignore[no-untyped-def]
    """A reversible ``reserve`` that appends to ``reserved``; its undo removes the place."""

    async def unreserve(arguments: dict, result: object) -> None:
        reserved.remove(arguments["place"])

    @tool(effect=Effect.REVERSIBLE, compensate=unreserve)
    async def reserve(place: str) -> dict:
        """Reserve a table."""
        reserved.append(place)
        return {"reserved": place}

    return reserve


def test_a_reservation_made_early_by_a_dropped_turn_is_undone() -> None:
    """`speculative` runs a reversible call on partial words, its undo registered. When the
    whole utterance turns out unclear the turn is dropped; cancelling it alone would leave
    the table reserved on words nobody confirmed, so the agent settles it: undone."""
    clock = VirtualClock()
    reserved: list[str] = []
    reserve = reservation_tool(reserved)

    def reserving(messages: Sequence[ChatMessage]) -> str:
        made = any("reserve" in m.content for m in messages if m.role == "assistant")
        if "query_update" in messages[-1].content and not made:
            return '<tool_call id="1">{"name": "reserve", "arguments": {"place": "newest"}}</tool_call>'
        return "<pause/>"

    backend = ScriptedBackend(clock, reserving)
    result = speculate_on_unsure_words(clock, backend, Toolset([reserve]))

    assert events(result, VoiceUnclear)
    assert [e for e in result.ledger if isinstance(e, ToolCallStarted)]  # it ran early ...
    assert reserved == []  # ... and was undone when its turn was dropped


# -- real engines -----------------------------------------------------------------------------


def espeak(path: Path, text: str, voice: str) -> Path:
    if shutil.which("espeak-ng") is None:
        raise RuntimeError(
            "espeak-ng is needed to synthesise test speech: apt-get install espeak-ng"
        )
    subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", str(path), text], check=True)
    return path


@pytest.fixture(scope="module")
def wavs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("unclear")
    return {
        # Finnish: "Good morning, could you book a table for two for this evening?"
        "finnish": espeak(
            d / "finnish.wav",
            "Hyvää huomenta, voisitko varata pöydän kahdelle hengelle tänä iltana?",
            "fi",
        ),
        "inbox": espeak(
            d / "inbox.wav", "Please check my inbox and reply to the newest one.", "en-us"
        ),
    }


@pytest.fixture(scope="module")
def engines() -> VoiceEngines:
    return VoiceEngines.load()


def as_heard(audio: Audio) -> np.ndarray:
    """The utterance as the listener hands it over: 0.25 s of silence before, 0.5 s after."""
    padded = Audio.silence(0.25, RATE).mixed(audio.resampled(RATE), 0.25)
    return padded.mixed(Audio.silence(0.5, RATE), padded.duration_s).samples


def run_agent(
    engines: VoiceEngines, stream: AudioStream, policy: Policy
) -> tuple[object, Tools, ScriptedBackend]:
    clock = VirtualClock()
    tools = Tools(clock)
    backend = ScriptedBackend(clock, eager)
    agent = VoiceAgent(backend, tools.toolset, clock, policy, engines, costs=COSTS)
    return clock.run(agent.run(stream)), tools, backend


def test_finnish_speech_is_heard_with_low_confidence(
    engines: VoiceEngines, wavs: dict[str, Path]
) -> None:
    prompt = whisper_prompt(["check_inbox", "send_reply"], True)
    heard = engines.asr.hear(as_heard(read_wav(wavs["finnish"])), prompt)
    assert heard.text  # Whisper wrote words ...
    assert heard.below(WHISPER_LOG_PROB_THRESHOLD), heard  # ... it was unsure of
    clear = engines.asr.hear(as_heard(read_wav(wavs["inbox"])), prompt)
    assert "inbox" in clear.text.lower() and not clear.below(WHISPER_LOG_PROB_THRESHOLD), clear


@pytest.mark.parametrize("policy", [Policy.SYNC, Policy.SPECULATIVE])
def test_unclear_speech_gets_a_request_to_repeat_and_no_tool_call(
    engines: VoiceEngines, wavs: dict[str, Path], policy: Policy
) -> None:
    result, tools, backend = run_agent(engines, AudioStream(read_wav(wavs["finnish"])), policy)
    [unclear] = events(result, VoiceUnclear)  # type: ignore[arg-type]
    assert unclear.avg_logprob < -1.0 and unclear.text
    assert tools.looked == [] and tools.sent == []
    assert not events(result, ToolCallIssued)  # type: ignore[arg-type]
    assert backend.contexts == []  # the model was never asked to act on the words
    assert not events(result, PreemptiveStarted)  # type: ignore[arg-type]
    assert all(g.unclear for g in events(result, TurnEndGuess))  # type: ignore[arg-type]
    assert [s.text for s in result.spoken()] == [REPEAT_REQUEST]  # type: ignore[attr-defined]
    first_audio = events(result, SpeechOut)[0]  # type: ignore[arg-type]
    assert first_audio.t >= unclear.t >= events(result, VoiceEnded)[0].t  # type: ignore[arg-type]
    assert result.false_starts() == []  # type: ignore[attr-defined]


def test_a_clear_request_still_goes_through(engines: VoiceEngines, wavs: dict[str, Path]) -> None:
    result, tools, backend = run_agent(engines, AudioStream(read_wav(wavs["inbox"])), Policy.SYNC)
    assert not events(result, VoiceUnclear)  # type: ignore[arg-type]
    assert len(tools.looked) == 1 and len(tools.sent) == 1
    assert [s.text for s in result.spoken()] == ["Done, I replied."]  # type: ignore[attr-defined]


def test_after_an_unclear_utterance_the_repeated_request_is_answered(
    engines: VoiceEngines, wavs: dict[str, Path]
) -> None:
    """Finnish, then (after the request to repeat has played) the request in English."""
    stream = AudioStream(
        read_wav(wavs["finnish"]), inserts=[(12.0, read_wav(wavs["inbox"]), "again")]
    )
    result, tools, backend = run_agent(engines, stream, Policy.SYNC)
    [unclear] = events(result, VoiceUnclear)  # type: ignore[arg-type]
    spoken = [s.text for s in result.spoken()]  # type: ignore[attr-defined]
    assert spoken == [REPEAT_REQUEST, "Done, I replied."]
    assert len(tools.sent) == 1 and tools.sent[0] > 12.0
    # The model saw the note and the English request, never the Finnish transcript.
    seen = " ".join(m.content for m in backend.contexts[0])
    assert MODEL_NOTE in seen and "inbox" in seen.lower()
    assert unclear.text not in seen


def test_the_command_takes_a_threshold_or_off(tmp_path: Path) -> None:
    from specagent.voice.cli import _threshold, app

    assert _threshold("-1.0") == -1.0 and _threshold("off") is None
    write_wav(tmp_path / "t.wav", tone(0.5))
    wav = str(tmp_path / "t.wav")
    result = CliRunner().invoke(app, ["--in", wav, "--unclear-below", "unsure"])
    assert result.exit_code == 2
    assert "--unclear-below takes a log-probability" in result.output
    # A negative value is read as the option's value (the run then stops at the policy).
    result = CliRunner().invoke(app, ["--in", wav, "--unclear-below", "-2", "--policy", "oracle"])
    assert result.exit_code == 2 and "oracle policy" in result.output


def test_a_turn_still_running_when_the_voice_session_ends_is_cut_and_settled() -> None:
    """The input ended and the turn is still waiting on a tool when ``tail_s`` runs out: the
    agent stops, and the turn is cut, not abandoned. The hung lookup is cancelled and the turn
    closed in the ledger; the reservation the final words confirmed stays made, once."""
    clock = VirtualClock()
    reserved: list[str] = []
    reserve = reservation_tool(reserved)

    @tool(effect=Effect.READ_ONLY, timeout_s=600.0)
    async def opening_hours(place: str) -> dict:
        """Opening hours (this one never answers)."""
        await clock.sleep(3600.0)
        return {}

    def reserving(messages: Sequence[ChatMessage]) -> str:
        said = [m.content for m in messages if m.role == "assistant"]
        if not any("reserve" in s for s in said):
            return '<tool_call id="1">{"name": "reserve", "arguments": {"place": "newest"}}</tool_call>'
        if not any("opening_hours" in s for s in said):
            return (
                '<tool_call id="2">{"name": "opening_hours", "arguments": {"place": "newest"}}'
                "</tool_call>"
            )
        return "<pause/>"

    asr = ChosenAsr("reserve the newest place", sure_until_s=99.0)
    engines = VoiceEngines(asr=asr, tts=SilentTts(), vad=LoudVad())  # type: ignore[arg-type]
    config = VoiceConfig(
        endpoint=EndpointConfig(tentative_silence_s=0.096, end_silence_s=0.3),
        partial_every_s=0.3,
        tail_s=5.0,
    )
    agent = VoiceAgent(
        ScriptedBackend(clock, reserving),
        Toolset([reserve, opening_hours]),
        clock,
        Policy.SPECULATIVE,
        engines,
        config=config,
        costs=COSTS,
    )
    result = clock.run(agent.run(AudioStream(tone(1.5), lead_s=0.5, tail_s=1.5)))

    assert result.ended == "tail_timeout"
    cancelled = [e for e in result.ledger if isinstance(e, ToolCallCancelled)]
    assert [(e.call_id, e.reason) for e in cancelled] == [(2, SESSION_OVER)]
    assert [e.reason for e in result.ledger if isinstance(e, SessionEnded)] == [SESSION_OVER]
    assert [e.call_id for e in result.ledger if isinstance(e, ToolCallCommitted)] == [1]
    assert reserved == ["newest"]  # committed at the final words: kept, and made once
