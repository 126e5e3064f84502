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
import contextlib
import dataclasses
import re
from collections.abc import AsyncIterable, AsyncIterator, Callable, Mapping, Sequence
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
from ..grounding import evidence_in, said_values_prefix
from ..ledger import Ledger, SQLiteLedgerStore
from ..models.base import ChatMessage, ModelBackend
from ..protocol import AnswerAction, ParseError, RemoveAction, ToolCallAction, parse_output
from ..tools import Tool, Toolset
from .policies import Policy
from .records import SessionResult
from .session import Session, SessionConfig, call_key

__all__ = ["VerifiedSession", "DraftBook", "ReadPool", "SpeculatorWriteRefused", "session_for"]

_CALL_ID_RE = re.compile(r'<tool_call id="\d+"')
_NAME_RE = re.compile(r'"name"\s*:\s*"([^"]+)"')
_ARGUMENTS_KEY = '"arguments"'


class SpeculatorWriteRefused(RuntimeError):
    """The speculator tried to run a state-changing tool (it never may)."""


class DraftBook:
    """What the speculator wrote, turned into drafts for the actor's generations."""

    def __init__(self, toolset: Toolset | None = None) -> None:
        self._toolset = toolset
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
                if self._writes(renumbered):  # the actor decodes a write's arguments itself
                    return renumbered[: renumbered.index(_ARGUMENTS_KEY)]
                return said_values_prefix(renumbered, evidence)
        return ""

    def _writes(self, call_text: str) -> bool:
        """Whether a drafted call is to a state-changing (or unknown) tool and already reached
        its arguments."""
        if self._toolset is None or _ARGUMENTS_KEY not in call_text:
            return False
        name = _NAME_RE.search(call_text[: call_text.index(_ARGUMENTS_KEY)])
        tool = self._toolset.get(name.group(1)) if name else None
        return tool is None or tool.effect.changes_state


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


