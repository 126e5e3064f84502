"""One conversation of ``specagent serve``: its ledger, its tools, and its turns as sessions.

A conversation outlives the connection that opened it: its :class:`ConversationState` (ledger,
tools, policy) stays in the :class:`Conversations` registry, and in the SQLite store when one is
given, so a client that reconnects with the conversation's id carries on where it was.

The module knows nothing of the transport: the WebSocket server and the Pipecat processor both
drive a :class:`ConversationRunner` and hear its turns through a :class:`TurnListener`. While a
client is attached, the runner plays its turns the way the voice agent does: each user turn is
one :class:`~specagent.agent.Session` on the shared conversation ledger, reading the client's
speech live from a :class:`~specagent.speech.live.LiveSpeech`; every event the session records
is passed on to the client as it happens. Words that arrive after a session stopped reading
open the next turn.

A turn cut short (the client left, the runner was cancelled, the model failed) is closed in the
ledger with a ``SessionEnded`` so the next turn starts afresh. Its session does that itself
(each is made with ``cut_reason="disconnected"``; see :mod:`specagent.agent.ending`): a call
held for its commit point never runs, a reversible call that ran early and was not yet
committed is undone by its compensating action, a read still running is cancelled, and what
was committed stays. Only a turn that a server restart cut off, of which nothing is left but
the stored ledger, is closed from here (:func:`specagent.agent.restore.close_cut_turn`).
"""

from __future__ import annotations

import asyncio
import collections
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..agent import Policy, Session, SessionConfig, SessionResult
from ..agent.prompt import system_prompt
from ..agent.restore import close_cut_turn
from ..clock import Clock
from ..errors import SpecagentError
from ..events import (
    Event,
    SessionEnded,
    UserSpeech,
)
from ..executor import LatencyFn
from ..ledger import Ledger, SQLiteLedgerStore
from ..models.base import ModelBackend, ModelError
from ..speech.live import LiveSpeech
from ..tools import Toolset

__all__ = [
    "LIVE_POLICIES",
    "ConversationBusy",
    "ConversationRunner",
    "ConversationState",
    "ConversationTools",
    "Conversations",
    "ToolsFactory",
    "TurnListener",
    "UnknownConversation",
    "completed_turns",
]

LIVE_POLICIES = tuple(p for p in Policy if p.accepts_live_speech and not p.needs_draft_model)
"""Policies that can hear speech live. ``oracle`` and ``verified`` need the whole timed request
before the turn starts, which a live client cannot give; ``sync-draft`` needs a draft model,
which the server does not load."""

_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class ConversationBusy(SpecagentError, RuntimeError):
    """Another connection is attached to this conversation."""


class UnknownConversation(SpecagentError, KeyError):
    """No conversation has this id (in memory or in the store)."""


@dataclass(frozen=True)
class ConversationTools:
    """The tools of one conversation and the state they act on."""

    toolset: Toolset
    latency: LatencyFn | None = None
    """Simulated time a call spends on the wire (the example tools have one)."""
    world: Any = None
    """The state the tools change (kept for inspection, e.g. by tests)."""


ToolsFactory = Callable[[], ConversationTools]


@dataclass
class ConversationState:
    """What survives a disconnect: the ledger, the tools (with their world) and the policy."""

    conversation_id: str
    ledger: Ledger
    tools: ConversationTools
    policy: Policy
    attached: bool = False
    prompt: str = ""

    def __post_init__(self) -> None:
        if not self.prompt:
            self.prompt = system_prompt(self.tools.toolset.schemas(), small_talk=True)


def completed_turns(ledger: Ledger) -> int:
    return sum(isinstance(e, SessionEnded) for e in ledger)


class Conversations:
    """The server's conversations by id: attached ones, and the most recent detached ones."""

    def __init__(
        self,
        tools: ToolsFactory,
        default_policy: Policy,
        *,
        store: SQLiteLedgerStore | None = None,
        keep_detached: int = 1000,
    ) -> None:
        self._tools = tools
        self.default_policy = default_policy
        self.store = store
        self._keep = keep_detached
        self._states: collections.OrderedDict[str, ConversationState] = collections.OrderedDict()

    def __len__(self) -> int:
        return len(self._states)

    @property
    def attached(self) -> int:
        return sum(s.attached for s in self._states.values())

    def get(self, conversation_id: str) -> ConversationState | None:
        return self._states.get(conversation_id)

    async def open(
        self, conversation_id: str | None, clock: Clock
    ) -> tuple[ConversationState, bool]:
        """Attach to a conversation: a new one (``None``) or an earlier one by id.

        Returns the state and whether it was resumed. Raises :class:`UnknownConversation` or
        :class:`ConversationBusy`.
        """
        if conversation_id is None:
            conversation_id = uuid.uuid4().hex[:16]
            ledger = Ledger(session_id=conversation_id, store=self.store)
            state = ConversationState(conversation_id, ledger, self._tools(), self.default_policy)
            resumed = False
        else:
            if not _ID_RE.match(conversation_id):
                raise UnknownConversation(conversation_id)
            found = self._states.get(conversation_id)
            if found is None:
                found = await self._load(conversation_id, clock)
            if found.attached:
                raise ConversationBusy(conversation_id)
            state, resumed = found, True
        state.attached = True
        self._states[state.conversation_id] = state
        self._states.move_to_end(state.conversation_id)
        return state, resumed

    def release(self, state: ConversationState) -> None:
        """Detach; forget the oldest detached conversations beyond ``keep_detached``."""
        state.attached = False
        detached = [k for k, s in self._states.items() if not s.attached]
        for key in detached[: max(0, len(detached) - self._keep)]:
            del self._states[key]

    async def _load(self, conversation_id: str, clock: Clock) -> ConversationState:
        if self.store is None or conversation_id not in self.store.sessions():
            raise UnknownConversation(conversation_id)
        ledger = Ledger.load(self.store, conversation_id)
        # The example world lived in memory: a conversation reopened from the store after a
        # restart gets fresh tools; its ledger (what the model knows) is intact.
        state = ConversationState(conversation_id, ledger, self._tools(), self.default_policy)
        if len(ledger) and not isinstance(ledger.events[-1], SessionEnded):
            await close_cut_turn(ledger, state.tools.toolset, clock, "server_restarted")
        return state


