"""One turn's shared state: what the session's parts read and change while a turn runs.

A :class:`~specagent.agent.session.Session` plays a turn with a few parts, each in its own
module: the loop and the generation stream (``session``), carrying out actions
(``actions``), resuming (``resume``). They share one :class:`Turn`: its collaborators (clock,
toolset, executor, ledger) and its mutable state, in named fields rather than in one object's
private attributes, so each part's reads and writes are visible where they happen.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..clock import Clock
from ..events import (
    AnswerStarted,
    ConfirmationAsked,
    Event,
    ProtocolError,
    UserSpeech,
)
from ..executor import ToolExecutor
from ..grounding import evidence_in
from ..ledger import Ledger
from ..tools import Toolset
from .inbox import Inbox
from .policies import Policy
from .records import SessionConfig, SessionResult, TurnCounters, call_reports, speculation_stats
from .resume import version_key
from .states import AgentState, StateMachine

__all__ = ["Turn"]


@dataclass
class Turn:
    clock: Clock
    policy: Policy
    config: SessionConfig
    toolset: Toolset
    ledger: Ledger
    executor: ToolExecutor
    inbox: Inbox
    machine: StateMachine
    record: Callable[[Event], None]
    """Append an event to the ledger (and show it to the session's observer)."""
    start: int
    """Index in the ledger where this turn begins."""
    known: str = ""
    """Facts given up front that count as said (see ``Session(known=...)``)."""
    counters: TurnCounters = field(default_factory=TurnCounters)

    final_heard: bool = False
    """The user's last update so far was final (and no newer speech has been taken in)."""
    speech_count: int = 0
    """User speech events recorded so far (heard or still waiting in the inbox)."""
    speech_done: bool = False
    dirty: bool = False
    """Something happened that the model has not yet responded to: generate."""
    awaiting: int | None = None
    """``sync``: the call whose result the model waits for before writing again."""
    awaiting_commit: set[int] = field(default_factory=set)
    """State-changing calls written but not yet past their commit point."""
    next_id: int = 1
    versions: dict[int, int] = field(default_factory=dict)
    """Call id -> versions issued (for idempotency keys and call events)."""
    pending_asks: list[ConfirmationAsked] = field(default_factory=list)
    """The previous turn's confirmation questions, not yet answered."""
    refused: set[str] = field(default_factory=set)
    """Calls (tool and arguments) refused for ungrounded values: sent again, they count
    towards giving up, like a failing call sent again."""
    claims_checked: bool = False
    """An answer claiming an unmade action was already refused once in this turn."""
    resume_from: str = ""
    """The grounded start of a call cut at a guess, which the next generation continues."""
    done: bool = False
    ended: str = "running"
    answer: str | None = None
    answer_started: float | None = None
    answer_done: float | None = None

    # -- reading ----------------------------------------------------------------------------

    def events(self) -> Sequence[Event]:
        """This turn's events: the ledger after the previous turns of the conversation."""
        return self.ledger.events[self.start :]

    def evidence(self) -> str:
        """What the session has seen so far: the user's words, every tool result, and the
        facts it was given up front."""
        seen = evidence_in(self.ledger)
        return f"{self.known} {seen}" if self.known else seen

    def speech_waiting(self) -> bool:
        return isinstance(self.inbox.peek(), UserSpeech)

    def answer_allowed(self) -> bool:
        """The user has finished and none of the model's calls is still unfinished."""
        return self.final_heard and not self.executor.unfinished()

    def why_no_answer(self) -> str:
        return "the user is still speaking" if not self.final_heard else "calls still running"

    def call_key(self, call_id: int) -> str:
        return version_key(self.ledger.session_id, call_id, self.versions.get(call_id, 1))

    def held_call_of(self, name: str) -> int | None:
        """The latest call of tool ``name`` still waiting for its commit point, if any."""
        held = [i for i in self.awaiting_commit if self.executor.records[i].name == name]
        return max(held, default=None)

    # -- changing ---------------------------------------------------------------------------

    def move(self, state: AgentState) -> None:
        self.machine.move(state, self.clock.now())

    def finish(self, reason: str) -> None:
        self.done = True
        self.ended = reason

    def begin_answer(self, t: float | None = None) -> None:
        self.answer_started = self.clock.now() if t is None else t
        self.move(AgentState.EMITTING)
        self.record(AnswerStarted(t=self.answer_started))

    def protocol_error(self, message: str, *, raw: str = "") -> None:
        """Tell the model its output could not be carried out; give up after too many."""
        self.counters.protocol_errors += 1
        self.counters.consecutive_errors += 1
        self.record(ProtocolError(t=self.clock.now(), message=message, raw=raw))
        if self.counters.consecutive_errors < self.config.max_protocol_errors:
            self.dirty = True
        elif self.policy.streams_partial_speech and not self.final_heard:
            # The user is still speaking: rather than give up on a model stuck with what it
            # has heard, wait for more words (the errors stay in its context) and count anew.
            self.counters.consecutive_errors = 0
            self.dirty = False
        else:
            self.finish("too_many_protocol_errors")

    def next_version(self, call_id: int) -> int:
        self.versions[call_id] = self.versions.get(call_id, 0) + 1
        return self.versions[call_id]

    def result(self, last_word_s: float) -> SessionResult:
        """What the turn produced, as the session returns it."""
        records = self.executor.all_records()
        finals = [e.t for e in self.events() if isinstance(e, UserSpeech) and e.final]
        counters = self.counters
        return SessionResult(
            policy=self.policy.value,
            ended=self.ended,
            answer=self.answer,
            last_word_s=last_word_s,
            answer_started_s=self.answer_started,
            answer_done_s=self.answer_done,
            tool_calls=call_reports(list(self.executor.records.values())),
            generations=counters.generations,
            interrupted_generations=counters.interrupted,
            suppressed_answers=counters.suppressed,
            tokens_generated=counters.tokens,
            protocol_errors=counters.protocol_errors,
            speculation=speculation_stats(records, counters, finals[0] if finals else float("inf")),
            ledger=self.ledger,
        )