class ReadPool:
    """Reads the speculator started, run once, for the actor to adopt.

    The speculator's read-only tools are wrapped so each call starts a task owned by the
    :class:`VerifiedSession` (it outlives the speculator, which is stopped at the final words),
    applying the speculator's latency draw itself. When the actor makes the same read (same
    tool and arguments, no state-changing call of its own before it), its latency function
    hands it that task: the actor's executor waits only for what is left of it, and its tool
    function returns the task's result. The tool runs once. Reads nobody adopted are cancelled
    when the turn ends. Every state-changing tool of the speculator refuses to run.
    """

    def __init__(
        self,
        clock: Clock,
        toolset: Toolset,
        speculator_latency: LatencyFn,
        actor_latency: LatencyFn,
    ) -> None:
        self._clock, self._toolset = clock, toolset
        self._spec_latency, self._actor_latency = speculator_latency, actor_latency
        self._group: asyncio.TaskGroup | None = None
        self._pending: dict[str, list[asyncio.Task[Any]]] = {}  # started, not yet adopted
        self._handed: dict[str, list[asyncio.Task[Any]]] = {}  # adopted, awaiting the tool fn
        self._actor_wrote = False
        self.started = 0
        self.joined = 0

    def bind(self, group: asyncio.TaskGroup) -> None:
        self._group = group

    # -- the speculator's side ------------------------------------------------------------

    def speculator_tools(self) -> Toolset:
        return Toolset(self._speculator_tool(t) for t in self._toolset.values())

    def _speculator_tool(self, tool: Tool) -> Tool:
        if tool.effect.changes_state:

            async def refuse(**arguments: Any) -> Any:
                raise SpeculatorWriteRefused(f"the speculator may not run {tool.name!r}")

            return dataclasses.replace(tool, fn=refuse, idempotency_key=None)

        async def pooled(**arguments: Any) -> Any:
            return _unwrap(await asyncio.shield(self._launch(tool, arguments)))

        return dataclasses.replace(tool, fn=pooled, idempotency_key=None)

    def speculator_latency(self, name: str, arguments: Mapping[str, Any]) -> float:
        tool = self._toolset.get(name)
        if tool is not None and not tool.effect.changes_state:
            return 0.0  # the pooled task waits out the draw itself
        return self._spec_latency(name, arguments)

    def _launch(self, tool: Tool, arguments: dict[str, Any]) -> asyncio.Task[Any]:
        assert self._group is not None, "ReadPool used outside VerifiedSession.run"
        seconds = self._spec_latency(tool.name, arguments)

        async def run() -> tuple[bool, Any]:
            # The outcome is returned, never raised: a failing read must not end the task
            # group that owns it; whoever awaits it raises the tool's error as its own.
            await self._clock.sleep(seconds)
            try:
                return True, await tool.call(arguments, call_key=f"speculator-{self.started}")
            except Exception as exc:  # noqa: BLE001 - handed to the awaiting call
                return False, exc

        task = self._group.create_task(run(), name=f"speculator-read-{tool.name}")
        self._pending.setdefault(call_key(tool.name, arguments), []).append(task)
        self.started += 1
        return task

    # -- the actor's side -----------------------------------------------------------------

    def actor_tools(self) -> Toolset:
        return Toolset(self._actor_tool(t) for t in self._toolset.values())

    def _actor_tool(self, tool: Tool) -> Tool:
        if tool.effect.changes_state:
            return tool

        async def adopting(**arguments: Any) -> Any:
            written = {k: v for k, v in arguments.items() if k != tool.idempotency_key}
            handed = self._handed.get(call_key(tool.name, written))
            if handed:
                task = handed.pop(0)
                try:
                    return _unwrap(await asyncio.shield(task))
                except asyncio.CancelledError:
                    task.cancel()  # the actor gave up on it (timeout, withdrawal): so do we
                    raise
            return await tool.fn(**arguments)

        return dataclasses.replace(tool, fn=adopting)

    def actor_latency(self, name: str, arguments: Mapping[str, Any]) -> float:
        own = self._actor_latency(name, arguments)  # drawn always: later draws match sync's
        tool = self._toolset.get(name)
        if tool is None or tool.effect.changes_state:
            self._actor_wrote = self._actor_wrote or tool is not None
            return own
        key = call_key(name, arguments)
        pending = self._pending.get(key)
        if self._actor_wrote or not pending:
            return own  # after a write, an earlier read may be stale: run it afresh
        self._handed.setdefault(key, []).append(pending.pop(0))
        self.joined += 1
        return 0.0  # the adopted task holds the time its request has left

    def cancel_unadopted(self) -> None:
        for tasks in self._pending.values():
            for task in tasks:
                task.cancel()


def _unwrap(outcome: tuple[bool, Any]) -> Any:
    ok, value = outcome
    if not ok:
        raise value
    return value


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
        known: str = "",
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

    async def run(
        self, speech: Sequence[UserSpeech] | AsyncIterable[UserSpeech]
    ) -> SessionResult:
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
            _RecordingBackend(self.backend, self.book),
            self.reads.speculator_tools(),
            self.clock,
            Policy.ASYNC,
            ledger=self.ledger.fork(),
            latency=self.reads.speculator_latency,
            config=self.config,
            prompt=self.prompt,
            known=self.known,
        )
        drafting = _DraftingBackend(self.backend, lambda: self._next_draft(turn_start))
        actor = self._actor(drafting, self.reads.actor_tools(), self.reads.actor_latency)
        t0 = self.clock.now()
        async with asyncio.TaskGroup() as group:
            self.reads.bind(group)
            guessing = group.create_task(speculator.run(_partials(self.clock, speech)))
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
        self, actor: SessionResult, speculator: Session, turn_start: int, drafting: _DraftingBackend
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
    **options: Any,
) -> Session | VerifiedSession:
    """The session that plays ``policy``: :class:`VerifiedSession` for ``verified``, else
    :class:`Session` (same arguments). ``speculator_latency`` only matters to ``verified``."""
    if policy is Policy.VERIFIED:
        return VerifiedSession(
            backend, toolset, clock, policy, speculator_latency=speculator_latency, **options
        )
    return Session(backend, toolset, clock, policy, **options)
