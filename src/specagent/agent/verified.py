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
  state-changing call by the actor before it) joins that request in flight: it waits only for
  the time the speculator's request had left. The tool itself runs again for the actor, so the
  result it reads is current.

A draft token is kept only where it is the model's own greedy choice, so the trajectory is
the sync run's, except where a near-tie resolves differently because a batch rounds unlike
tokens evaluated one by one (docs/verified.md measures how often). Costs are reported: the speculator's tokens count as
generated, its calls as issued, and those the actor did not join as wasted.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import re
from collections.abc import AsyncIterable, AsyncIterator, Callable, Mapping, Sequence
from typing import Any

from ..clock import Clock
from ..executor import LatencyFn
from ..grounding import evidence_in, said_values_prefix
from ..events import Event, ModelOutput, ToolCallIssued, ToolCallRevised, ToolCallStarted, UserSpeech
from ..ledger import Ledger
from ..models.base import ChatMessage, ModelBackend
from ..protocol import AnswerAction, ParseError, RemoveAction, ToolCallAction, parse_output
from ..tools import Toolset
from .policies import Policy
from .records import SessionResult
from .session import Session, SessionConfig, call_key

__all__ = ["VerifiedSession", "DraftBook", "session_for"]

_CALL_ID_RE = re.compile(r'<tool_call id="\d+"')


class DraftBook:
    """What the speculator wrote, turned into drafts for the actor's generations."""

    def __init__(self) -> None:
        self.outputs: list[str] = []  # the speculator's generations, in order
        self._offered: set[str] = set()  # drafts handed out, as the speculator wrote them

    def actions(self) -> tuple[list[tuple[str, str]], str | None, str | None]:
        """The speculator's standing calls as (key, text), in id order; its last answer; and
        the action it was still writing when it was stopped, if any.

        A revision replaces its call's text; a removal drops it; pauses and unreadable
        outputs are skipped. A generation stopped before it wrote anything (new words came
        in while its prompt was evaluated) changes nothing: the action before it still stands.
        """
        calls: dict[int, tuple[str, str]] = {}
        answer: str | None = None
        unfinished: str | None = None
        next_id = 1
        written = [text for text in self.outputs if text.strip()]
        for index, text in enumerate(written):
            try:
                action = parse_output(text, next_id).action
            except ParseError:
                # Cut off by new words or the final words (the speculator is stopped mid-call):
                # its start is still a good draft. Earlier unreadable outputs are just skipped.
                last = index == len(written) - 1
                if last and ("<tool_call" in text or "<answer>" in text):
                    unfinished = text
                continue
            if isinstance(action, ToolCallAction):
                calls[action.call_id] = (call_key(action.name, action.arguments), text)
                next_id = max(next_id, action.call_id + 1)
            elif isinstance(action, RemoveAction):
                calls.pop(action.call_id, None)
            elif isinstance(action, AnswerAction):
                answer = text
        return [calls[i] for i in sorted(calls)], answer, unfinished

    def draft_for(self, made: set[str], next_id: int, evidence: str) -> str:
        """The draft for the actor's next generation: the first guessed call it has not made
        (renumbered to the id the actor will use), else the unfinished action, else the
        guessed answer, else nothing.

        Each guess is offered once: the generation it was given to either wrote it (and
        the call is made) or wrote something else in its place. A call draft stops before
        any argument value missing from ``evidence`` (what the actor has heard and read)
        and before a value the speculator was cut off in: where a value was never said the
        model is unsure, and a near-tie could go the draft's way in a batch and the other
        way in plain decoding. The actor writes such values itself.
        """
        calls, answer, unfinished = self.actions()
        guesses = [text for key, text in calls if key not in made] + [unfinished, answer]
        for text in guesses:
            if text is not None and text not in self._offered:
                self._offered.add(text)
                if "<tool_call" not in text:
                    return text  # the answer
                renumbered = _CALL_ID_RE.sub(f'<tool_call id="{next_id}"', text, count=1)
                return said_values_prefix(renumbered, evidence)
        return ""


