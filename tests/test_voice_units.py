"""Voice layer logic without speech models: audio, splitting, endpointing, live speech."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from specagent.agent import Policy, Session
from specagent.clock import VirtualClock
from specagent.events import AnswerCompleted, AnswerDelta, UserSpeech
from specagent.models import ScriptedBackend
from specagent.tools import Toolset
from specagent.voice.asr import agreed_words
from specagent.voice.audio import Audio, read_wav, voiced_extent, write_wav
from specagent.voice.errors import AudioFormatError
from specagent.voice.stream import AudioStream, LiveSpeech
from specagent.voice.tts import SentenceSplitter
from specagent.voice.vad import EndpointConfig, Endpointer, VadChange

RATE = 16000


def tone(seconds: float, rate: int = RATE, amp: float = 0.5) -> Audio:
    t = np.arange(round(seconds * rate)) / rate
    return Audio((amp * np.sin(2 * np.pi * 220 * t)).astype(np.float32), rate)


# -- audio ------------------------------------------------------------------------------------


def test_wav_round_trip_and_resample(tmp_path: Path) -> None:
    audio = tone(0.5, 22050)
    write_wav(tmp_path / "a.wav", audio)
    back = read_wav(tmp_path / "a.wav")
    assert back.rate == 22050 and len(back.samples) == len(audio.samples)
    assert np.max(np.abs(back.samples - audio.samples)) < 1e-3
    down = back.resampled(16000)
    assert down.rate == 16000 and abs(down.duration_s - 0.5) < 1e-3


def test_stereo_is_written_and_averaged_on_read(tmp_path: Path) -> None:
    write_wav(tmp_path / "s.wav", [tone(0.1), Audio.silence(0.2, RATE)])
    back = read_wav(tmp_path / "s.wav")
    assert abs(back.duration_s - 0.2) < 1e-3
    assert np.max(np.abs(back.samples[:1000])) == pytest.approx(0.25, abs=0.01)


def test_bad_audio_is_a_typed_error(tmp_path: Path) -> None:
    with pytest.raises(AudioFormatError, match="no such audio file"):
        read_wav(tmp_path / "missing.wav")
    (tmp_path / "junk.wav").write_bytes(b"not a wav at all")
    with pytest.raises(AudioFormatError, match="not a PCM WAV"):
        read_wav(tmp_path / "junk.wav")
    with pytest.raises(AudioFormatError, match="mono"):
        Audio(np.zeros((2, 10), np.float32), RATE)


def test_voiced_extent_finds_the_sound() -> None:
    audio = Audio.silence(0.3, RATE).mixed(tone(0.7), 0.3).mixed(Audio.silence(0.5, RATE), 1.0)
    start, end = voiced_extent(audio)
    assert start == pytest.approx(0.3, abs=0.011) and end == pytest.approx(1.0, abs=0.011)


def test_stream_segments_and_frames() -> None:
    stream = AudioStream(tone(1.0), inserts=[(2.0, tone(0.5), "second")], lead_s=0.3, tail_s=0.5)
    assert [s.label for s in stream.segments] == ["request", "second"]
    assert stream.segments[0].speech_end_s == pytest.approx(1.3, abs=0.011)
    assert stream.segments[1].speech_start_s == pytest.approx(2.0, abs=0.011)
    clock = VirtualClock()

    async def collect() -> list[float]:
        return [frame.t async for frame in stream.frames(clock)]

    times = clock.run(collect())
    assert times[0] == pytest.approx(0.032) and np.allclose(np.diff(times), 0.032)
    assert times[-1] == pytest.approx(stream.duration_s)


# -- text -------------------------------------------------------------------------------------


def test_splitter_cuts_sentences_and_long_clauses_as_they_complete() -> None:
    splitter = SentenceSplitter(clause_words=3)
    pieces: list[str] = []
    for token in [
        "It",
        "is",
        "sunny.",
        "In",
        "Paris",
        "tomorrow,",
        "expect",
        "twenty",
        "one",
        "degrees,",
        "light",
        "wind",
    ]:
        pieces += splitter.push(token + " ")
    assert pieces == ["It is sunny.", "In Paris tomorrow,", "expect twenty one degrees,"]
    assert SentenceSplitter(clause_words=4).push("In Paris tomorrow, expect ") == []
    assert splitter.flush() == "light wind"
    assert splitter.flush() is None
    assert SentenceSplitter().push("Pi is 3.14 and more") == []  # no cut inside a number


def test_agreed_words_ignores_case_and_punctuation() -> None:
    assert agreed_words(["What", "is", "the"], ["what", "is", "the,", "weather"]) == [
        "what",
        "is",
        "the,",
    ]
    assert agreed_words(["book", "a"], ["look", "a"]) == []


# -- endpointing ------------------------------------------------------------------------------


def run_endpointer(probs: list[float], config: EndpointConfig) -> list[tuple[VadChange, float]]:
    ep = Endpointer(config)
    out = []
    for i, p in enumerate(probs):
        out += [(s.change, round(s.at_s, 3)) for s in ep.feed(p, (i + 1) * 0.032)]
    return out


def test_endpointer_start_pause_resume_end() -> None:
    cfg = EndpointConfig(min_speech_s=0.064, tentative_silence_s=0.096, end_silence_s=0.192)
    probs = [0.0] * 3 + [0.9] * 10 + [0.1] * 4 + [0.9] * 5 + [0.1] * 7
    signals = run_endpointer(probs, cfg)
    assert [c for c, _ in signals] == [
        VadChange.STARTED,
        VadChange.PAUSED,
        VadChange.RESUMED,
        VadChange.PAUSED,
        VadChange.ENDED,
    ]
    assert signals[0][1] == pytest.approx(3 * 0.032)  # where speech began
    assert signals[-1][1] == pytest.approx(22 * 0.032)  # the last speech window's end


def test_endpointer_ignores_a_click() -> None:
    cfg = EndpointConfig(min_speech_s=0.064)
    assert run_endpointer([0.0, 0.9, 0.0, 0.0, 0.9, 0.1], cfg) == []


def test_endpoint_config_is_checked() -> None:
    with pytest.raises(ValueError):
        EndpointConfig(tentative_silence_s=0.6, end_silence_s=0.5)
    with pytest.raises(ValueError):
        EndpointConfig(threshold=0.3, neg_threshold=0.5)


# -- a session reading live speech ------------------------------------------------------------


def answer_when_final(messages) -> str:  # type: ignore[no-untyped-def]
    if "final_query_update" in messages[-1].content:
        return "<answer>Sunny all day. Take a hat, and some water.</answer>"
    return "<pause/>"


@pytest.mark.parametrize("policy", [Policy.SYNC, Policy.ASYNC, Policy.SPECULATIVE])
def test_session_reads_a_live_source_and_streams_its_answer(policy: Policy) -> None:
    clock = VirtualClock()
    backend = ScriptedBackend(clock, answer_when_final)
    deltas: list[AnswerDelta] = []
    session = Session(
        backend,
        Toolset([]),
        clock,
        policy,
        observer=lambda e: deltas.append(e) if isinstance(e, AnswerDelta) else None,
    )
    source = LiveSpeech()

    async def speak() -> None:
        for t, text, final in [(0.4, "what is the", False), (0.8, "weather", True)]:
            await clock.sleep_until(t)
            source.put(UserSpeech(t=clock.now(), text=text, final=final))

    async def main():  # type: ignore[no-untyped-def]
        async with asyncio.TaskGroup() as group:
            group.create_task(speak())
            result = await session.run(source)
        return result

    result = clock.run(main())
    assert result.ended == "answered"
    assert result.last_word_s == pytest.approx(0.8)
    assert "".join(d.text for d in deltas).strip() == result.answer
    assert all(d.t <= result.answer_done_s for d in deltas)
    heard = [e for e in result.ledger if isinstance(e, UserSpeech)]
    if policy is Policy.SYNC:  # sync hears the utterance whole, at its final update
        assert [(e.text, e.final) for e in heard] == [("what is the weather", True)]
    else:
        assert [(e.text, e.final) for e in heard] == [("what is the", False), ("weather", True)]
    assert [e for e in result.ledger if isinstance(e, AnswerCompleted)]


def test_answer_waits_for_the_next_final_when_the_user_speaks_again() -> None:
    """Live speech: a partial after a final reopens the turn; the answer waits."""
    clock = VirtualClock()
    backend = ScriptedBackend(clock, answer_when_final, ttft_s=0.05)
    session = Session(backend, Toolset([]), clock, Policy.ASYNC)
    source = LiveSpeech()

    async def speak() -> None:
        source.put(UserSpeech(t=0.0, text="hello", final=True))
        source.put(UserSpeech(t=0.0, text="and also", final=False))
        await clock.sleep(1.0)
        source.put(UserSpeech(t=clock.now(), text="the weather", final=True))

    async def main():  # type: ignore[no-untyped-def]
        async with asyncio.TaskGroup() as group:
            group.create_task(speak())
            return await session.run(source)

    result = clock.run(main())
    assert result.ended == "answered" and result.answer_done_s >= 1.0


def test_oracle_cannot_read_live_speech() -> None:
    clock = VirtualClock()
    session = Session(ScriptedBackend(clock, ["<pause/>"]), Toolset([]), clock, Policy.ORACLE)
    with pytest.raises(ValueError, match="oracle"):
        clock.run(session.run(LiveSpeech()))


def test_live_speech_close_and_leftovers() -> None:
    source = LiveSpeech()
    source.put(UserSpeech(t=0.0, text="a"))
    source.put(UserSpeech(t=0.0, text="b", final=True))
    source.close()

    async def read() -> list[str]:
        return [s.text async for s in source]

    assert VirtualClock().run(read()) == ["a", "b"]  # a closed source still drains
    other = LiveSpeech()
    other.put(UserSpeech(t=0.0, text="late", final=True))
    assert [s.text for s in other.leftovers()] == ["late"] and other.closed
    with pytest.raises(RuntimeError):
        other.put(UserSpeech(t=0.0, text="x"))


# -- the listener, with a stand-in recogniser -------------------------------------------------

WORDS = [
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
]


class LoudVad:
    """Speech wherever the audio is loud (stands in for Silero in logic tests)."""

    def reset(self) -> None:
        pass

    def probability(self, window: np.ndarray) -> float:
        return 0.9 if float(np.abs(window).max()) > 0.05 else 0.0


class CountingAsr:
    """'Recognises' one word per quarter second of audio, taking ``delay`` of real time."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.calls: list[int] = []

    def transcribe(self, samples: np.ndarray) -> str:
        import time

        time.sleep(self.delay)
        self.calls.append(len(samples))
        return " ".join(WORDS[: len(samples) // 4000])


@pytest.mark.parametrize("delay", [0.0, 0.1, 0.2, 0.3, 0.4])
def test_listener_passes_on_every_word_once(delay: float) -> None:
    from specagent.voice.compute import Worker
    from specagent.voice.events import VoiceEnded, VoiceStarted
    from specagent.voice.listener import Listener, ListenerConfig

    clock = VirtualClock()
    out: list[object] = []
    asr = CountingAsr(delay)
    config = ListenerConfig(
        endpoint=EndpointConfig(tentative_silence_s=0.096, end_silence_s=0.3),
        partial_every_s=0.3,
        min_partial_s=0.3,
        preroll_s=0.0,
    )
    worker = Worker(clock, "asr-test")
    listener = Listener(clock, LoudVad(), asr, worker, out.append, config)  # type: ignore[arg-type]
    stream = AudioStream(tone(2.0), lead_s=0.5, tail_s=1.5)
    try:
        clock.run(listener.run(stream.frames(clock)))
    finally:
        worker.close()
    speech = [e for e in out if isinstance(e, UserSpeech)]
    assert speech and speech[-1].final and not any(s.final for s in speech[:-1])
    heard = " ".join(s.text for s in speech if s.text).split()
    final_pass = asr.calls[-1] // 4000
    assert heard == WORDS[:final_pass] and final_pass >= 7
    if delay == 0.0:
        assert len(speech) > 2  # words were passed on while the user spoke
    kinds = [type(e) for e in out]
    assert kinds[0] is VoiceStarted and VoiceEnded in kinds
    assert kinds.index(VoiceEnded) < len(kinds) - 1  # the final comes after the end of turn


def test_whisper_prompt_names_the_tools_and_the_words_an_application_adds() -> None:
    from specagent.voice.asr import whisper_prompt

    tools = ["get_weather", "send_message"]
    assert whisper_prompt(tools, False) is None
    assert whisper_prompt(tools, True) == "Get weather. Send message."
    assert whisper_prompt(tools, "Denver, Dr. Okafor.") == (
        "Get weather. Send message. Denver, Dr. Okafor."
    )
    assert whisper_prompt([], True) is None
