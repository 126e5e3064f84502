"""One agent session: the event-driven state machine that overlaps thinking, speech and tools.

The session owns three concurrent activities under one task group: the user's speech arriving
(timed :class:`UserSpeech` events), tool calls running in the :class:`ToolExecutor`, and at most
one model generation. Everything that happens is an event in the :class:`Inbox`; the session
takes events most urgent first, records them in the :class:`Ledger` (in the order the model
sees them) and decides whether to generate.

A generation reads the ledger rendered through the protocol. When an event arrives while the
model is still generating (and the policy allows), generation stops at that token boundary,
its reasoning is closed with ``</think_interrupted>``, the event is injected, and generation
restarts. When the model writes an action the session carries it out:

* ``tool_call``: submitted to the executor; a state-changing call is gated until the user's
  final update (the commit point of this runtime); ``sync`` waits for its result.
* ``remove``: the call is cancelled; calls that depend on it fail in cascade.
* ``pause``: wait for the next event.
* ``answer``: accepted only once the user has finished and no call of the model's is still
  running; before that it is stopped at its first token and treated as a pause.

State transitions: IDLE -> LISTENING (first speech) -> GENERATING <-> LISTENING/WAITING ->
EMITTING (answer streaming) -> DONE.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import enum
import json
from collections.abc import AsyncIterable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..clock import Clock
from ..events import (
    AnswerCompleted,
    AnswerDelta,
    AnswerStarted,
    AnswerSuppressed,
    ConfirmationAnswered,
    ConfirmationAsked,
    Event,
    Interrupt,
    ModelOutput,
    ProtocolError,
    SessionEnded,
    Timer,
    ToolCallCancelled,
    ToolCallFailed,
    ToolCallFinished,
    ToolCallIssued,
    ToolCallRemoved,
    ToolCallRevised,
    ToolCallStarted,
    UserSpeech,
)
from ..executor import (
    SESSION_ENDED,
    CallRecord,
    CallStatus,
    Disposition,
    LatencyFn,
    ToolExecutor,
)
from ..grounding import evidence_in, grounded_prefix, schema_choices, ungrounded_values
from ..ledger import Ledger, SQLiteLedgerStore
from ..models.base import ContextWindowExceeded, ModelBackend
from ..protocol import (
    AnswerAction,
    ContextRenderer,
    ParseError,
    PauseAction,
    RemoveAction,
    ToolCallAction,
    action_end,
    action_started,
    answer_start,
    parse_output,
    render_interrupted,
    render_messages,
)
from ..speculation import Mechanism, SpeculationStats, mechanism_for
from ..tools import InvalidArgumentsError, Tool, Toolset
from .confirmation import is_affirmative, needs_confirmation, reply_in, unanswered_asks
from .inbox import Inbox
from .policies import Policy
from .prompt import system_prompt
from .records import SessionConfig, SessionResult, ToolCallReport
from .resume import plan_restore, version_key

__all__ = ["AgentState", "Session", "SessionConfig", "SessionResult", "ToolCallReport"]


def _current_turn_start(ledger: Ledger) -> int:
    """Index just after the last ended turn: earlier turns of a conversation are history."""
    for index in range(len(ledger) - 1, -1, -1):
        if isinstance(ledger.events[index], SessionEnded):
            return index + 1
    return 0


def _next_call_id(ledger: Ledger) -> int:
    """Call ids keep counting across the turns of a conversation."""
    ids = [e.call_id for e in ledger if isinstance(e, (ToolCallIssued, ToolCallRevised))]
    return max(ids, default=0) + 1


class AgentState(enum.Enum):
    IDLE = "idle"
    LISTENING = "listening"
    GENERATING = "generating"
    EMITTING = "emitting"
    DONE = "done"


_SESSION_START = "session-start"


def _sole_error(group: BaseExceptionGroup) -> BaseException:
    """The one error a task group wrapped (a model or tool failure), else the group itself.

    Task groups wrap even a single failure; callers should get the typed error they can act on.
    """
    leaves: list[BaseException] = []

    def collect(error: BaseException) -> None:
        if isinstance(error, BaseExceptionGroup):
            for inner in error.exceptions:
                collect(inner)
        else:
            leaves.append(error)

    collect(group)
    return leaves[0] if len(leaves) == 1 else group


def _has_reasoning(text: str) -> bool:
    start = text.find("<think>")
    return start >= 0 and bool(text[start + len("<think>") :].replace("</think>", "").strip())


def _equivalent(tool: Tool, old: dict[str, Any], new: dict[str, Any]) -> bool:
    try:
        return tool.same_request(old, tool.validate(new))
    except InvalidArgumentsError:
        return False


def call_key(name: str, arguments: Mapping[str, Any]) -> str:
    """Identifies a call by tool and arguments (to spot a repeat of the same request)."""
    return name + json.dumps(arguments, sort_keys=True, default=str)


@dataclass
class _Generation:
    text: str = ""
    tokens: int = 0
    started_t: float = 0.0
    saw_final: bool = False  # the user's final update was in this generation's context
    speech_seen: int = 0  # user speech events recorded when it began (later ones it has not heard)
    token_ends: list[tuple[int, float]] = field(default_factory=list)
    outcome: str = "complete"  # complete | interrupted | suppressed
    recorded: bool = False  # its ModelOutput is already in the ledger (resume re-acts it)
    answer_sent: int = 0  # characters of the answer already recorded as AnswerDelta events


class Session:
    """Runs one user request through a model, a toolset and a policy on a clock."""

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
    ) -> None:
        """``known``: facts the model was given besides the conversation (today's date, the
        user's profile: what a benchmark adds to the prompt), which count as said when calls
        are checked for grounded values."""
        self.backend = backend
        self.toolset = toolset
        self.clock = clock
        if policy is Policy.VERIFIED:
            raise ValueError("the verified policy is played by agent.verified.VerifiedSession")
        self.policy = policy
        self.ledger = ledger if ledger is not None else Ledger()
        self.config = config or SessionConfig()
        self.prompt = prompt or system_prompt(toolset.schemas())
        self._latency = latency
        self._observer = observer
        self._known = known
        self.state = AgentState.IDLE
        self.transitions: list[tuple[float, AgentState]] = []

        self._inbox = Inbox()
        self._renderer = ContextRenderer()
        self._executor: ToolExecutor | None = None
        self._awaiting_commit: set[int] = set()  # state-changing calls before their commit point
        self._revisions_kept = 0
        self._ungrounded = 0
        self._final_heard = False
        self._speech_done = False
        self._dirty = False
        self._awaiting: int | None = None
        self._done = False
        self._ended = "running"
        self._answer: str | None = None
        self._answer_started: float | None = None
        self._answer_done: float | None = None
        self._next_id = 1
        self._turn_start = 0  # index in the ledger where this turn begins (set by run)
        self._generations = 0
        self._interrupted = 0
        self._resume_from = ""  # the grounded start of a call cut at a guess (see _guess_in)
        self._suppressed = 0
        self._tokens = 0
        self._protocol_errors = 0
        self._consecutive_errors = 0
        self._failed_repeats = 0  # the model re-sent a call that had failed, unchanged
        self._stalls = 0
        self._speech_count = 0  # user speech events recorded so far (heard or waiting)
        self._pending_asks: list[ConfirmationAsked] = []  # last turn's questions, unanswered
        self._versions: dict[int, int] = {}  # call id -> versions issued (for call keys)
        self._confirmations = 0
        self._ungrounded_writes = 0

    # -- public -----------------------------------------------------------------------------

    async def run(
        self, speech: Sequence[UserSpeech] | AsyncIterable[UserSpeech]
    ) -> SessionResult:
        """Play the user's timed speech to the agent and return when it has answered.

        Speech times are relative to the session's start (after the backend's warm-up).
        Given a ledger of earlier turns (each ended by ``SessionEnded``), this plays the next
        turn of the same conversation: the model sees the earlier turns and call ids go on
        counting. Given a ledger whose last turn did not end, it resumes that turn.
        Every event is recorded in the ledger the moment it happens; the inbox only decides
        when the loop looks at it. ``speech`` may instead be a live source (an async iterable,
        e.g. speech recognition) whose updates are heard when it yields them.
        """
        if not isinstance(speech, Sequence):
            if self.policy is Policy.ORACLE:
                raise ValueError(
                    "the oracle policy needs the whole request in advance; "
                    "a live speech source cannot give it"
                )
        elif not speech or not speech[-1].final:
            raise ValueError("speech must be a non-empty sequence ending with a final update")
        self._turn_start = _current_turn_start(self.ledger)
        self._next_id = _next_call_id(self.ledger)
        self._pending_asks = unanswered_asks(self.ledger.events)
        resuming = len(self.ledger) > self._turn_start
        if not len(self.ledger):
            # Only a new conversation warms up: on a later turn the model's cache already
            # holds the earlier turns, and evaluating the system prompt alone would drop them.
            await self.backend.warm_up(render_messages([], self.prompt))
        t0 = self._start_time() if resuming else self.clock.now()
        if not resuming:
            self._record(Timer(t=t0, name=_SESSION_START))
        if isinstance(speech, Sequence):
            speech = [
                UserSpeech(t=t0 + chunk.t, text=chunk.text, final=chunk.final) for chunk in speech
            ]
        try:
            async with ToolExecutor(
                self.toolset, self.clock, self._on_emit, latency=self._latency
            ) as executor, asyncio.TaskGroup() as group:
                self._executor = executor
                heard = self._restore() if resuming else 0
                feed = (
                    self._feed(speech[heard:])
                    if isinstance(speech, Sequence)
                    else self._feed_live(speech)
                )
                feeder = group.create_task(feed, name="speech-feed")
                try:
                    await self._loop()
                    await self._settle()
                finally:
                    feeder.cancel()
        except BaseExceptionGroup as group_error:
            raise _sole_error(group_error) from None
        self._set_state(AgentState.DONE)
        self._record(SessionEnded(t=self.clock.now(), reason=self._ended))
        if isinstance(speech, Sequence):
            return self._result(speech[-1].t)
        finals = [e.t for e in self._turn_events() if isinstance(e, UserSpeech) and e.final]
        return self._result(finals[-1] if finals else self.clock.now())

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

        Calls that ended are not run again; a state-changing call that was running when the
        session stopped is reported to the model as failed with an unknown outcome, never
        retried blindly. ``clock`` should start where the stored ledger ends.
        """
        if policy is Policy.VERIFIED:
            raise ValueError(
                "resume a verified session with agent.verified.VerifiedSession.resume "
                "(or agent.resume_session)"
            )
        ledger = Ledger.load(store, session_id)
        if not len(ledger):
            raise ValueError(f"no stored session {session_id!r} in {store.path}")
        if isinstance(ledger.events[-1], SessionEnded):
            raise ValueError(f"session {session_id!r} already ended; nothing to resume")
        return cls(backend, toolset, clock, policy, ledger=ledger, **options)

    def interrupt(self, reason: str) -> None:
        """Stop the agent's current generation or answer (e.g. barge-in)."""
        self._on_emit(Interrupt(t=self.clock.now(), reason=reason))

    # -- resuming ---------------------------------------------------------------------------

    def _turn_events(self) -> Sequence[Event]:
        """This turn's events: the ledger after the previous turns of the conversation."""
        return self.ledger.events[self._turn_start :]

    def _start_time(self) -> float:
        turn = self._turn_events()
        for event in turn:
            if isinstance(event, Timer) and event.name == _SESSION_START:
                return event.t
        return turn[0].t

    def _restore(self) -> int:
        """Rebuild state from the stored ledger (:mod:`specagent.agent.resume` decides each
        call's fate); return how many speech events to skip when feeding the speech again."""
        executor = self._executor
        assert executor is not None
        turn = list(self._turn_events())
        plan = plan_restore(turn, self.toolset, self.clock.now(), self.ledger.session_id)
        self._speech_count = plan.heard
        self._final_heard = plan.final_heard
        if plan.heard:
            self._set_state(AgentState.LISTENING)
        self._versions.update(plan.versions)
        for event in plan.record:
            self._record(event)
        for rec in plan.restored:
            executor.restore(rec)
        for rec in plan.compensate:
            executor.undo_restored(rec)
        for call_id in plan.versions:
            self._next_id = max(self._next_id, call_id + 1)
        for again in plan.resubmit:
            call = again.call
            tool = self.toolset.get(call.name)
            mechanism = (
                Mechanism.RUN_NOW
                if again.commit
                else mechanism_for(
                    tool,
                    self.policy.speculation,
                    confirm=self._needs_confirmation(tool, call.call_id),
                )
            )
            executor.submit(
                call.call_id,
                call.name,
                call.arguments,
                call.depends,
                hold=mechanism is Mechanism.HOLD,
                sandboxed=mechanism is Mechanism.SANDBOX,
                call_key=self._call_key(call.call_id),
                version=again.version,
            )
            if tool is not None and tool.effect.changes_state:
                if mechanism is Mechanism.RUN_NOW:
                    executor.commit(call.call_id)
                else:
                    self._awaiting_commit.add(call.call_id)
            if self.policy.one_tool_at_a_time and not executor.records[call.call_id].status.terminal:
                self._awaiting = call.call_id
        for call_id in plan.removed:  # removed, but the crash came before every withdrawal
            self._withdraw_cascade(call_id)
        if plan.unacted is not None and plan.answered is None:
            self._react(plan.unacted, turn)
        if plan.answered is not None:  # the answer was complete: only the ending is left
            self._answer = plan.answered.text
            self._answer_done = plan.answered.t
            began = [e.t for e in turn if isinstance(e, AnswerStarted)]
            self._answer_started = began[-1] if began else plan.answered.t
            self._finish("answered")
        self._dirty = plan.heard > 0
        if self.policy.streams_partial_speech and not self._final_heard:
            return plan.heard
        return 10**9 if self._final_heard else 0

    def _react(self, output: ModelOutput, turn: list[Event]) -> None:
        """Carry out the action of the turn's last output, which the crash stopped before any
        of its effects were recorded. Only speech recorded before the generation began counts
        as heard, so a held call never commits on words the model may not have seen."""
        index = turn.index(output)
        speech = [e for e in turn[:index] if isinstance(e, UserSpeech)]
        seen = [e for e in speech if e.t < output.started_t]
        gen = _Generation(
            text=output.text,
            tokens=output.tokens,
            started_t=output.started_t,
            saw_final=bool(seen) and seen[-1].final,
            speech_seen=len(seen),
            recorded=True,
        )
        self._act(gen)

    # -- speech -----------------------------------------------------------------------------

    async def _feed(self, speech: Sequence[UserSpeech]) -> None:
        if not speech:  # a resumed turn that had heard everything
            pass
        elif self.policy is Policy.ORACLE:
            await self.clock.sleep_until(speech[0].t)
            whole = " ".join(s.text for s in speech)
            self._on_emit(UserSpeech(t=self.clock.now(), text=whole, final=True))
        elif self.policy.streams_partial_speech:
            for chunk in speech:
                await self.clock.sleep_until(chunk.t)
                self._on_emit(UserSpeech(t=self.clock.now(), text=chunk.text, final=chunk.final))
        else:
            await self.clock.sleep_until(speech[-1].t)
            whole = " ".join(s.text for s in speech)
            self._on_emit(UserSpeech(t=self.clock.now(), text=whole, final=True))
        self._speech_done = True

    async def _feed_live(self, speech: AsyncIterable[UserSpeech]) -> None:
        """Pass on updates from a live source as it yields them; ``sync`` hears each
        utterance whole, at its final update."""
        words: list[str] = []
        async for chunk in speech:
            if self.policy.streams_partial_speech:
                if chunk.text or chunk.final:
                    self._on_emit(
                        UserSpeech(t=self.clock.now(), text=chunk.text, final=chunk.final)
                    )
                continue
            words.append(chunk.text)
            if chunk.final:
                whole = " ".join(w for w in words if w)
                self._on_emit(UserSpeech(t=self.clock.now(), text=whole, final=True))
                words = []
        self._speech_done = True

    # -- the loop ---------------------------------------------------------------------------

    async def _loop(self) -> None:
        while not self._done:
            for event in self._inbox.drain():
                self._apply(event)
            if self._done:
                return
            if self._ready_to_generate():
                await self._generate_and_act()
            elif not self._inbox and self._nothing_can_happen():
                self._on_stall()
            else:
                await self._inbox.wait()

    def _ready_to_generate(self) -> bool:
        if not self._dirty:
            return False
        if self.policy.one_tool_at_a_time:
            return self._final_heard and self._awaiting is None
        return True

    def _nothing_can_happen(self) -> bool:
        assert self._executor is not None
        waiting = [
            r for r in self._executor.unfinished() if r.gate is None or r.gate.is_set()
        ]
        return self._speech_done and not waiting and not self._dirty

    def _on_stall(self) -> None:
        self._stalls += 1
        if self._stalls > self.config.max_stalls:
            self._finish("stalled")
            return
        message = "nothing is pending: call a tool or give your <answer>"
        if self._awaiting_commit:
            held = ", ".join(str(i) for i in sorted(self._awaiting_commit))
            message = (
                f"call {held} waits for its commit point: write <pause/> or your <answer> to "
                'let it run, or <remove id="N"/> to withdraw it'
            )
        self._record(ProtocolError(t=self.clock.now(), message=message))
        self._dirty = True

    def _apply(self, event: Event) -> None:
        """Update the session's state for an event taken from the inbox (already recorded)."""
        if isinstance(event, UserSpeech):
            if self.state is AgentState.IDLE:
                self._set_state(AgentState.LISTENING)
            self._dirty = True
            if event.final:
                self._final_heard = True
                if self._pending_asks:
                    self._answer_confirmations()
            else:  # live speech: the user speaks again after a final; wait for the next one
                self._final_heard = False
        elif isinstance(event, (ToolCallFinished, ToolCallFailed)):
            self._dirty = True
            if self._awaiting == event.call_id:
                self._awaiting = None
        elif isinstance(event, ToolCallCancelled) and self._awaiting == event.call_id:
            self._awaiting = None
            self._dirty = True

    # -- generation -------------------------------------------------------------------------

    async def _generate_and_act(self) -> None:
        if self._generations >= self.config.max_generations:
            self._finish("generation_limit")
            return
        self._generations += 1
        self._dirty = False
        messages = self._renderer.render(self.ledger.events, self.prompt)
        prefix, self._resume_from = self._resume_from, ""
        try:
            gen = await self._generate(messages, prefix)
        except ContextWindowExceeded as exc:
            self._record(ProtocolError(t=self.clock.now(), message=str(exc)))
            self._finish("context_full")
            return
        self._tokens += gen.tokens
        if gen.outcome == "interrupted":
            self._interrupted += 1
            if self.state is AgentState.EMITTING:  # an answer cut short (barge-in): the next
                self._answer_started = None  # answer starts afresh
            if _has_reasoning(gen.text):  # keep reasoning; a half-written action is dropped
                self._record_output(gen, render_interrupted(gen.text), interrupted=True)
            self._set_state(AgentState.LISTENING)
            return
        if gen.outcome == "suppressed":
            self._suppressed += 1
            self._record(AnswerSuppressed(t=self.clock.now(), reason=self._why_no_answer()))
            if self._reach_commit_point(gen, below=None):
                return  # the turn ended with a question for the user
            self._set_state(AgentState.LISTENING)
            return
        self._act(gen)

    async def _generate(self, messages: list[Any], prefix: str = "") -> _Generation:
        """One generation; ``prefix``: the grounded start of a call cut short, which the
        model continues (see :meth:`_guess_in`)."""
        # A continued call does not count as the model moving on after the final words: its
        # start (and id) was written before them, so it releases no held call.
        gen = _Generation(
            started_t=self.clock.now(),
            saw_final=self._final_heard and not prefix,
            speech_seen=self._speech_count,
            text=prefix,
        )
        self._set_state(AgentState.GENERATING)
        if prefix:
            stream = self.backend.stream(messages, max_tokens=self.config.max_tokens, prefix=prefix)
        else:
            stream = self.backend.stream(messages, max_tokens=self.config.max_tokens)
        async with contextlib.aclosing(stream):
            async for piece in stream:
                gen.text += piece
                gen.tokens += 1
                gen.token_ends.append((len(gen.text), self.clock.now()))
                start = answer_start(gen.text)
                if start is not None and self._answer_started is None and gen.text[start:].strip():
                    if not self._answer_allowed():
                        gen.outcome = "suppressed"
                        break
                    self._begin_answer()
                if start is not None and self.state is AgentState.EMITTING:
                    self._stream_answer(gen, start)
                if action_end(gen.text) is not None:
                    break
                if self._should_interrupt(gen.text):
                    gen.outcome = "interrupted"
                    break
                if self._speech_waiting() and (cut := self._guess_in(gen.text)) is not None:
                    gen.outcome = "interrupted"
                    self._ungrounded += 1
                    before, resume = cut
                    if resume and self.backend.supports_prefix:
                        self._resume_from = before
                    break
        return gen

    def _stream_answer(self, gen: _Generation, start: int) -> None:
        """Record the answer text written since the last delta, holding back what may be
        the beginning of the closing tag."""
        body = gen.text[start:]
        close = body.find("</answer>")
        if close >= 0:
            body = body[:close]
        else:
            for k in range(min(len(body), len("</answer>") - 1), 0, -1):
                if "</answer>".startswith(body[-k:]):
                    body = body[:-k]
                    break
        if len(body) > gen.answer_sent:
            self._record(AnswerDelta(t=self.clock.now(), text=body[gen.answer_sent :]))
            gen.answer_sent = len(body)

    def _should_interrupt(self, text: str) -> bool:
        """Whether the most urgent waiting event stops the generation at this token.

        Reasoning is cut at once. An action the model has begun writing is finished first:
        cut, it would be thrown away; finished, it can still be revised or removed, and a
        state-changing call waits for its commit point anyway. An interrupt, and the user
        speaking over the answer (barge-in), stop everything at once.
        """
        head = self._inbox.peek()
        if head is None:
            return False
        if isinstance(head, Interrupt):
            return True
        if self.state is AgentState.EMITTING:
            return isinstance(head, UserSpeech)
        if not self.policy.interrupts_generation and not isinstance(head, UserSpeech):
            return False
        if not isinstance(head, (UserSpeech, ToolCallFinished, ToolCallFailed)):
            return False
        return not action_started(text)

    def _answer_allowed(self) -> bool:
        assert self._executor is not None
        return self._final_heard and not self._executor.unfinished()

    def _why_no_answer(self) -> str:
        return "the user is still speaking" if not self._final_heard else "calls still running"

    def _begin_answer(self, t: float | None = None) -> None:
        self._answer_started = self.clock.now() if t is None else t
        self._set_state(AgentState.EMITTING)
        self._record(AnswerStarted(t=self._answer_started))

    # -- actions ----------------------------------------------------------------------------

    def _act(self, gen: _Generation) -> None:
        try:
            parsed = parse_output(gen.text, self._next_id)
        except ParseError as exc:
            self._record_output(gen, gen.text)
            self._protocol_error(exc.message, raw=exc.raw)
            return
        self._consecutive_errors = 0
        action = parsed.action
        # Only what the model itself wrote moves it past a held call: an id the parser had to
        # invent, or prose read as an answer, is not the model moving on (docs/protocol.md).
        own_id = "id_assigned" not in parsed.tolerated
        tagged = "untagged_answer" not in parsed.tolerated
        if isinstance(action, AnswerAction):
            if self._speech_count != gen.speech_seen:
                # The user spoke again while the answer was being written (its last token
                # raced the barge-in check): it is cut off, as barge-in would have cut it.
                self._interrupted += 1
                self._answer_started = None
                self._set_state(AgentState.LISTENING)
                return
            if not tagged and self._final_heard and self._awaiting_commit:
                self._record_output(gen, gen.text)
                held = ", ".join(str(i) for i in sorted(self._awaiting_commit))
                self._protocol_error(
                    f"call {held} waits for its commit point: write <pause/> or your "
                    f'<answer>...</answer> in tags to let it run, or <remove id="N"/> to '
                    "withdraw it"
                )
                return
            if tagged and self._reach_commit_point(gen, below=None):
                return  # the turn ended with a question for the user
            if not self._answer_allowed():  # an untagged answer, seen only once complete
                self._suppressed += 1
                self._record(AnswerSuppressed(t=self.clock.now(), reason=self._why_no_answer()))
                self._set_state(AgentState.LISTENING)
                return
            self._record_output(gen, gen.text)
            if self._answer_started is None:
                self._begin_answer(self._first_answer_token_t(gen, action.text))
            self._answer = action.text
            self._answer_done = self.clock.now()
            self._record(AnswerCompleted(t=self._answer_done, text=action.text))
            self._finish("answered")
            return
        if isinstance(action, ToolCallAction) and not own_id:
            rewritten = self._held_call_of(action.name)
            if rewritten is not None:  # an id-less rewrite of a held call revises it
                action = dataclasses.replace(action, call_id=rewritten)
        if isinstance(action, ToolCallAction) and self._guesses(action) and self._speech_waiting():
            # Written before the words now waiting were heard, on a value nobody had said:
            # drop it as if interrupted; the model writes again with those words in view.
            self._interrupted += 1
            self._ungrounded += 1
            self._set_state(AgentState.LISTENING)
            return
        self._record_output(gen, gen.text)
        self._set_state(AgentState.LISTENING)
        if isinstance(action, ToolCallAction):
            if own_id and self._reach_commit_point(gen, below=action.call_id):
                return
            if not self._on_tool_call(action, gen) and own_id:  # a repeat is a pause in effect
                self._reach_commit_point(gen, below=None)
        elif isinstance(action, RemoveAction):
            self._on_remove(action)
        elif isinstance(action, PauseAction):
            self._reach_commit_point(gen, below=None)
            self._dirty = False

    def _protocol_error(self, message: str, *, raw: str = "") -> None:
        """Tell the model its output could not be carried out; give up after too many."""
        self._protocol_errors += 1
        self._consecutive_errors += 1
        self._record(ProtocolError(t=self.clock.now(), message=message, raw=raw))
        if self._consecutive_errors >= self.config.max_protocol_errors:
            self._finish("too_many_protocol_errors")
        else:
            self._dirty = True

    def _held_call_of(self, name: str) -> int | None:
        """The latest call of tool ``name`` still waiting for its commit point, if any."""
        assert self._executor is not None
        held = [
            call_id
            for call_id in self._awaiting_commit
            if self._executor.records[call_id].name == name
        ]
        return max(held, default=None)

    def _reach_commit_point(self, gen: _Generation, below: int | None) -> bool:
        """Release held state-changing calls whose commit point this action reached; return
        True if instead the turn ended by asking the user to confirm some of them.

        The commit point of a held call: the final update has arrived, no newer user speech
        is waiting or arrived since this generation began, AND the model has since written a
        higher call id, a pause or an answer, i.e. it saw the user's last words and moved on
        without revising the call. ``below``: a tool call's id (release lower ids); None for
        a pause or an answer (release all).
        """
        if not (gen.saw_final and self._final_heard and self._speech_count == gen.speech_seen):
            return False
        executor = self._executor
        assert executor is not None
        asks: list[ConfirmationAsked] = []
        for call_id in sorted(self._awaiting_commit):
            if below is not None and call_id >= below:
                continue
            self._awaiting_commit.discard(call_id)
            rec = executor.records[call_id]
            tool = self.toolset.get(rec.name)
            if tool is not None and self._needs_confirmation(tool, call_id):
                executor.withdraw(call_id, "waiting for the user's consent", notify=False)
                asks.append(
                    ConfirmationAsked(
                        t=self.clock.now(),
                        call_id=call_id,
                        version=rec.version,
                        name=rec.name,
                        arguments=dict(rec.arguments),
                        question=tool.confirmation_question(rec.arguments),
                    )
                )
            else:
                executor.commit(call_id)
        if not asks:
            return False
        self._ask(asks)
        return True

    def _needs_confirmation(self, tool: Tool | None, call_id: int) -> bool:
        return needs_confirmation(tool, self.config.confirm_irreversible)

    def _ask(self, asks: list[ConfirmationAsked]) -> None:
        """End the turn by asking the user to confirm held calls (the turn's answer)."""
        for ask in asks:
            self._record(ask)
        self._confirmations += len(asks)
        question = " ".join(a.question for a in asks)
        if self._answer_started is None:
            self._begin_answer()
        self._record(AnswerDelta(t=self.clock.now(), text=question))
        self._answer = question
        self._answer_done = self.clock.now()
        self._record(AnswerCompleted(t=self._answer_done, text=question))
        self._finish("answered")

    def _answer_confirmations(self) -> None:
        """The user finished an utterance after being asked: a plain yes runs the asked calls
        exactly as asked (under their ids); anything else leaves them unrun."""
        executor = self._executor
        assert executor is not None
        granted = is_affirmative(reply_in(self._turn_events()))
        asks, self._pending_asks = self._pending_asks, []
        for ask in asks:
            self._record(
                ConfirmationAnswered(t=self.clock.now(), call_id=ask.call_id, granted=granted)
            )
            if not granted:
                continue
            version = self._versions[ask.call_id] = self._versions.get(ask.call_id, 0) + 1
            self._record(
                ToolCallIssued(
                    t=self.clock.now(),
                    call_id=ask.call_id,
                    version=version,
                    name=ask.name,
                    arguments=ask.arguments,
                )
            )
            executor.submit(
                ask.call_id,
                ask.name,
                ask.arguments,
                call_key=self._call_key(ask.call_id),
                version=version,
            )
            executor.commit(ask.call_id)
            if self.policy.one_tool_at_a_time and not executor.records[ask.call_id].status.terminal:
                self._awaiting = ask.call_id

    def _call_key(self, call_id: int) -> str:
        """Unique to a version of a call across runs of this session (idempotency keys)."""
        return version_key(self.ledger.session_id, call_id, self._versions.get(call_id, 1))

    def _on_tool_call(self, action: ToolCallAction, gen: _Generation) -> bool:
        """Carry out a tool call; False if it asks for nothing new (a repeat, or a revision
        the semantic guard finds equivalent)."""
        executor = self._executor
        assert executor is not None
        now = self.clock.now()
        tool = self.toolset.get(action.name)
        existing = executor.records.get(action.call_id)
        live = existing is not None and existing.disposition is None
        if existing is not None and (
            existing.disposition is Disposition.COMMITTED or existing.commit_when_done
        ):  # committed, possibly still running: its outcome is final
            message = f"call {action.call_id} is already committed; use a new id"
            self._record(ProtocolError(t=now, message=message))
            self._dirty = True
            return True
        if (
            existing is not None
            and existing.status is CallStatus.FAILED
            and existing.name == action.name
            and existing.arguments == action.arguments
        ):  # the same failing call again: small models loop on this; count it as an error
            self._protocol_errors += 1
            self._failed_repeats += 1
            message = (
                f"call {action.call_id} already failed ({existing.error}); do not repeat it: "
                "change the call, use another tool, or answer"
            )
            self._record(ProtocolError(t=now, message=message))
            if self._failed_repeats >= self.config.max_protocol_errors:
                self._finish("too_many_protocol_errors")
            else:
                self._dirty = True
            return True
        if live and existing is not None and existing.name == action.name and tool is not None:
            if _equivalent(tool, existing.arguments, action.arguments):
                self._revisions_kept += 1  # same request: keep the running or finished result
                self._dirty = False
                return False
        key = call_key(action.name, action.arguments)
        writes = tool is not None and tool.effect.changes_state
        if any(
            call_key(r.name, r.arguments) == key
            and r.disposition in (None, Disposition.COMMITTED)
            # a read may be repeated after a write (fresh state); the same write, never: a
            # small model looping on "add alarm 10:00, add alarm 11:00" would do it each time
            and (writes or not self._state_changed_since(r.call_id))
            for r in executor.records.values()
            if r.call_id != action.call_id
        ):
            self._dirty = False  # the model repeated a call it already made
            return False
        guesses = self._guesses(action)
        if guesses:
            quoted = " and ".join(repr(g) for g in guesses)
            if self._final_heard:  # a write on a value nobody said: ask, do not guess
                self._ungrounded_writes += 1
                message = (
                    f"call {action.call_id} was not run: neither the user nor any tool result "
                    f"gave {quoted}. Ask the user for it in your <answer>, or use a value "
                    "they said."
                )
            else:
                self._ungrounded += 1
                message = (
                    f"call {action.call_id} was not run: the user has not said {quoted}. "
                    "Use only what the user said; wait for more words if you need them."
                )
            self._record(ProtocolError(t=now, message=message))
            self._dirty = self._final_heard  # after the final words: act now (ask the user)
            return True
        event_type = ToolCallRevised if existing is not None else ToolCallIssued
        version = self._versions[action.call_id] = self._versions.get(action.call_id, 0) + 1
        # The decision is recorded before anything follows from it, so a crash in between
        # leaves a ledger that says what to finish (agent/resume.py).
        self._record(
            event_type(
                t=now,
                call_id=action.call_id,
                version=version,
                name=action.name,
                arguments=action.arguments,
                depends=action.depends,
            )
        )
        if live:
            executor.withdraw(action.call_id, "revised", notify=False)
            self._awaiting_commit.discard(action.call_id)
        self._next_id = max(self._next_id, action.call_id + 1)
        mechanism = mechanism_for(
            tool,
            self.policy.speculation,
            request_settled=self._speech_count == gen.speech_seen,
            confirm=self._needs_confirmation(tool, action.call_id),
        )
        executor.submit(
            action.call_id,
            action.name,
            action.arguments,
            action.depends,
            hold=mechanism is Mechanism.HOLD,
            sandboxed=mechanism is Mechanism.SANDBOX,
            hold_reason="state-changing call waits for its commit point",
            call_key=self._call_key(action.call_id),
            version=version,
        )
        if writes:
            if mechanism is Mechanism.RUN_NOW:  # sync, oracle: the request is complete
                executor.commit(action.call_id)
            else:
                self._awaiting_commit.add(action.call_id)
        held_for_commit = action.call_id in self._awaiting_commit and self._final_heard
        if self.policy.one_tool_at_a_time and not held_for_commit:
            rec = executor.records[action.call_id]
            self._awaiting = None if rec.status.terminal else action.call_id
            self._dirty = rec.status.terminal  # an instant failure is already in the inbox
        else:
            self._dirty = self.config.continue_after_call or held_for_commit
        return True

    def _state_changed_since(self, call_id: int) -> bool:
        """Whether a state-changing call was issued after ``call_id`` (and not undone): then
        repeating an earlier call is a fresh read of changed state, not a duplicate."""
        assert self._executor is not None
        return any(
            r.call_id > call_id
            and r.effect is not None
            and r.effect.changes_state
            and r.disposition in (None, Disposition.COMMITTED)
            for r in self._executor.records.values()
        )

    def _guesses(self, action: ToolCallAction) -> list[str]:
        """Values of a call that nobody has said or read: checked for every call before the
        final update (``ground_early_calls``) and for state-changing calls always
        (``ground_state_changes``)."""
        tool = self.toolset.get(action.name)
        writes = tool is not None and tool.effect.changes_state
        early = self.config.ground_early_calls and not self._final_heard
        if not early and not (self.config.ground_state_changes and writes):
            return []
        choices = schema_choices(tool.parameters, tool.description) if tool is not None else set()
        return ungrounded_values(action.arguments, self._evidence(), choices=choices)

    def _guess_in(self, text: str) -> tuple[str, bool] | None:
        """Where the call being written first uses a value nobody has said, if it does:
        ``(the call up to that argument, whether to continue from there)``.

        Finished, such a call would be refused (see :meth:`_guesses`), so the session stops
        it there. If the part before the guess holds at least one argument the user did say,
        the next generation continues it, with the words now waiting in view, instead of
        writing it all again. A call cut before any said argument is dropped whole: its
        tool was chosen on too few words (continuing such calls locked the model into the
        wrong tool on the example requests: docs/protocol.md).
        """
        if not self.config.ground_early_calls or self._final_heard or not action_started(text):
            return None
        cut = grounded_prefix(text, self._evidence())
        if cut is None:
            return None
        before, said_values = cut
        return before, said_values > 0

    def _speech_waiting(self) -> bool:
        return isinstance(self._inbox.peek(), UserSpeech)

    def _evidence(self) -> str:
        """What the session has seen so far: the user's words and every tool result."""
        evidence = evidence_in(self.ledger)
        return f"{self._known} {evidence}" if self._known else evidence

    def _on_remove(self, action: RemoveAction) -> None:
        """Withdraw a call and, in cascade, every call that depends on it."""
        executor = self._executor
        assert executor is not None
        now = self.clock.now()
        rec = executor.records.get(action.call_id)
        problem = None
        if rec is None:
            problem = f"there is no call {action.call_id}"
        elif rec.disposition is Disposition.COMMITTED or rec.commit_when_done:
            problem = f"call {action.call_id} is already committed and cannot be removed"
        if problem is not None:
            self._record(ProtocolError(t=now, message=problem))
            self._dirty = True
            return
        self._record(ToolCallRemoved(t=now, call_id=action.call_id, version=rec.version))
        self._withdraw_cascade(action.call_id)
        self._dirty = True

    def _withdraw_cascade(self, removed: int) -> None:
        """Withdraw call ``removed`` and every undecided call that depends on it."""
        executor = self._executor
        assert executor is not None
        doomed = [removed]
        for other in sorted(executor.records.values(), key=lambda r: r.call_id):
            if other.disposition is None and any(d in doomed for d in other.depends):
                doomed.append(other.call_id)
        for call_id in doomed:
            reason = (
                "removed by the model" if call_id == removed else f"depends on removed call {removed}"
            )
            executor.withdraw(call_id, reason)
            self._awaiting_commit.discard(call_id)

    # -- ending -----------------------------------------------------------------------------

    def _finish(self, reason: str) -> None:
        self._done = True
        self._ended = reason

    async def _settle(self) -> None:
        """Give every call its final disposition before the session returns.

        After an answer (a commit point for everything still wanted) every remaining call that
        has ended is committed, except a state-changing call that never reached its commit
        point; every other uncommitted call is withdrawn: cancelled, its sandbox dropped, or
        compensated.
        """
        executor = self._executor
        assert executor is not None
        answered = self._ended == "answered"
        for rec in sorted(executor.records.values(), key=lambda r: r.call_id):
            if rec.disposition is not None or rec.commit_when_done:
                continue
            if answered and rec.status.terminal and rec.call_id not in self._awaiting_commit:
                executor.commit(rec.call_id)
            else:
                executor.withdraw(rec.call_id, SESSION_ENDED)
        self._awaiting_commit.clear()
        await executor.quiesce()
        for event in self._inbox.drain():
            self._apply(event)

    # -- bookkeeping ------------------------------------------------------------------------

    def _on_emit(self, event: Event) -> None:
        """Something happened outside the loop: record it now (durably), then wake the loop."""
        if isinstance(event, UserSpeech):
            self._speech_count += 1
        self._record(event)
        self._inbox.put(event)

    def _record(self, event: Event) -> None:
        self.ledger.append(event)
        if self._observer is not None:
            self._observer(event)

    def _record_output(self, gen: _Generation, text: str, *, interrupted: bool = False) -> None:
        if gen.recorded:  # re-acting an output a crash left without its effects
            return
        self._record(
            ModelOutput(
                t=self.clock.now(),
                text=text,
                interrupted=interrupted,
                tokens=gen.tokens,
                started_t=gen.started_t,
            )
        )

    def _set_state(self, state: AgentState) -> None:
        if state is not self.state:
            self.state = state
            self.transitions.append((self.clock.now(), state))

    @staticmethod
    def _first_answer_token_t(gen: _Generation, answer: str) -> float:
        at = gen.text.find(answer[:16]) if answer else -1
        for end, t in gen.token_ends:
            if end > max(at, 0):
                return t
        return gen.token_ends[-1][1] if gen.token_ends else 0.0

    def _speculation_stats(self, records: list[CallRecord]) -> SpeculationStats:
        finals = [e.t for e in self._turn_events() if isinstance(e, UserSpeech) and e.final]
        final_t = finals[0] if finals else float("inf")
        undone = (Disposition.CANCELLED, Disposition.COMPENSATED)
        return SpeculationStats(
            issued=len(records),
            run_early=sum(r.started_s is not None and r.started_s < final_t for r in records),
            used=sum(
                r.disposition is Disposition.COMMITTED and r.status is CallStatus.DONE
                for r in records
            ),
            wasted=sum(r.started_s is not None and r.disposition in undone for r in records),
            compensated=sum(r.disposition is Disposition.COMPENSATED for r in records),
            held=sum(r.held for r in records),
            revisions_kept=self._revisions_kept,
            ungrounded_refused=self._ungrounded,
            confirmations_asked=self._confirmations,
            ungrounded_writes_refused=self._ungrounded_writes,
        )

    def _result(self, last_word_s: float) -> SessionResult:
        executor = self._executor
        assert executor is not None
        calls = tuple(
            ToolCallReport(
                call_id=r.call_id,
                name=r.name,
                arguments=r.arguments,
                effect=r.effect.value if r.effect else None,
                status=r.status.value,
                held=r.held,
                issued_s=r.issued_s,
                started_s=r.started_s,
                finished_s=r.finished_s,
                result=r.result,
                error=r.error,
                disposition=r.disposition.value if r.disposition else None,
                sandboxed=r.sandboxed,
            )
            for r in sorted(executor.records.values(), key=lambda r: r.call_id)
        )
        return SessionResult(
            policy=self.policy.value,
            ended=self._ended,
            answer=self._answer,
            last_word_s=last_word_s,
            answer_started_s=self._answer_started,
            answer_done_s=self._answer_done,
            tool_calls=calls,
            generations=self._generations,
            interrupted_generations=self._interrupted,
            suppressed_answers=self._suppressed,
            tokens_generated=self._tokens,
            protocol_errors=self._protocol_errors,
            speculation=self._speculation_stats(executor.all_records()),
            ledger=self.ledger,
        )