class TurnListener(Protocol):
    """Where a runner reports its turns (the WebSocket connection, the Pipecat processor)."""

    def event(self, turn: int, event: Event) -> None:
        """An event a turn's session recorded, as it happened."""

    def turn_ended(self, turn: int, result: SessionResult | None, error: Exception | None) -> None:
        """A turn is over: its result, or the model error that ended it (the turn is closed
        in the ledger either way)."""


@dataclass
class _Turn:
    index: int
    feed: LiveSpeech
    session: Session
    task: asyncio.Task[None] | None = field(default=None, repr=False)


class ConversationRunner:
    """Plays a conversation's turns while a client is attached (see the module docstring)."""

    def __init__(
        self,
        state: ConversationState,
        backend: ModelBackend,
        clock: Clock,
        listener: TurnListener,
        *,
        session_config: SessionConfig | None = None,
    ) -> None:
        self.state = state
        self.backend = backend
        self.clock = clock
        self._listener = listener
        self._config = session_config
        self._inbox: asyncio.Queue[UserSpeech | tuple[str, str] | _Turn] = asyncio.Queue()
        self._turn: _Turn | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        self.turns_played = 0

    @property
    def turn(self) -> int:
        """The number of the turn under way, or of the next one."""
        if self._turn is not None:
            return self._turn.index
        return completed_turns(self.state.ledger) + 1

    @property
    def speaking(self) -> bool:
        """Whether a turn is under way."""
        return self._turn is not None

    @property
    def session(self) -> Session | None:
        """The session of the turn under way."""
        return self._turn.session if self._turn is not None else None

    # -- from the client ------------------------------------------------------------------------

    def hear(self, text: str, final: bool) -> None:
        self._idle.clear()
        self._inbox.put_nowait(UserSpeech(t=self.clock.now(), text=text, final=final))

    async def idle(self) -> None:
        """Until no turn is under way and no words wait to be heard."""
        await self._idle.wait()

    def interrupt(self, reason: str) -> None:
        self._inbox.put_nowait(("interrupt", reason))

    def set_policy(self, policy: Policy) -> None:
        """Play the next turns under ``policy`` (a turn under way keeps its own)."""
        if policy not in LIVE_POLICIES:
            raise ValueError(f"policy {policy.value!r} cannot hear live speech")
        self.state.policy = policy

    # -- the loop -------------------------------------------------------------------------------

    async def run(self) -> None:
        """Play turns until cancelled (the client left); a turn cut short closes itself."""
        try:
            async with asyncio.TaskGroup() as group:
                self._group = group
                while True:
                    item = await self._inbox.get()
                    if isinstance(item, UserSpeech):
                        self._on_speech(item)
                    elif isinstance(item, _Turn):
                        self._end_turn(item)
                    elif self._turn is not None:  # ("interrupt", reason)
                        self._turn.session.interrupt(item[1])
        finally:
            self._turn = None

    def _on_speech(self, speech: UserSpeech) -> None:
        turn = self._turn
        if turn is None:
            turn = self._start_turn()
        turn.feed.put(speech)

    def _start_turn(self) -> _Turn:
        state = self.state
        index = completed_turns(state.ledger) + 1
        listener = self._listener
        session = Session(
            self.backend,
            state.tools.toolset,
            self.clock,
            state.policy,
            ledger=state.ledger,
            latency=state.tools.latency,
            observer=lambda event: listener.event(index, event),
            config=self._config,
            prompt=state.prompt,
            cut_reason="disconnected",  # cancelled: the client left or the server stops
        )
        turn = _Turn(index, LiveSpeech(), session)
        turn.task = self._group.create_task(self._play(turn), name=f"turn-{index}")
        self._turn = turn
        return turn

    async def _play(self, turn: _Turn) -> None:
        try:
            result = await turn.session.run(turn.feed)
        except (ModelError, ValueError) as exc:  # the session closed the turn (turn_failed)
            self._listener.turn_ended(turn.index, None, exc)
        else:
            self.turns_played += 1
            self._listener.turn_ended(turn.index, result, None)
        self._inbox.put_nowait(turn)

    def _end_turn(self, turn: _Turn) -> None:
        self._turn = None
        for speech in turn.feed.leftovers():  # heard after the session stopped reading
            self._on_speech(speech)
        if self._turn is None and self._inbox.empty():
            self._idle.set()