class _RecordingBackend(ModelBackend):
    """The speculator's view of the model: passes streams through, keeps complete outputs."""

    def __init__(self, inner: ModelBackend, book: DraftBook) -> None:
        self.inner, self.book = inner, book
        self.name = inner.name
        self.supports_prefix = inner.supports_prefix

    async def stream(  # type: ignore[override]
        self, messages: Sequence[ChatMessage], *, max_tokens: int = 256, **options: Any
    ) -> AsyncIterator[str]:
        pieces: list[str] = []
        try:
            async with contextlib.aclosing(
                self.inner.stream(messages, max_tokens=max_tokens, **options)
            ) as stream:
                async for piece in stream:
                    pieces.append(piece)
                    yield piece
        finally:
            # Kept even when the session stops reading early (it does once an action is
            # complete) or cuts the generation: a draft is checked before use, so a partial
            # one can only cost its check.
            self.book.outputs.append(options.get("prefix", "") + "".join(pieces))

    async def warm_up(self, messages: Sequence[ChatMessage]) -> None:
        await self.inner.warm_up(messages)


class _DraftingBackend(ModelBackend):
    """The actor's view of the model: every generation is handed the book's next draft."""

    def __init__(self, inner: ModelBackend, draft: Callable[[], str]) -> None:
        self.inner, self._draft = inner, draft
        self.name = inner.name
        self.supports_prefix = inner.supports_prefix
        self.drafted_tokens = 0
        self.accepted_tokens = 0
        self._cache_restored = False

    async def stream(  # type: ignore[override]
        self, messages: Sequence[ChatMessage], *, max_tokens: int = 256, prefix: str = ""
    ) -> AsyncIterator[str]:
        if not self._cache_restored and len(messages) > 1:
            # The speculator left its own context in the model's prefix cache. Put back what
            # sync would find there (the context before this turn's request), so the actor's
            # prompt is evaluated from the same point, in the same batches, as sync's. Like
            # the session's own warm-up, this charges no clock time.
            self._cache_restored = True
            await self.inner.warm_up(messages[:-1])
        draft = "" if prefix or not self.inner.supports_draft else self._draft()
        options: dict[str, Any] = {"prefix": prefix} if prefix else {}
        if draft:
            options["draft"] = draft
        self.inner.last_draft = None
        try:
            async with contextlib.aclosing(
                self.inner.stream(messages, max_tokens=max_tokens, **options)
            ) as stream:
                async for piece in stream:
                    yield piece
        finally:  # the session stops reading once the action is complete
            checked = self.inner.last_draft
            if draft and checked is not None:
                self.drafted_tokens += checked.draft_tokens
                self.accepted_tokens += checked.accepted_tokens

    async def warm_up(self, messages: Sequence[ChatMessage]) -> None:
        await self.inner.warm_up(messages)


class _ReadJoiner:
    """Latencies for the two sessions: the actor's reads join the speculator's in flight."""

    def __init__(self, clock: Clock, toolset: Toolset, spec: LatencyFn, actor: LatencyFn) -> None:
        self._clock, self._toolset = clock, toolset
        self._spec, self._actor = spec, actor
        self.in_flight: dict[str, list[float]] = {}  # call key -> when each speculator run ends
        self.joined = 0
        self._actor_wrote = False

    def speculator(self, name: str, arguments: Mapping[str, Any]) -> float:
        seconds = self._spec(name, arguments)
        self.in_flight.setdefault(call_key(name, arguments), []).append(
            self._clock.now() + seconds
        )
        return seconds

    def actor(self, name: str, arguments: Mapping[str, Any]) -> float:
        own = self._actor(name, arguments)  # drawn always, so later calls match sync's draws
        tool = self._toolset.get(name)
        if tool is None or tool.effect.changes_state:
            self._actor_wrote = self._actor_wrote or tool is not None
            return own
        ends = self.in_flight.get(call_key(name, arguments))
        if self._actor_wrote or not ends:
            return own  # after a write, an earlier read may be stale: run it afresh
        self.joined += 1
        return max(0.0, ends.pop(0) - self._clock.now())


