"""One agent session: the event-driven state machine that overlaps thinking, speech and tools.

The session owns three concurrent activities under one task group: the user's speech arriving
(timed :class:`UserSpeech` events), tool calls running in the :class:`ToolExecutor`, and at most
one model generation. Everything that happens is an event in the :class:`Inbox`; the session
takes events most urgent first, records them in the :class:`Ledger` (in the order the model
sees them) and decides whether to generate.

A generation reads the ledger rendered through the protocol. When an event arrives while the
model is still generating (and the policy allows), generation stops at that token boundary,
its reasoning is closed with ``</think_interrupted>``, the event is injected, and generation
restarts. A complete action is carried out by :mod:`.actions` (calls, removals, pauses,
answers, the commit point); the states and their allowed moves are in :mod:`.states`; how the
user's words arrive is :mod:`.speech_feed`; resuming a stored turn is :mod:`.restore`; how a
turn ends (by itself, stalled, or cut off) is :mod:`.ending`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterable, Callable, Sequence
from typing import Any

from ..clock import Clock
from ..events import (
    AnswerDelta,
    AnswerSuppressed,
    Event,
    Interrupt,
    ProtocolError,
    SessionEnded,
    Timer,
    ToolCallCancelled,
    ToolCallFailed,
    ToolCallFinished,
    UserSpeech,
    final_speech_t,
)
from ..errors import sole_error
from ..executor import CallRecord, LatencyFn, ToolExecutor
from ..grounding import grounded_prefix
from ..ledger import Ledger, SQLiteLedgerStore
from ..models.base import ContextWindowExceeded, GenerationRequest, ModelBackend
from ..protocol import (
    ContextRenderer,
    action_end,
    action_started,
    answer_start,
    call_grammar,
    render_interrupted,
    render_messages,
)
from ..tools import Toolset
from . import ending
from .actions import (
    act,
    answer_confirmations,
    reach_commit_point,
    record_output,
    refuse_claim,
    unbacked_claim,
)
from .call_rules import call_key
from .confirmation import unanswered_asks
from .generation import Generation, Outcome, answer_to_send, cuts_generation, has_reasoning
from .inbox import Inbox
from .policies import Policy
from .prompt import system_prompt
from .records import (
    SessionConfig,
    SessionResult,
    ToolCallReport,
)
from .restore import restore
from .review import review_early_calls
from .speech_feed import feed_live, feed_timed
from .tool_selection import ShownTools
from .states import AgentState, StateMachine
from .turn import Turn

__all__ = [
    "AgentState",
    "Session",
    "SessionConfig",
    "SessionResult",
    "ToolCallReport",
    "call_key",
]

Speech = Sequence[UserSpeech] | AsyncIterable[UserSpeech]
"""The user's words: timed updates known in advance, or a live source yielding them."""


