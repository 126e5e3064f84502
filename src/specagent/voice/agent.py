"""The voice agent: a session's state machine with ears, a mouth and helpers.

One conversation, one task group, four peripherals around the agent's turns:

* the audio stream (a recording played in real time) feeding the :class:`Listener`
  (VAD + Whisper), which produces voice activity and user-speech events;
* the agent's turns: each user turn is a :class:`~specagent.agent.Session` on the shared
  conversation ledger (earlier turns are its history), reading the recognised speech live;
* the :class:`Speaker`, which synthesises the answer piece by piece while it is still being
  generated (``AnswerDelta`` events through a :class:`SentenceSplitter`) and plays it;
* the :class:`SubAgents` started by the ``start_task`` tool, reporting back by event.

Barge-in: when the VAD hears the user start speaking while the agent speaks or is writing its
answer, playback stops with the audio chunk in flight, the generation is interrupted, the
voice ledger records what the user actually heard (:class:`AgentSpoke`), and the model is
told so in its own ledger (a ``Brief``); the user's new words then drive the next turn.

Everything the conversation saw and did goes into one timestamped voice ledger (the
sessions' events and the voice events, in the order they happened). When the input ends the
agent finishes what it is doing (turn, playback, sub-agents) within ``tail_s``; then every
peripheral task is cancelled and awaited, so nothing outlives :meth:`VoiceAgent.run`, which
returns a :class:`~specagent.voice.results.VoiceResult`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from ..agent import AgentState, Policy, Session, SessionConfig, SessionResult
from ..agent.prompt import system_prompt
from ..clock import Clock
from ..errors import sole_error
from ..events import (
    AnswerCompleted,
    AnswerDelta,
    AnswerStarted,
    Brief,
    Event,
    Interrupt,
    ModelOutput,
    SessionEnded,
    UserSpeech,
)
from ..executor import LatencyFn
from ..ledger import Ledger
from ..models.base import ModelBackend
from ..protocol import render_messages
from ..tools import Toolset
from .asr import WhisperAsr
from .compute import Worker
from .events import (
    AgentSpoke,
    BargeIn,
    SubAgentReported,
    VoiceStarted,
)
from .listener import Listener, ListenerConfig
from .results import VoiceResult
from .speaker import Speaker
from .stream import AudioInput, LiveSpeech
from .subagents import SubAgents
from .tts import PiperTts, SentenceSplitter
from .vad import EndpointConfig, SileroVad

__all__ = ["VoiceAgent", "VoiceConfig", "VoiceEngines"]


@dataclass(frozen=True)
class VoiceConfig:
    endpoint: EndpointConfig = field(default_factory=EndpointConfig)
    partial_every_s: float = 1.0
    """Partial re-transcription period (used only by policies that stream partial speech)."""
    playback_chunk_s: float = 0.04
    """Audio handed to the speaker at a time: barge-in silences the agent within one."""
    clause_words: int = 5
    """Speak a clause ending in , ; : once it has this many words (else whole sentences)."""
    barge_in: bool = True
    tail_s: float = 120.0
    """After the input ends, time allowed to finish the turn, playback and sub-agents."""
    sub_agents: bool = False
    """Give the agent the ``start_task`` tool (fork/spawn a sub-agent)."""


@dataclass
class VoiceEngines:
    """The loaded speech models (load once, reuse across conversations)."""

    asr: WhisperAsr
    tts: PiperTts
    vad: SileroVad

    @classmethod
    def load(cls, *, asr_threads: int = 2) -> VoiceEngines:
        return cls(WhisperAsr(cpu_threads=asr_threads), PiperTts(), SileroVad())


@dataclass
class _Turn:
    index: int
    source: LiveSpeech
    session: Session
    task: asyncio.Task[SessionResult]
    answer_id: int | None = None
    answer_text: str = ""
    splitter: SentenceSplitter = field(default_factory=SentenceSplitter)


@dataclass(frozen=True)
class _TurnDone:
    turn: _Turn


class _Wake:
    pass


class VoiceAgent:
    """Runs one spoken conversation through a model, a toolset and a policy."""

    def __init__(
        self,
        backend: ModelBackend,
        toolset: Toolset,
        clock: Clock,
        policy: Policy,
        engines: VoiceEngines,
        *,
        config: VoiceConfig | None = None,
        session_config: SessionConfig | None = None,
        latency: LatencyFn | None = None,
        observer: Callable[[Event], None] | None = None,
        sub_backend: ModelBackend | None = None,
    ) -> None:
        if not policy.accepts_live_speech:
            raise ValueError(
                f"the {policy.value} policy needs to know in advance when the request ends; "
                "live audio cannot tell it (use sync, async or speculative)"
            )
        self.backend = backend
        self.clock = clock
        self.policy = policy
        self.engines = engines
        self.config = config or VoiceConfig()
        self.session_config = session_config
        self.latency = latency
        self.observer = observer
        self.conversation = Ledger()
        self.ledger = Ledger()
        self.sub_agents: SubAgents | None = None
        tools = list(toolset.values())
        if self.config.sub_agents:
            self.sub_agents = SubAgents(
                clock,
                sub_backend or backend,
                toolset,
                policy,
                self.conversation,
                self._emit,
                config=session_config,
                latency=latency,
            )
            tools.append(self.sub_agents.tool())
        self.toolset = Toolset(tools)
        self.prompt = system_prompt(self.toolset.schemas())
        self._inputs: asyncio.Queue[Event | _TurnDone | _Wake] = asyncio.Queue()
        self._turn: _Turn | None = None
        self._turns: list[SessionResult] = []
        self._answer_ids = 0
        self._reports: list[SubAgentReported] = []
        self._input_ended = False
        self._ran = False

    # -- recording ----------------------------------------------------------------------------

    def _emit(self, event: Event) -> None:
        """A voice event (or a sub-agent's): record it, and let the conversation react.

        Recognised speech is recorded by the session that hears it (as it heard it)."""
        if not isinstance(event, UserSpeech):
            self._record(event)
        self._inputs.put_nowait(event)

    def _record(self, event: Event) -> None:
        self.ledger.append(event)
        if self.observer is not None:
            self.observer(event)

    def _tell_model(self, text: str) -> None:
        """Put a note in the model's own ledger (it renders as plain text in its context).

        Between turns the note is closed like a turn, so the next turn starts after it.
        """
        now = self.clock.now()
        note = Brief(t=now, text=text)
        self.conversation.append(note)
        self._record(note)
        if self._turn is None:
            self.conversation.append(SessionEnded(t=now, reason="note"))

    # -- the conversation ---------------------------------------------------------------------

    async def run(self, stream: AudioInput) -> VoiceResult:
        """Hold the conversation the stream carries; return when it is over (once per agent)."""
        if self._ran:
            raise RuntimeError("a VoiceAgent holds one conversation; make a new one")
        self._ran = True
        asr_worker = Worker(self.clock, "asr")
        tts_worker = Worker(self.clock, "tts")
        listener = Listener(
            self.clock,
            self.engines.vad,
            self.engines.asr,
            asr_worker,
            self._emit,
            ListenerConfig(
                endpoint=self.config.endpoint,
                partial_every_s=(
                    self.config.partial_every_s if self.policy.streams_partial_speech else 0.0
                ),
            ),
        )
        speaker = Speaker(
            self.clock,
            self.engines.tts,
            tts_worker,
            self._emit,
            chunk_s=self.config.playback_chunk_s,
            on_idle=lambda: self._inputs.put_nowait(_Wake()),
        )
        self._listener, self._speaker = listener, speaker
        # Cache the system prompt before the user speaks, as a deployed agent would have it
        # (on a virtual clock this charges nothing; on the real clock it runs before t0).
        await self.backend.warm_up(render_messages([], self.prompt))
        ended = "finished"
        try:
            async with asyncio.TaskGroup() as group:
                self._group = group
                if self.sub_agents is not None:
                    self.sub_agents.bind(group)
                peripherals = [
                    group.create_task(self._listen(listener, stream), name="listener"),
                    group.create_task(speaker.run(), name="speaker"),
                ]
                try:
                    ended = await self._converse()
                finally:
                    self._shutdown(peripherals)
        except BaseExceptionGroup as errors:
            raise sole_error(errors, distinct=True) from None
        finally:
            asr_worker.close()
            tts_worker.close()
        assert stream.started_t is not None
        return VoiceResult(
            policy=self.policy.value,
            ended=ended,
            turns=self._turns,
            ledger=self.ledger,
            conversation=self.conversation,
            segments=stream.segments,
            stream_t0=stream.started_t,
            reply=speaker.reply_track(stream.started_t, stream.duration_s),
            listener=listener.stats,
            synth_s=speaker.synth_s,
            sub_agent_ledgers=(
                {k: t.ledger for k, t in self.sub_agents.tasks.items()} if self.sub_agents else {}
            ),
        )

    async def _listen(self, listener: Listener, stream: AudioInput) -> None:
        await listener.run(stream.frames(self.clock))
        self._input_ended = True
        self._inputs.put_nowait(_Wake())

    def _shutdown(self, peripherals: list[asyncio.Task[None]]) -> None:
        """Cancel whatever still runs: the turn, sub-agents, speech in and out."""
        if self._turn is not None:
            self._turn.task.cancel()
        if self.sub_agents is not None:
            self.sub_agents.cancel_all()
        for task in peripherals:
            task.cancel()

    def _settled(self) -> bool:
        return (
            self._input_ended
            and self._turn is None
            and not self._speaker.busy
            and (self.sub_agents is None or self.sub_agents.running == 0)
            and not self._reports
            and self._inputs.empty()
        )

    async def _converse(self) -> str:
        deadline: float | None = None
        while not self._settled():
            if self._input_ended:
                if deadline is None:
                    deadline = self.clock.now() + self.config.tail_s
                    if self._turn is not None:
                        self._turn.source.close()
                remaining = deadline - self.clock.now()
                if remaining <= 0:
                    return "tail_timeout"
                try:
                    async with asyncio.timeout(remaining):
                        item = await self._inputs.get()
                except TimeoutError:
                    return "tail_timeout"
            else:
                item = await self._inputs.get()
            self._handle(item)
            self._maybe_report()
        return "finished"

    def _handle(self, item: Event | _TurnDone | _Wake) -> None:
        if isinstance(item, _TurnDone):
            self._end_turn(item.turn)
        elif isinstance(item, VoiceStarted):
            self._on_voice(item)
        elif isinstance(item, UserSpeech):
            self._on_speech(item)
        elif isinstance(item, SubAgentReported):
            self._reports.append(item)

    # -- turns --------------------------------------------------------------------------------

    def _on_speech(self, speech: UserSpeech) -> None:
        if self._turn is None:
            self._start_turn([speech])
        else:
            self._turn.source.put(speech)

    def _start_turn(self, speech: list[UserSpeech]) -> None:
        source = LiveSpeech()
        for item in speech:
            source.put(item)
        index = len(self._turns) + 1
        session = Session(
            self.backend,
            self.toolset,
            self.clock,
            self.policy,
            ledger=self.conversation,
            latency=self.latency,
            observer=self._observe,
            config=self.session_config,
            prompt=self.prompt,
        )
        turn = _Turn(index, source, session, task=None)  # type: ignore[arg-type]
        turn.splitter = SentenceSplitter(self.config.clause_words)

        async def play() -> SessionResult:
            try:
                return await session.run(source)
            finally:
                self._inputs.put_nowait(_TurnDone(turn))

        turn.task = self._group.create_task(play(), name=f"turn-{index}")
        self._turn = turn
        if self._input_ended:
            source.close()

    def _end_turn(self, turn: _Turn) -> None:
        if turn is not self._turn:
            return
        self._turn = None
        left = turn.source.leftovers()
        if turn.answer_id is not None:  # ended without completing its answer
            self._speaker.end_answer(turn.answer_id)
        if turn.task.cancelled():
            return
        self._turns.append(turn.task.result())  # a model error propagates from here
        if left:  # speech heard after the session stopped reading opens the next turn
            self._start_turn(left)

    def _observe(self, event: Event) -> None:
        """Every event of a turn's session: record it; stream its answer to the speaker."""
        self._record(event)
        turn = self._turn
        if turn is None:
            return
        if isinstance(event, AnswerStarted):
            self._answer_ids += 1
            turn.answer_id, turn.answer_text = self._answer_ids, ""
            turn.splitter.clear()
        elif isinstance(event, AnswerDelta) and turn.answer_id is not None:
            turn.answer_text += event.text
            for piece in turn.splitter.push(event.text):
                self._speaker.say(turn.answer_id, piece)
        elif isinstance(event, AnswerCompleted) and turn.answer_id is not None:
            if not turn.answer_text:  # an answer seen only once complete (untagged)
                for piece in turn.splitter.push(event.text):
                    self._speaker.say(turn.answer_id, piece)
            rest = turn.splitter.flush()
            if rest:
                self._speaker.say(turn.answer_id, rest)
            self._speaker.end_answer(turn.answer_id)
            turn.answer_id = None
        elif (
            isinstance(event, Interrupt) or (isinstance(event, ModelOutput) and event.interrupted)
        ) and turn.answer_id is not None:
            turn.splitter.clear()
            self._speaker.end_answer(turn.answer_id)
            turn.answer_id = None

    # -- barge-in -----------------------------------------------------------------------------

    def _on_voice(self, event: VoiceStarted) -> None:
        turn = self._turn
        writing = turn is not None and turn.session.state is AgentState.EMITTING
        if not self.config.barge_in or not (self._speaker.busy or writing):
            return
        answer_id = turn.answer_id if turn is not None and turn.answer_id is not None else -1
        self._record(BargeIn(t=self.clock.now(), answer_id=answer_id))
        spoke = self._speaker.stop()
        if turn is not None and turn.answer_id is not None:
            if spoke is None or spoke.answer_id != turn.answer_id:
                spoke = AgentSpoke(
                    t=self.clock.now(),
                    answer_id=turn.answer_id,
                    text="",
                    interrupted=True,
                    audio_end_t=self.clock.now(),
                )
                self._record(spoke)
            turn.splitter.clear()
            turn.answer_id = None
        if writing and turn is not None:
            turn.session.interrupt("barge-in")
        heard = spoke.text if spoke is not None else ""
        self._tell_model(
            f'(The user interrupted you. Of your last answer they heard only: "{heard}")'
        )

    # -- sub-agent reports --------------------------------------------------------------------

    def _maybe_report(self) -> None:
        """Speak waiting reports when nobody is talking and no turn is under way."""
        if not self._reports or self._turn is not None or self._listener.hearing_user:
            return
        if self._speaker.busy:
            return
        for report in self._reports:
            self._answer_ids += 1
            self._tell_model(f"(Background task {report.task_id} reported: {report.text})")
            self._speaker.say(self._answer_ids, f"About task {report.task_id}: {report.text}")
            self._speaker.end_answer(self._answer_ids)
        self._reports.clear()