async def _partials(clock: Clock, speech: Sequence[UserSpeech]) -> AsyncIterator[UserSpeech]:
    """The speech before the final update, live, then silence until cancelled."""
    t0 = clock.now()
    for chunk in speech:
        if chunk.final:
            break
        await clock.sleep_until(t0 + chunk.t)
        yield chunk
    await asyncio.Event().wait()


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
    ) -> None:
        """``speculator_latency``: the speculator's own tool latencies (default: the same
        function as ``latency``; pass a separate one with the same draws to leave the actor
        the draws ``sync`` would get)."""
        if policy is not Policy.VERIFIED:
            raise ValueError(f"VerifiedSession plays the verified policy, not {policy.value!r}")
        self.backend, self.toolset, self.clock = backend, toolset, clock
        self.ledger = ledger if ledger is not None else Ledger()
        self.config = config or SessionConfig()
        self.prompt = prompt
        self.observer = observer
        self.book = DraftBook()
        actor_latency = latency or (lambda name, arguments: 0.0)
        self.reads = _ReadJoiner(clock, toolset, speculator_latency or actor_latency, actor_latency)

    async def run(
        self, speech: Sequence[UserSpeech] | AsyncIterable[UserSpeech]
    ) -> SessionResult:
        if not isinstance(speech, Sequence):
            raise ValueError("the verified policy needs the turn's timed speech as a sequence")
        if not speech or not speech[-1].final:
            raise ValueError("speech must be a non-empty sequence ending with a final update")
        turn_start = len(self.ledger)
        speculator = Session(
            _RecordingBackend(self.backend, self.book),
            self.toolset,
            self.clock,
            Policy.ASYNC,
            ledger=self.ledger.fork(),
            latency=self.reads.speculator,
            config=self.config,
            prompt=self.prompt,
        )
        drafting = _DraftingBackend(self.backend, lambda: self._next_draft(turn_start))
        actor = Session(
            drafting,
            self.toolset,
            self.clock,
            Policy.SYNC,
            ledger=self.ledger,
            latency=self.reads.actor,
            observer=self.observer,
            config=self.config,
            prompt=self.prompt,
        )
        t0 = self.clock.now()
        async with asyncio.TaskGroup() as group:
            guessing = group.create_task(speculator.run(_partials(self.clock, speech)))
            acting = group.create_task(actor.run(speech))
            await self.clock.sleep_until(t0 + speech[-1].t)
            guessing.cancel()  # the final words are in: the actor takes over
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
        self, actor: SessionResult, speculator: Session, turn_start: int, drafting: _DraftingBackend
    ) -> SessionResult:
        guessed = speculator.ledger.events[turn_start:]
        started = sum(isinstance(e, ToolCallStarted) for e in guessed)
        tokens = sum(e.tokens for e in guessed if isinstance(e, ModelOutput))
        stats = dataclasses.replace(
            actor.speculation,
            issued=actor.speculation.issued + started,
            run_early=self.reads.joined,
            wasted=actor.speculation.wasted + max(0, started - self.reads.joined),
            drafted_tokens=drafting.drafted_tokens,
            accepted_tokens=drafting.accepted_tokens,
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
    **options: Any,
) -> Session | VerifiedSession:
    """The session that plays ``policy``: :class:`VerifiedSession` for ``verified``, else
    :class:`Session` (same arguments). ``speculator_latency`` only matters to ``verified``."""
    if policy is Policy.VERIFIED:
        return VerifiedSession(
            backend, toolset, clock, policy, speculator_latency=speculator_latency, **options
        )
    return Session(backend, toolset, clock, policy, **options)