class Session:
    """Runs one user request through a model, a toolset and a policy on a clock.

    A turn stopped before it ended is *cut* (:meth:`cut`, or any cancellation of a session
    given ``cut_reason``): closed by the session, every call it left undecided withdrawn; or
    *abandoned* (a plain cancellation): left open, as a crash leaves it (:mod:`.ending`).
    """

    def __init__(
        self,
        backend: ModelBackend,
        toolset: Toolset,
        clock: Clock,
        policy: Policy,
        *,
        ledger: Ledger | None = None,
        latency: LatencyFn | None = None,
        observer: Callable[[Event], None] | None = None,
        config: SessionConfig | None = None,
        prompt: str | None = None,
        known: str = "",
        cut_reason: str | None = None,
    ) -> None:
        """``known``: facts the model was given besides the conversation (today's date, the
        user's profile: what a benchmark adds to the prompt), which count as said when calls
        are checked for grounded values. ``cut_reason``: a cancelled run cuts its turn with
        this reason, and a failed one with ``turn_failed`` (default: both abandon it)."""
        if policy is Policy.VERIFIED:
            raise ValueError("the verified policy is played by agent.verified.VerifiedSession")
        self.backend = backend
        self.toolset = toolset
        self.clock = clock
        self.policy = policy
        self.ledger = ledger if ledger is not None else Ledger()
        self.config = config or SessionConfig()
        self.prompt = prompt or system_prompt(toolset.schemas())
        self._latency = latency
        self._observer = observer
        self._known = known
        self._machine = StateMachine()
        self._inbox = Inbox()
        self._renderer = ContextRenderer()
        self._turn: Turn | None = None
        self._cuts = ending.CutHandle(cut_reason)
        # Built once per toolset (cached by its schemas); the backend parses it once too.
        self._grammar = call_grammar(toolset.schemas()).text if self.config.constrain_calls else ""
        # select_tools: each generation reads a prompt listing only the selected tools.
        self.shown_tools: ShownTools | None = None
        if self.config.select_tools is not None:
            self.shown_tools = ShownTools(self.prompt, toolset.schemas(), self.config.select_tools)

    @property
    def state(self) -> AgentState:
        return self._machine.state

    @property
    def transitions(self) -> list[tuple[float, AgentState]]:
        """Every move of the state machine: (clock time, new state)."""
        return self._machine.transitions

    # -- public -----------------------------------------------------------------------------

    async def run(self, speech: Speech) -> SessionResult:
        """Play the user's timed speech to the agent and return when it has answered.

        Speech times are relative to the session's start (after the backend's warm-up).
        Given a ledger of earlier turns (each ended by ``SessionEnded``), this plays the next
        turn of the same conversation: the model sees the earlier turns and call ids go on
        counting. Given a ledger whose last turn did not end, it resumes that turn.
        Every event is recorded in the ledger the moment it happens; the inbox only decides
        when the loop looks at it. ``speech`` may instead be a live source (an async iterable,
        e.g. speech recognition) whose updates are heard when it yields them. Cancelled, it
        cuts or abandons the turn (see the class docstring), then raises ``CancelledError``.
        """
        if not isinstance(speech, Sequence):
            if not self.policy.accepts_live_speech:
                raise ValueError(
                    f"the {self.policy.value} policy needs the whole request in advance; "
                    "a live speech source cannot give it"
                )
        elif not speech or not speech[-1].final:
            raise ValueError("speech must be a non-empty sequence ending with a final update")
        with self._cuts.running():
            return await self._run(speech)

    async def _run(self, speech: Speech) -> SessionResult:
        start = ending.turn_start(self.ledger)
        resuming = len(self.ledger) > start
        if not len(self.ledger):
            # Only a new conversation warms up: on a later turn the model's cache already
            # holds the earlier turns, and evaluating the system prompt alone would drop them.
            await self.backend.warm_up(render_messages([], self.prompt))
        t0 = ending.start_time(self.ledger, start) if resuming else self.clock.now()
        if not resuming:
            self._record(Timer(t=t0, name=ending.SESSION_START))
        if isinstance(speech, Sequence):
            speech = [
                UserSpeech(t=t0 + chunk.t, text=chunk.text, final=chunk.final) for chunk in speech
            ]
        try:
            async with ToolExecutor(
                self.toolset, self.clock, self._on_emit, latency=self._latency
            ) as executor:
                turn = self._turn = Turn(
                    clock=self.clock,
                    policy=self.policy,
                    config=self.config,
                    toolset=self.toolset,
                    ledger=self.ledger,
                    executor=executor,
                    inbox=self._inbox,
                    machine=self._machine,
                    record=self._record,
                    start=start,
                    known=self._known,
                    next_id=ending.next_call_id(self.ledger),
                    pending_asks=unanswered_asks(self.ledger.events),
                )
                try:
                    await self._play(turn, speech, resuming)
                except (asyncio.CancelledError, Exception) as stop:
                    if (reason := self._cuts.reason(stop)) is None:
                        raise  # abandoned, as a crash leaves it
                    await ending.end_cut_turn(turn, reason)
                    raise
        except BaseExceptionGroup as group_error:
            raise sole_error(group_error, distinct=False) from None
        turn.move(AgentState.DONE)
        self._record(SessionEnded(t=self.clock.now(), reason=turn.ended))
        if isinstance(speech, Sequence):
            return turn.result(speech[-1].t)
        last_words = final_speech_t(turn.events())
        return turn.result(self.clock.now() if last_words is None else last_words)

    async def _play(self, turn: Turn, speech: Speech, resuming: bool) -> None:
        async with asyncio.TaskGroup() as group:
            heard = restore(turn) if resuming else 0
            feeder = group.create_task(self._feed(speech, heard), name="speech-feed")
            try:
                await self._loop(turn)
                await ending.settle(turn)
                for event in self._inbox.drain():
                    self._apply(turn, event)
            finally:
                feeder.cancel()

    @classmethod
    def resume(
        cls,
        store: SQLiteLedgerStore,
        session_id: str,
        backend: ModelBackend,
        toolset: Toolset,
        clock: Clock,
        policy: Policy,
        **options: Any,
    ) -> Session:
        """Reopen a stored session that stopped mid-way; ``run`` it with the same speech.

        Every call's disposition is restored exactly (docs/protocol.md, "Resuming after a
        crash"): nothing committed runs again or is undone, and a state-changing call whose
        outcome the crash left unknown is never retried blindly. ``clock`` should start where
        the stored ledger ends.
        """
        if policy is Policy.VERIFIED:
            raise ValueError("resume a verified session with agent.VerifiedSession.resume")
        ledger = Ledger.load(store, session_id)
        if not len(ledger):
            raise ValueError(f"no stored session {session_id!r} in {store.path}")
        if isinstance(ledger.events[-1], SessionEnded):
            raise ValueError(f"session {session_id!r} already ended; nothing to resume")
        return cls(backend, toolset, clock, policy, ledger=ledger, **options)

    def interrupt(self, reason: str) -> None:
        """Stop the agent's current generation or answer (e.g. barge-in); the turn goes on."""
        self._on_emit(Interrupt(t=self.clock.now(), reason=reason))

    def cut(self, reason: str) -> bool:
        """End the turn now: cancel the task running :meth:`run`, which withdraws every call
        the turn left undecided, records ``SessionEnded(reason)`` and raises
        ``CancelledError`` (see :func:`.ending.end_cut_turn`). Cut before it began, ``run``
        raises ``CancelledError`` at once and records nothing. Returns False if the run is
        already over."""
        return self._cuts.cut(reason)

    def call_records(self) -> list[CallRecord]:
        """Every version of every call of the turn being played (or last played), as the
        executor keeps them: for inspection and tests, not to be changed."""
        return self._turn.executor.all_records() if self._turn is not None else []

    # -- speech -----------------------------------------------------------------------------

    async def _feed(self, speech: Speech, heard: int) -> None:
        if isinstance(speech, Sequence):
            await feed_timed(self.clock, self.policy, speech[heard:], self._on_emit)
        else:
            await feed_live(self.clock, self.policy, speech, self._on_emit)
        assert self._turn is not None
        self._turn.speech_done = True

    # -- the loop ---------------------------------------------------------------------------

    async def _loop(self, turn: Turn) -> None:
        while not turn.done:
            for event in self._inbox.drain():
                self._apply(turn, event)
            if turn.done:
                return
            if self._ready_to_generate(turn):
                await self._generate_and_act(turn)
            elif not self._inbox and ending.nothing_can_happen(turn):
                ending.on_stall(turn)
            else:
                await self._inbox.wait()

    def _ready_to_generate(self, turn: Turn) -> bool:
        if not turn.dirty:
            return False
        if self.policy.one_tool_at_a_time:
            return turn.final_heard and turn.awaiting is None
        return True

    def _apply(self, turn: Turn, event: Event) -> None:
        """Update the turn for an event taken from the inbox (already recorded)."""
        if isinstance(event, UserSpeech):
            if self.state is AgentState.IDLE:
                turn.move(AgentState.LISTENING)
            turn.dirty = True
            if event.final:
                turn.final_heard = True
                review_early_calls(turn, event)
                if turn.pending_asks:
                    answer_confirmations(turn)
            else:  # live speech: the user speaks again after a final; wait for the next one
                turn.final_heard = False
        elif isinstance(event, (ToolCallFinished, ToolCallFailed)):
            turn.dirty = True
            if turn.awaiting == event.call_id:
                turn.awaiting = None
        elif isinstance(event, ToolCallCancelled) and turn.awaiting == event.call_id:
            turn.awaiting = None
            turn.dirty = True

    # -- generation -------------------------------------------------------------------------

    async def _generate_and_act(self, turn: Turn) -> None:
        counters = turn.counters
        if counters.generations >= self.config.max_generations:
            turn.finish("generation_limit")
            return
        counters.generations += 1
        turn.dirty = False
        prompt = self.prompt
        if self.shown_tools is not None:
            prompt = self.shown_tools.prompt_for(self.ledger.events, turn.start, turn.final_heard)
        messages = self._renderer.render(self.ledger.events, prompt)
        prefix, turn.resume_from = turn.resume_from, ""
        try:
            gen = await self._generate(turn, messages, prefix)
        except ContextWindowExceeded as exc:
            self._record(ProtocolError(t=self.clock.now(), message=str(exc)))
            turn.finish("context_full")
            return
        counters.tokens += gen.tokens
        if gen.outcome is Outcome.INTERRUPTED:
            counters.interrupted += 1
            if self.state is AgentState.EMITTING:  # an answer cut short (barge-in): the next
                turn.answer_started = None  # answer starts afresh
            if has_reasoning(gen.text):  # keep reasoning; a half-written action is dropped
                record_output(turn, gen, render_interrupted(gen.text), interrupted=True)
            turn.move(AgentState.LISTENING)
            return
        if gen.outcome is Outcome.UNBACKED_CLAIM:
            start = answer_start(gen.text) or 0
            refuse_claim(turn, gen, unbacked_claim(turn, gen.text[start:]) or "")
            return
        if gen.outcome is Outcome.SUPPRESSED:
            counters.suppressed += 1
            self._record(AnswerSuppressed(t=self.clock.now(), reason=turn.why_no_answer()))
            if reach_commit_point(turn, gen, below=None):
                return  # the turn ended with a question for the user
            turn.move(AgentState.LISTENING)
            return
        act(turn, gen)

    async def _generate(self, turn: Turn, messages: list[Any], prefix: str = "") -> Generation:
        """One generation; ``prefix``: the grounded start of a call cut short, which the
        model continues (see :meth:`_guess_in`)."""
        # A continued call does not count as the model moving on after the final words: its
        # start (and id) was written before them, so it releases no held call.
        gen = Generation(
            started_t=self.clock.now(),
            saw_final=turn.final_heard and not prefix,
            speech_seen=turn.speech_count,
            text=prefix,
        )
        turn.move(AgentState.GENERATING)
        stream = self.backend.stream(
            GenerationRequest.of(
                messages, max_tokens=self.config.max_tokens, prefix=prefix, grammar=self._grammar
            )
        )
        drafting = False  # writing an answer that may not be given yet (draft_answers)
        async with contextlib.aclosing(stream):
            async for piece in stream:
                gen.text += piece
                gen.tokens += 1
                gen.token_ends.append((len(gen.text), self.clock.now()))
                start = answer_start(gen.text)
                if (
                    start is not None
                    and turn.answer_started is None
                    and not drafting
                    and gen.text[start:].strip()
                ):
                    if turn.answer_allowed():
                        turn.begin_answer()
                    elif self.config.draft_answers:
                        drafting = True
                    else:
                        gen.outcome = Outcome.SUPPRESSED
                        break
                if start is not None and self.state is AgentState.EMITTING:
                    if unbacked_claim(turn, gen.text[start:]) is not None:
                        gen.outcome = Outcome.UNBACKED_CLAIM  # cut before it is sent
                        break
                    fresh = answer_to_send(gen, start)
                    if fresh:
                        self._record(AnswerDelta(t=self.clock.now(), text=fresh))
                if action_end(gen.text) is not None:
                    if drafting:
                        gen.outcome = Outcome.SUPPRESSED  # written, never shown: a pause
                    break
                if drafting and isinstance(self._inbox.peek(), (UserSpeech, Interrupt)):
                    gen.outcome = Outcome.INTERRUPTED  # new words make the draft stale
                    break
                if cuts_generation(self._inbox.peek(), self.state, self.policy, gen.text):
                    gen.outcome = Outcome.INTERRUPTED
                    break
                if turn.speech_waiting() and (cut := self._guess_in(turn, gen.text)) is not None:
                    gen.outcome = Outcome.INTERRUPTED
                    turn.counters.ungrounded += 1
                    before, resume = cut
                    if resume and self.backend.supports_prefix:
                        turn.resume_from = before
                    break
        return gen

    def _guess_in(self, turn: Turn, text: str) -> tuple[str, bool] | None:
        """Where the call being written first uses a value nobody has said, if it does:
        ``(the call up to that argument, whether to continue from there)``.

        Finished, such a call would be refused (see :mod:`.call_rules`), so the session stops
        it there. If the part before the guess holds at least one argument the user did say,
        the next generation continues it, with the words now waiting in view, instead of
        writing it all again. A call cut before any said argument is dropped whole: its
        tool was chosen on too few words (continuing such calls locked the model into the
        wrong tool on the example requests: docs/protocol.md).
        """
        if not self.config.ground_early_calls or turn.final_heard or not action_started(text):
            return None
        cut = grounded_prefix(text, turn.evidence())
        if cut is None:
            return None
        before, said_values = cut
        return before, said_values > 0

    # -- bookkeeping ------------------------------------------------------------------------

    def _on_emit(self, event: Event) -> None:
        """Something happened outside the loop: record it now (durably), then wake the loop."""
        if isinstance(event, UserSpeech) and self._turn is not None:
            self._turn.speech_count += 1
        self._record(event)
        self._inbox.put(event)

    def _record(self, event: Event) -> None:
        self.ledger.append(event)
        if self._observer is not None:
            self._observer(event)
