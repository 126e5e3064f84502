"""The ``verified`` policy: speculation that makes the sync run's decisions, sooner.

Streaming policies gain time by acting on a partial request, and pay for it in accuracy when the
model commits to what it has heard so far. This policy keeps the gain without the loss, by the
Actor/Speculator pattern of speculative actions:

* the **speculator** is an ``async`` session on a copy of the ledger. It hears the partial
  request while the user speaks, calls read-only tools early (state-changing ones are held and,
  since it never hears the final words, never run) and writes the calls and answer it guesses;
* at the user's final words the speculator is stopped. The **actor** is a plain ``sync``
  session on the real ledger: it sees exactly what ``sync`` sees and makes ``sync``'s
  choices. Each of its generations is given the speculator's next unused action as a
  *draft* (:attr:`ModelBackend.supports_draft`): the backend checks the whole draft in one
  batched pass at prompt speed and keeps the start greedy decoding agrees with, then decodes
  on. A right guess costs a prefill instead of a decode; a wrong one costs its check and
  changes nothing;
* a read the actor makes that the speculator already started (same tool, same arguments, no
  state-changing call by the actor before it) is **handed over**: the actor adopts the
  speculator's pending request (:class:`ReadPool`), so the tool runs once and the actor waits
  only for the time that request had left.

What is guaranteed, and what is not (docs/verified.md says the same):

* the speculator never changes real state: its toolset refuses every state-changing tool
  (and under ``async`` such calls are held anyway, and it never hears the final words);
* draft tokens are never kept inside the arguments of a state-changing call: such a draft
  stops before ``"arguments"`` and the actor decodes every argument itself. The actor is
  ``sync``, so its writes commit as soon as written, exactly as ``sync``'s would;
* a draft token is kept only where it is the model's own greedy choice, so the trajectory is
  the sync run's, except where a near-tie resolves differently because a batch rounds unlike
  tokens evaluated one by one (docs/verified.md measures how often). This is a measured
  bound, not a proof.

Costs are reported under their own names: ``speculator_calls`` (reads the speculator
started), ``reads_joined`` (of those, adopted by the actor), the speculator's tokens count as
generated, and its reads the actor did not adopt as wasted. A stored session resumes
(:meth:`VerifiedSession.resume`) as its actor: the speculator's guesses are gone, and the turn
goes on as ``sync`` would.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterable, Callable, Sequence
from typing import Any

from ..clock import Clock
from ..events import (
    Event,
    ModelOutput,
    SessionEnded,
    ToolCallIssued,
    ToolCallRevised,
    ToolCallStarted,
    UserSpeech,
)
from ..executor import LatencyFn
from ..grounding import evidence_in
from ..ledger import Ledger, SQLiteLedgerStore
from ..models.base import ModelBackend
from ..models.draft_decoding import DraftDecodingBackend
from ..tools import Toolset
from .call_rules import call_key
from .drafts import DraftBook, DraftingBackend, RecordingBackend
from .policies import Policy
from .read_pool import ReadPool, SpeculatorWriteRefused
from .records import SessionResult
from .session import Session, SessionConfig
from .speech_feed import partials_then_silence

__all__ = ["VerifiedSession", "DraftBook", "ReadPool", "SpeculatorWriteRefused", "session_for"]


class VerifiedSession:
    """One user turn under the ``verified`` policy (see the module docstring).

    Takes the same arguments as :class:`Session` (``policy`` must be ``Policy.VERIFIED``) and
    returns the actor's :class:`SessionResult`, with the speculator's costs added.
    """

    def __init__(
        self,
        backend: ModelBackend,
        toolset: Toolset,
        clock: Clock,
        policy: Policy = Policy.VERIFIED,
        *,
        ledger: Ledger | None = None,
        latency: LatencyFn | None = None,
        speculator_latency: LatencyFn | None = None,
        observer: Callable[[Event], None] | None = None,
        config: SessionConfig | None = None,
        prompt: str | None = None,
        known: str = "",
        speculator_backend: ModelBackend | None = None,
        answer_drafts: bool = True,
    ) -> None:
        """``speculator_latency``: the speculator's own tool latencies (default: the same
        function as ``latency``; pass a separate one with the same draws to leave the actor
        the draws ``sync`` would get). ``speculator_backend``: a different (faster) model to
        guess with; the actor's checks keep only what the actor's model would write, so the
        outcome stays the actor's. ``answer_drafts``: the speculator writes out the answers it
        begins while the user speaks (never shown) so they can be drafts too."""
        if policy is not Policy.VERIFIED:
            raise ValueError(f"VerifiedSession plays the verified policy, not {policy.value!r}")
        self.backend, self.toolset, self.clock = backend, toolset, clock
        self.speculator_backend = speculator_backend or backend
        self.answer_drafts = answer_drafts
        self.ledger = ledger if ledger is not None else Ledger()
        self.config = config or SessionConfig()
        self.prompt = prompt
        self.known = known
        self.observer = observer
        self.book = DraftBook(toolset)
        self._actor_latency = latency or (lambda name, arguments: 0.0)
        self.reads = ReadPool(
            clock, toolset, speculator_latency or self._actor_latency, self._actor_latency
        )

    @classmethod
    def resume(
        cls,
        store: SQLiteLedgerStore,
        session_id: str,
        backend: ModelBackend,
        toolset: Toolset,
        clock: Clock,
        policy: Policy = Policy.VERIFIED,
        **options: Any,
    ) -> VerifiedSession:
        """Reopen a stored session that stopped mid-turn; ``run`` it with the same speech.

        The turn goes on as its actor, a ``sync`` session, resumes (see
        :meth:`Session.resume`): the speculator's guesses died with the process, and without
        them the outcome is the one ``sync`` reaches.
        """
        ledger = Ledger.load(store, session_id)
        if not len(ledger):
            raise ValueError(f"no stored session {session_id!r} in {store.path}")
        if isinstance(ledger.events[-1], SessionEnded):
            raise ValueError(f"session {session_id!r} already ended; nothing to resume")
        return cls(backend, toolset, clock, policy, ledger=ledger, **options)

    def _actor(self, backend: ModelBackend, toolset: Toolset, latency: LatencyFn) -> Session:
        return Session(
            backend,
            toolset,
            self.clock,
            Policy.SYNC,
            ledger=self.ledger,
            latency=latency,
            observer=self.observer,
            config=self.config,
            prompt=self.prompt,
            known=self.known,
        )

    async def run(self, speech: Sequence[UserSpeech] | AsyncIterable[UserSpeech]) -> SessionResult:
        if not isinstance(speech, Sequence):
            raise ValueError("the verified policy needs the turn's timed speech as a sequence")
        if not speech or not speech[-1].final:
            raise ValueError("speech must be a non-empty sequence ending with a final update")
        if len(self.ledger) and not isinstance(self.ledger.events[-1], SessionEnded):
            # A stored turn that did not end: its actor resumes it (see resume()).
            result = await self._actor(self.backend, self.toolset, self._actor_latency).run(speech)
            return dataclasses.replace(result, policy=Policy.VERIFIED.value)
        turn_start = len(self.ledger)
        speculator = Session(
            RecordingBackend(self.speculator_backend, self.book),
            self.reads.speculator_tools(),
            self.clock,
            Policy.ASYNC,
            ledger=self.ledger.fork(),
            latency=self.reads.speculator_latency,
            config=dataclasses.replace(self.config, draft_answers=self.answer_drafts),
            prompt=self.prompt,
            known=self.known,
        )
        drafting = DraftingBackend(self.backend, lambda: self._next_draft(turn_start))
        actor = self._actor(drafting, self.reads.actor_tools(), self.reads.actor_latency)
        t0 = self.clock.now()
        async with asyncio.TaskGroup() as group:
            self.reads.bind(group)
            guessing = group.create_task(speculator.run(partials_then_silence(self.clock, speech)))
            acting = group.create_task(actor.run(speech))
            await self.clock.sleep_until(t0 + speech[-1].t)
            guessing.cancel()  # the final words are in: the actor takes over
            try:
                await acting
            finally:
                self.reads.cancel_unadopted()  # reads nobody adopted: wasted, stopped now
        return self._merge(acting.result(), speculator, turn_start, drafting)

    def _next_draft(self, turn_start: int) -> str:
        made = {
            call_key(e.name, e.arguments)
            for e in self.ledger.events[turn_start:]
            if isinstance(e, (ToolCallIssued, ToolCallRevised))
        }
        ids = [e.call_id for e in self.ledger if isinstance(e, (ToolCallIssued, ToolCallRevised))]
        return self.book.draft_for(made, max(ids, default=0) + 1, evidence_in(self.ledger))

    def _merge(
        self, actor: SessionResult, speculator: Session, turn_start: int, drafting: DraftingBackend
    ) -> SessionResult:
        guessed = speculator.ledger.events[turn_start:]
        started = sum(isinstance(e, ToolCallStarted) for e in guessed)
        tokens = sum(e.tokens for e in guessed if isinstance(e, ModelOutput))
        stats = dataclasses.replace(
            actor.speculation,
            wasted=actor.speculation.wasted + max(0, started - self.reads.joined),
            drafted_tokens=drafting.drafted_tokens,
            accepted_tokens=drafting.accepted_tokens,
            speculator_calls=started,
            reads_joined=self.reads.joined,
        )
        return dataclasses.replace(
            actor,
            policy=Policy.VERIFIED.value,
            tokens_generated=actor.tokens_generated + tokens,
            speculation=stats,
        )


def session_for(
    policy: Policy,
    backend: ModelBackend,
    toolset: Toolset,
    clock: Clock,
    *,
    speculator_latency: LatencyFn | None = None,
    draft_backend: ModelBackend | None = None,
    **options: Any,
) -> Session | VerifiedSession:
    """The session that plays ``policy``: :class:`VerifiedSession` for ``verified``, else
    :class:`Session` (same arguments). ``speculator_latency`` only matters to ``verified``.
    ``draft_backend``: a (faster) draft model: ``verified``'s speculator, and ``sync-draft``'s
    drafter (required there)."""
    if policy is Policy.VERIFIED:
        return VerifiedSession(
            backend,
            toolset,
            clock,
            policy,
            speculator_latency=speculator_latency,
            speculator_backend=draft_backend,
            **options,
        )
    if policy is Policy.SYNC_DRAFT:
        if draft_backend is None:
            raise ValueError("the sync-draft policy needs a draft model (draft_backend=...)")
        if not isinstance(draft_backend, DraftDecodingBackend):
            draft_backend = DraftDecodingBackend(backend, draft_backend)
        backend = draft_backend
    return Session(backend, toolset, clock, policy, **options)
