"""The voice agent: a session's state machine with ears, a mouth and helpers.

One conversation, one task group, four peripherals around the agent's turns:

* the audio stream (a recording played in real time) feeding the :class:`Listener`
  (VAD + Whisper), which produces voice activity and user-speech events;
* the agent's turns: each user turn is a :class:`~specagent.agent.Session` on the shared
  conversation ledger (earlier turns are its history), reading the recognised speech live;
* the :class:`Speaker`, which synthesises the answer piece by piece while it is still being
  generated (``AnswerDelta`` events through a :class:`SentenceSplitter`) and plays it;
* the :class:`SubAgents` started by the ``start_task`` tool, reporting back by event.

Preemptive reply: when the user pauses and the words so far look complete, a turn starts at
once on a fork of the conversation, its answer synthesised but held; it becomes the turn and
plays when the VAD confirms the end of the turn, and is thrown away if the user goes on (the
rules, including why it never changes state on a guess, are in :mod:`.preempt`).

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
from dataclasses import dataclass

from ..agent import AgentState, Policy, Session, SessionConfig, SessionResult
from ..agent.prompt import system_prompt
from ..clock import Clock
from ..errors import sole_error
from ..events import (
    Brief,
    Event,
    SessionEnded,
    UserSpeech,
)
from ..executor import LatencyFn
from ..ledger import Ledger
from ..models.base import ModelBackend
from ..protocol import render_messages
from ..tools import Toolset
from .asr import whisper_prompt
from .config import VoiceConfig, VoiceEngines
from .compute import EngineCosts, Worker
from .events import (
    AgentSpoke,
    BargeIn,
    SubAgentReported,
    TurnEndGuess,
    VoiceEnded,
    VoiceResumed,
    VoiceStarted,
    VoiceUnclear,
)
from .listener import Listener, ListenerConfig
from .preempt import Preemption, PreemptionStats, fork_conversation, gated_toolset
from .preemptor import Preemptor
from .results import VoiceResult
from .speaker import Speaker
from .stream import AudioInput, LiveSpeech
from .subagents import SubAgents
from .tts import SentenceSplitter
from .turns import VoiceTurn
from .unclear import MODEL_NOTE, UnclearWords, without_turn

__all__ = ["VoiceAgent", "VoiceConfig", "VoiceEngines"]  # the last two live in .config


SESSION_OVER = "voice_session_over"
"""``SessionEnded`` reason of a turn still running when the voice session ends."""


@dataclass(frozen=True)
class VoiceTurnDone:
    turn: VoiceTurn


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
        costs: EngineCosts | None = None,
    ) -> None:
        """``costs``: modelled speech-engine compute on a virtual clock (default: measured)."""
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
        self.costs = costs or EngineCosts()
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
        self.prompt = system_prompt(self.toolset.schemas(), small_talk=self.config.small_talk)
        self._inputs: asyncio.Queue[Event | VoiceTurnDone | _Wake] = asyncio.Queue()
        self._turn: VoiceTurn | None = None
        self._turns: list[SessionResult] = []
        self._answer_ids = 0
        self._reports: list[SubAgentReported] = []
        self._input_ended = False
        self._ran = False
        self._utterance = 0  # the latest utterance the VAD heard start
        self.preemption = PreemptionStats()

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
        self._preemptor.discard("the agent wrote a note into the conversation")

    # -- the conversation ---------------------------------------------------------------------

    async def run(self, stream: AudioInput) -> VoiceResult:
        """Hold the conversation the stream carries; return when it is over (once per agent)."""
        if self._ran:
            raise RuntimeError("a VoiceAgent holds one conversation; make a new one")
        self._ran = True
        asr_worker = Worker(self.clock, "asr", charge_s=self.costs.asr_pass_s)
        tts_worker = Worker(self.clock, "tts", charge_s=self.costs.tts_piece_s)
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
                turn_end=self.config.turn_end,
                prompt=whisper_prompt(list(self.toolset), self.config.vocabulary),
                unclear_below=self.config.unclear_below,
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
        self._preemptor = Preemptor(self.clock, speaker, listener, self._record, self.preemption)
        self._unclear = UnclearWords(self._preemptor, speaker, self._new_answer_id)
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
            preemption=self.preemption,
        )

    async def _listen(self, listener: Listener, stream: AudioInput) -> None:
        await listener.run(stream.frames(self.clock))
        self._input_ended = True
        self._inputs.put_nowait(_Wake())

    def _shutdown(self, peripherals: list[asyncio.Task[None]]) -> None:
        """Stop whatever still runs: speech in and out and sub-agents are cancelled; the turn
        is cut, so a call it left undecided (a reversible call run early on partial words) is
        withdrawn before its task ends. A preemptive reply never confirmed is only cancelled:
        its state-changing calls wait behind a gate that never opened, so none ran."""
        if self._turn is not None:
            self._turn.session.cut(SESSION_OVER)
        if self._preemptor.pending is not None:
            self._preemptor.pending.task.cancel()
        if self.sub_agents is not None:
            self.sub_agents.cancel_all()
        for task in peripherals:
            task.cancel()

    def _settled(self) -> bool:
        return (
            self._input_ended
            and self._turn is None
            and self._preemptor.pending is None
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

    def _handle(self, item: Event | VoiceTurnDone | _Wake) -> None:
        if isinstance(item, VoiceTurnDone):
            if item.turn is not self._preemptor.pending:  # else: handled at confirmation
                self._end_turn(item.turn)
        elif isinstance(item, VoiceStarted):
            self._utterance = item.utterance
            self._preemptor.discard("the user started a new utterance")
            self._on_voice(item)
        elif isinstance(item, TurnEndGuess):
            self._on_guess(item)
        elif isinstance(item, VoiceResumed):
            pending = self._preemptor.pending
            if pending is not None and pending.utterance == item.utterance:
                self._preemptor.discard("the user went on")
        elif isinstance(item, VoiceEnded):
            self._confirm(item)
        elif isinstance(item, UserSpeech):
            self._on_speech(item)
        elif isinstance(item, VoiceUnclear):
            self._on_unclear(item)
        elif isinstance(item, SubAgentReported):
            self._reports.append(item)

    # -- turns --------------------------------------------------------------------------------

    def _on_speech(self, speech: UserSpeech) -> None:
        if self._turn is None:
            self._start_turn([speech])
        else:
            self._turn.source.put(speech)

    def _start_turn(self, speech: list[UserSpeech], preempt: Preemption | None = None) -> VoiceTurn:
        """A session for the next user turn; a preemptive one runs on a fork of the
        conversation (without the turn it may replace) and behind the tool gate."""
        source = LiveSpeech()
        for item in speech:
            source.put(item)
        index = len(self._turns) + 1
        fork_at = len(self.conversation)
        ledger, toolset = self.conversation, self.toolset
        if preempt is not None:
            if self._turn is not None:
                fork_at = self._turn.fork_at
            ledger = fork_conversation(self.conversation, fork_at)
            toolset = gated_toolset(self.toolset, preempt.gate)
        turn = VoiceTurn(
            index,
            source,
            self._utterance,
            fork_at,
            SentenceSplitter(self.config.clause_words, self.config.first_words),
            preempt=preempt,
        )
        turn.session = Session(
            self.backend,
            toolset,
            self.clock,
            self.policy,
            ledger=ledger,
            latency=self.latency,
            observer=lambda event: self._observe(turn, event),
            config=self.session_config,
            prompt=self.prompt,
        )

        async def play() -> SessionResult:
            try:
                return await turn.session.run(source)
            finally:
                self._inputs.put_nowait(VoiceTurnDone(turn))

        turn.task = self._group.create_task(play(), name=f"turn-{index}")
        if preempt is None:
            self._turn = turn
            if self._input_ended:
                source.close()
        return turn

    def _end_turn(self, turn: VoiceTurn) -> None:
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

    def _observe(self, turn: VoiceTurn, event: Event) -> None:
        """Every event of a turn's session: record it (a preemptive reply's once confirmed);
        stream its answer to the speaker (held while the reply is preemptive)."""
        if turn.preempt is not None:
            turn.preempt.events.append(event)
        else:
            self._record(event)
            if turn is self._turn:
                self._preemptor.watch(turn, event)
        turn.route_answer(event, self._speaker, self._new_answer_id)

    def _new_answer_id(self) -> int:
        self._answer_ids += 1
        return self._answer_ids

    # -- preemptive replies (rules in .preempt, their life in .preemptor) --------------------

    def _on_guess(self, guess: TurnEndGuess) -> None:
        """The user paused after words that may end the turn: start the reply now?"""
        preemptor = self._preemptor
        start = self.config.preempt and not guess.unclear  # unclear words: see .unclear
        if start and preemptor.may_start(guess, self._utterance, self._turn):
            preempt = preemptor.preemption(guess)
            speech = UserSpeech(t=preempt.started_t, text=guess.text, final=True)
            preemptor.started(self._start_turn([speech], preempt))

    def _confirm(self, ended: VoiceEnded) -> None:
        """The VAD ended the turn: a preemptive reply for it becomes the turn and plays."""
        turn = self._preemptor.confirm(ended.utterance)
        if turn is None:
            return
        replaced = self._turn
        if replaced is not None:  # a streaming turn that only read partial words
            replaced.task.cancel()
            replaced.source.leftovers()
        self.conversation = turn.session.ledger
        if self.sub_agents is not None:
            self.sub_agents.parent = self.conversation
        self._turn = turn
        if self._input_ended:
            turn.source.close()
        if turn.task.done():  # it ended before the confirmation came
            self._end_turn(turn)

    def _on_unclear(self, event: VoiceUnclear) -> None:
        """Words too unsure to act on: nothing they started stays; ask again (.unclear)."""
        dropped = self._unclear.handle(event, self._turn, self._utterance)
        if dropped is not None:  # its session settles its calls in its own ledger as it stops
            self._turn, self.conversation = None, without_turn(self.conversation, dropped)
            if self.sub_agents is not None:
                self.sub_agents.parent = self.conversation
        self._tell_model(MODEL_NOTE)

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
        if not self._reports or self._turn is not None or self._preemptor.pending is not None:
            return
        if self._listener.hearing_user:
            return
        if self._speaker.busy:
            return
        for report in self._reports:
            self._answer_ids += 1
            self._tell_model(f"(Background task {report.task_id} reported: {report.text})")
            self._speaker.say(self._answer_ids, f"About task {report.task_id}: {report.text}")
            self._speaker.end_answer(self._answer_ids)
        self._reports.clear()
