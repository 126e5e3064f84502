"""Property-based tests of the safety rules over random schedules, every policy, crash and resume.

Each example draws one scenario: the user's timed speech (or, for the streaming policies, live
speech with a second utterance that starts after a final one), a scripted model's actions
(new calls with their own ids or with none, revisions, id-less rewrites, removals, pauses,
untagged prose), random token timing, random tool latencies and, for some schedules, a crash at
a random ledger event followed by a resume from the durable store. It runs under all five
policies against a small world with a tool of every kind:

* ``lookup(key)``: read-only;
* ``put(key, value)``: irreversible, sandboxable (runs early on a copy under speculative);
* ``add(key, n)``: reversible, compensated by subtracting (runs early under speculative);
* ``send(text)``: irreversible, not sandboxable: always held for its commit point;
* ``setv(key, value)``: idempotent, not sandboxable: held like any other write;
* ``mark(key)``: idempotent, sandboxable.

Every write takes an idempotency key (the runtime fills it with session:call:version), so the
world logs which version of which call touched the real state and when, and drops a key it
has already applied (a service that deduplicates). The properties, checked on every schedule:

1. **No early effect.** No state-changing or idempotent call touches the real state before its
   commit point, computed here from the ledger and the model's own log, not taken from the
   session: the final update heard, no newer speech recorded by the time of the decision, and
   the model itself wrote a higher call id, a pause or a tagged answer after the call (for the
   policies that act on the whole request, the generation that wrote the call, if no words
   arrived while it ran). The only exception: a reversible call that ``speculative`` ran early
   with its compensation registered, which must end committed or compensated. A sandboxed
   call reaches the real state only when its commit is recorded. ``verified``'s speculator
   never touches it at all.
2. **One disposition.** Every version of every call ends committed, cancelled or compensated,
   exactly once, across a crash and resume.
3. **Replay.** The real world at the end equals a sequential replay, on a fresh world, of the
   committed versions that succeeded, in the order of their commit events: nothing committed
   was repeated or undone, nothing uncommitted left a trace.
4. **No task left.** When ``run`` returns, only the caller's task exists.

The number of schedules per run is ``SCHEDULES`` below (examples x policies); the time it takes
is in the README's test section.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from specagent.agent import Policy, Session, SessionConfig, VerifiedSession, session_for
from specagent.agent.restore import RESUMED
from specagent.clock import VirtualClock
from specagent.events import (
    AnswerSuppressed,
    Event,
    ModelOutput,
    ProtocolError,
    SessionEnded,
    Timer,
    ToolCallCancelled,
    ToolCallCommitted,
    ToolCallCompensated,
    ToolCallFailed,
    ToolCallFinished,
    ToolCallIssued,
    ToolCallRevised,
    ToolCallStarted,
    UserSpeech,
)
from specagent.executor import ABORTED, Disposition
from specagent.ledger import Ledger, SQLiteLedgerStore
from specagent.models import GenerationRequest, ScriptedBackend
from specagent.protocol import (
    AnswerAction,
    ParseError,
    PauseAction,
    RemoveAction,
    ToolCallAction,
    action_end,
    answer_start,
    parse_output,
    render_action,
)
from specagent.sandbox import StateCell
from specagent.tools import Effect, Toolset, tool

KEYS = ("a", "b", "c")
SAID = "a b c 1 2 3 hi ok bye"  # every value a call may use is said in every chunk
DONE = "<answer>done</answer>"
PROSE = "fine then"
POLICIES = (Policy.SYNC, Policy.ASYNC, Policy.SPECULATIVE, Policy.ORACLE, Policy.VERIFIED)
EXAMPLES = int(__import__("os").environ.get("SPEC_EXAMPLES", "2000"))
SCHEDULES = EXAMPLES * len(POLICIES)  # 10,000 schedules a run
WRITES = ("put", "add", "send", "setv", "mark")
WHOLE_REQUEST = (Policy.SYNC, Policy.ORACLE, Policy.VERIFIED)  # their writes commit as made
CONFIG = SessionConfig(max_generations=60)

# -- the world --------------------------------------------------------------------------------


@dataclass
class World:
    kv: dict[str, int] = field(default_factory=dict)  # put
    counters: dict[str, int] = field(default_factory=dict)  # add (and its undo)
    outbox: list[str] = field(default_factory=list)  # send
    settings: dict[str, int] = field(default_factory=dict)  # setv
    marks: dict[str, bool] = field(default_factory=dict)  # mark
    applied: dict[str, Any] = field(default_factory=dict)  # idempotency key -> result

    def effects(self) -> dict[str, Any]:
        return {
            "kv": dict(self.kv),
            "counters": {k: v for k, v in self.counters.items() if v},
            "outbox": list(self.outbox),
            "settings": dict(self.settings),
            "marks": dict(self.marks),
        }


@dataclass(frozen=True)
class Touch:
    """A write's tool ran: when, for which call version (its key), on the real state or not."""

    t: float
    key: str
    real: bool


class Harness:
    """A world in a StateCell, its tools, and the log of every write's run."""

    def __init__(self) -> None:
        self.clock: VirtualClock | None = None
        self.world = World()
        self.cell: StateCell[World] = StateCell(self.world)
        self.touches: list[Touch] = []
        self.toolset = self._tools()

    def _write(self, key: str, change: Callable[[World], Any]) -> Any:
        assert self.clock is not None
        state = self.cell.get()
        self.touches.append(Touch(self.clock.now(), key, state is self.cell.real))
        if key not in state.applied:  # a key already applied is not applied again
            state.applied[key] = change(state)
        return state.applied[key]

    def _tools(self) -> Toolset:
        cell, write = self.cell, self._write

        @tool(effect=Effect.READ_ONLY)
        async def lookup(key: str) -> dict:
            """Read a key."""
            return {"key": key, "value": cell.get().kv.get(key)}

        @tool(effect=Effect.IRREVERSIBLE, state=cell, sandboxable=True, idempotency_key="req")
        async def put(key: str, value: int, req: str) -> dict:
            """Set a key."""
            return write(req, lambda w: (w.kv.__setitem__(key, value), {"key": key})[1])

        async def subtract(arguments: dict[str, Any], result: Any) -> None:
            cell.get().counters[arguments["key"]] -= arguments["n"]

        @tool(effect=Effect.REVERSIBLE, compensate=subtract, state=cell, idempotency_key="req")
        async def add(key: str, n: int, req: str) -> dict:
            """Add to a counter."""

            def change(w: World) -> dict:
                w.counters[key] = w.counters.get(key, 0) + n
                return {"key": key}

            return write(req, change)

        @tool(effect=Effect.IRREVERSIBLE, state=cell, idempotency_key="req")
        async def send(text: str, req: str) -> dict:
            """Send a message."""
            return write(req, lambda w: (w.outbox.append(text), {"sent": text})[1])

        @tool(effect=Effect.IDEMPOTENT, state=cell, idempotency_key="req")
        async def setv(key: str, value: int, req: str) -> dict:
            """Set a setting (doing it twice is doing it once)."""
            return write(req, lambda w: (w.settings.__setitem__(key, value), {"key": key})[1])

        @tool(effect=Effect.IDEMPOTENT, state=cell, sandboxable=True, idempotency_key="req")
        async def mark(key: str, req: str) -> dict:
            """Mark a key."""
            return write(req, lambda w: (w.marks.__setitem__(key, True), {"key": key})[1])

        return Toolset([lookup, put, add, send, setv, mark])


def replay(calls: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """Committed calls one after another on a fresh world."""
    world = World()
    for name, args in calls:
        if name == "put":
            world.kv[args["key"]] = args["value"]
        elif name == "add":
            world.counters[args["key"]] = world.counters.get(args["key"], 0) + args["n"]
        elif name == "send":
            world.outbox.append(args["text"])
        elif name == "setv":
            world.settings[args["key"]] = args["value"]
        elif name == "mark":
            world.marks[args["key"]] = True
    return world.effects()


# -- scenarios --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    speech: tuple[UserSpeech, ...]
    live: bool
    """Speech arrives from a live source (a second utterance starts after a final one)."""
    outputs: tuple[str, ...]
    latency_seed: int
    ttft_s: float
    token_s: float
    crash_at: int | None
    """Stop the process after this many ledger events, then resume from the store."""

    def latency(self, name: str, arguments: Any) -> float:
        key = f"{self.latency_seed}|{name}|{json.dumps(dict(arguments), sort_keys=True)}"
        return random.Random(key).uniform(0.1, 2.0)


def seconds(low: float, high: float) -> st.SearchStrategy[float]:
    return st.integers(round(low * 100), round(high * 100)).map(lambda c: c / 100)


ARGUMENTS = {
    "lookup": st.fixed_dictionaries({"key": st.sampled_from(KEYS)}),
    "put": st.fixed_dictionaries({"key": st.sampled_from(KEYS), "value": st.integers(1, 3)}),
    "add": st.fixed_dictionaries({"key": st.sampled_from(KEYS), "n": st.integers(1, 3)}),
    "send": st.fixed_dictionaries({"text": st.sampled_from(["hi", "ok", "bye"])}),
    "setv": st.fixed_dictionaries({"key": st.sampled_from(KEYS), "value": st.integers(1, 3)}),
    "mark": st.fixed_dictionaries({"key": st.sampled_from(KEYS)}),
}
TOOL_NAMES = st.sampled_from(sorted(ARGUMENTS))


def idless(action: ToolCallAction) -> str:
    return render_action(action).replace(f' id="{action.call_id}"', "", 1)


@st.composite
def model_outputs(draw: st.DrawFn) -> tuple[str, ...]:
    """What the model writes, generation by generation (then ``DONE`` for ever)."""
    outputs: list[str] = []
    issued: dict[int, str] = {}  # own ids -> tool name
    for _ in range(draw(st.integers(0, 12))):
        kind = draw(
            st.sampled_from(
                ["call", "call", "call", "idless", "revise", "rewrite", "remove", "pause", "prose"]
            )
        )
        if kind == "revise" and issued:
            call_id = draw(st.sampled_from(sorted(issued)))
            name = issued[call_id] if draw(st.booleans()) else draw(TOOL_NAMES)
            issued[call_id] = name
            outputs.append(render_action(ToolCallAction(call_id, name, draw(ARGUMENTS[name]))))
        elif kind == "rewrite" and issued:  # an id-less call of a tool already called
            name = draw(st.sampled_from(sorted(set(issued.values()))))
            outputs.append(idless(ToolCallAction(0, name, draw(ARGUMENTS[name]))))
        elif kind == "remove" and issued:
            known = st.sampled_from(sorted(issued))
            outputs.append(render_action(RemoveAction(draw(st.one_of(known, known, st.just(99))))))
        elif kind == "pause":
            outputs.append(render_action(PauseAction()))
        elif kind == "prose":
            outputs.append(PROSE)
        elif kind == "idless":
            name = draw(TOOL_NAMES)
            outputs.append(idless(ToolCallAction(0, name, draw(ARGUMENTS[name]))))
        else:
            call_id = max(issued, default=0) + 1
            name = issued[call_id] = draw(TOOL_NAMES)
            outputs.append(render_action(ToolCallAction(call_id, name, draw(ARGUMENTS[name]))))
    return tuple(outputs)


@st.composite
def speeches(draw: st.DrawFn) -> tuple[tuple[UserSpeech, ...], bool]:
    live = draw(st.booleans())
    utterances = [draw(st.integers(1, 3))] + ([draw(st.integers(1, 2))] if live else [])
    t = draw(seconds(0.0, 1.0))
    chunks: list[UserSpeech] = []
    for u, n in enumerate(utterances):
        for i in range(n):
            if chunks:
                t += draw(seconds(0.05, 1.5))
            chunks.append(UserSpeech(t=t, text=f"part {u}.{i} {SAID}", final=i == n - 1))
    return tuple(chunks), live


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    speech, live = draw(speeches())
    return Scenario(
        speech=speech,
        live=live,
        outputs=draw(model_outputs()),
        latency_seed=draw(st.integers(0, 2**16)),
        ttft_s=draw(seconds(0.01, 0.3)),
        token_s=draw(seconds(0.0, 0.05)),
        crash_at=draw(st.one_of(st.none(), st.integers(2, 40))),
    )


# -- playing a scenario -----------------------------------------------------------------------


@dataclass(frozen=True)
class Generation:
    """One generation as the model saw and wrote it."""

    started_t: float
    ended_t: float
    text: str
    prefix: str
    heard: int  # user speech updates in its context
    final: bool  # the last of them was a final update

    @property
    def acted(self) -> bool:
        start = answer_start(self.text)
        return action_end(self.text) is not None or bool(start and self.text[start:].strip())


_SPEECH_TAG = re.compile(r"<(partial|final)_query_update>")


class LoggingBackend(ScriptedBackend):
    """A scripted model that logs every generation, including those the ledger never shows."""

    def __init__(self, *args: Any, log: list[Generation], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.log = log

    async def stream(self, request: GenerationRequest) -> Any:
        messages, prefix = request.messages, request.prefix
        tags = _SPEECH_TAG.findall("\n".join(m.content for m in messages if m.role == "user"))
        started, text = self._clock.now(), prefix
        inner = super().stream(request)
        try:
            async with contextlib.aclosing(inner):
                async for piece in inner:
                    text += piece
                    yield piece
        finally:
            self.log.append(
                Generation(
                    started,
                    self._clock.now(),
                    text,
                    prefix,
                    len(tags),
                    bool(tags) and tags[-1] == "final",
                )
            )


async def live_source(
    clock: VirtualClock, speech: tuple[UserSpeech, ...]
) -> AsyncIterator[UserSpeech]:
    t0 = clock.now()
    for chunk in speech:
        await clock.sleep_until(t0 + chunk.t)
        yield chunk


@dataclass
class Outcome:
    policy: Policy
    harness: Harness
    ledger: Ledger
    log: list[Generation]
    leftover: list[asyncio.Task[Any]]
    crashed: bool


def play(scenario: Scenario, policy: Policy, latency: Any = None) -> Outcome:
    harness = Harness()
    latency = latency or scenario.latency
    store = SQLiteLedgerStore(":memory:") if scenario.crash_at is not None else None
    ledger = Ledger(store=store)
    outputs = iter(scenario.outputs)
    log: list[Generation] = []
    live = scenario.live and policy not in (Policy.ORACLE, Policy.VERIFIED)
    crash_at = scenario.crash_at if not live else None

    def backend_on(clock: VirtualClock) -> LoggingBackend:
        return LoggingBackend(
            clock,
            lambda _: next(outputs, DONE),
            log=log,
            ttft_s=scenario.ttft_s,
            token_s=scenario.token_s,
        )

    clock = harness.clock = VirtualClock()
    stop = asyncio.Event()
    session = session_for(
        policy,
        backend_on(clock),
        harness.toolset,
        clock,
        ledger=ledger,
        latency=latency,
        config=CONFIG,
        observer=lambda e: stop.set() if crash_at is not None and len(ledger) >= crash_at else None,
    )
    crashed = False

    async def first() -> bool:
        speech = live_source(clock, scenario.speech) if live else scenario.speech
        task = asyncio.create_task(session.run(speech))
        waiter = asyncio.create_task(stop.wait())
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if task.done():
            task.result()
            return False
        task.cancel()  # the process dies here
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return True

    crashed = clock.run(first())
    if crashed and isinstance(ledger.events[-1], SessionEnded):
        crashed = False  # it had finished its turn when the process died: nothing to resume
    leftover: list[asyncio.Task[Any]] = []
    if crashed:
        assert store is not None
        clock = harness.clock = VirtualClock(start_s=ledger.last_t)
        options = dict(latency=latency, config=CONFIG)
        if policy is Policy.VERIFIED:
            resumed: Any = VerifiedSession.resume(
                store, ledger.session_id, backend_on(clock), harness.toolset, clock, **options
            )
        else:
            resumed = Session.resume(
                store,
                ledger.session_id,
                backend_on(clock),
                harness.toolset,
                clock,
                policy,
                **options,
            )
        ledger = resumed.ledger

        async def second() -> list[asyncio.Task[Any]]:
            await resumed.run(scenario.speech)
            return [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]

        leftover = clock.run(second())
    else:

        async def idle() -> list[asyncio.Task[Any]]:
            return [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]

        leftover = clock.run(idle())
    return Outcome(policy, harness, ledger, log, leftover, crashed)


# -- reading the ledger -----------------------------------------------------------------------


@dataclass
class Version:
    call_id: int
    number: int
    name: str
    arguments: dict[str, Any]
    issued_at: int  # ledger index
    started: ToolCallStarted | None = None
    outcome: Event | None = None
    dispositions: list[tuple[str, int, float]] = field(default_factory=list)  # (kind, index, t)


def versions_of(events: list[Event]) -> dict[int, list[Version]]:
    """Every version of every call, with the events that decided its fate (each call event
    names its version)."""
    calls: dict[int, list[Version]] = {}
    for index, event in enumerate(events):
        if isinstance(event, (ToolCallIssued, ToolCallRevised)):
            versions = calls.setdefault(event.call_id, [])
            versions.append(
                Version(event.call_id, len(versions) + 1, event.name, dict(event.arguments), index)
            )
            assert event.version == len(versions), event
            continue
        versions = calls.get(getattr(event, "call_id", -1))
        if not versions:
            continue
        assert 0 < event.version <= len(versions), event  # type: ignore[attr-defined]
        owner = versions[event.version - 1]  # type: ignore[attr-defined]
        if isinstance(event, ToolCallStarted):
            owner.started = event
        elif isinstance(event, (ToolCallFinished, ToolCallFailed)):
            owner.outcome = event
        elif isinstance(event, ToolCallCommitted):
            owner.dispositions.append(("committed", index, event.t))
        elif isinstance(event, ToolCallCompensated):
            owner.dispositions.append(("compensated", index, event.t))
        elif isinstance(event, ToolCallCancelled) and event.reason != ABORTED:
            owner.dispositions.append(("cancelled", index, event.t))
    return calls


@dataclass(frozen=True)
class Decision:
    """A generation's action as the session took it: where in the ledger, when, and whether
    the model had heard every word recorded by then and the last of them was final."""

    index: int
    t: float
    text: str
    settled: bool


def decisions(events: list[Event], log: list[Generation]) -> list[Decision]:
    speech_before = []
    count = 0
    for event in events:
        speech_before.append(count)
        count += isinstance(event, UserSpeech)
    found = []
    for gen in log:
        if gen.prefix or not gen.acted:
            continue
        index = next(
            (
                i
                for i, e in enumerate(events)
                if isinstance(e, ModelOutput)
                and not e.interrupted
                and e.started_t == gen.started_t
                and e.text == gen.text
            ),
            None,
        )
        if index is None:
            index = next(
                (
                    i
                    for i, e in enumerate(events)
                    if isinstance(e, AnswerSuppressed) and e.t == gen.ended_t
                ),
                None,
            )
        if index is None:
            continue
        settled = gen.final and speech_before[index] == gen.heard
        found.append(Decision(index, events[index].t, gen.text, settled))
    return sorted(found, key=lambda d: d.index)


def releases(decision: Decision, call_id: int, events: list[Event]) -> bool:
    """Whether this action moves the model past held call ``call_id`` (docs/protocol.md)."""
    try:
        parsed = parse_output(decision.text, 10**6)
    except ParseError:
        return False
    action = parsed.action
    if isinstance(action, PauseAction):
        return True
    if isinstance(action, AnswerAction):
        return "untagged_answer" not in parsed.tolerated
    if isinstance(action, ToolCallAction) and "id_assigned" not in parsed.tolerated:
        if action.call_id > call_id:
            return True
        # a call asking for nothing new (a repeat) counts as a pause; what it did, or why it
        # was refused, is recorded right after it
        refused = (
            f"call {action.call_id} is already",
            f"call {action.call_id} already",
            f"call {action.call_id} was not run",
        )
        for event in events[decision.index + 1 :]:
            if isinstance(event, (ModelOutput, AnswerSuppressed)) or (
                isinstance(event, Timer) and event.name == RESUMED
            ):
                break
            if isinstance(event, ProtocolError) and event.message.startswith(refused):
                return False
            if isinstance(event, (ToolCallIssued, ToolCallRevised)) and (
                event.call_id == action.call_id
            ):
                return False
        return True
    return False


def commit_point(
    version: Version,
    after: Version | None,
    policy: Policy,
    events: list[Event],
    found: list[Decision],
) -> float | None:
    """The earliest time the rules let this version change real state, or None."""
    points = []
    if policy in WHOLE_REQUEST:
        writer = [d for d in found if d.index < version.issued_at]
        if writer and writer[-1].settled:  # written on the whole request, no words since
            points.append(writer[-1].t)
    for d in found:
        if d.index <= version.issued_at or (after is not None and d.index >= after.issued_at):
            continue
        if d.settled and releases(d, version.call_id, events):
            points.append(d.t)
            break
    return min(points, default=None)


# -- the properties ---------------------------------------------------------------------------


def check_no_effect_before_commit_point(out: Outcome) -> None:
    events = list(out.ledger)
    found = decisions(events, out.log)
    prefix = f"{out.ledger.session_id}:"
    assert all(t.key.startswith(prefix) for t in out.harness.touches), "a speculator wrote"
    for call_id, versions in versions_of(events).items():
        for i, version in enumerate(versions):
            if version.name not in WRITES:
                continue
            key = f"{prefix}{call_id}:{version.number}"
            started = version.started
            if (
                out.policy is Policy.SPECULATIVE
                and version.name == "add"
                and started is not None
                and started.early
            ):  # reversible, run early on purpose: it must end kept or undone
                kinds = {kind for kind, _, _ in version.dispositions}
                assert (
                    kinds <= {"committed", "compensated"}
                    or version.outcome is None
                    or (isinstance(version.outcome, ToolCallFailed))
                ), (version, kinds)
                continue
            after = versions[i + 1] if i + 1 < len(versions) else None
            point = commit_point(version, after, out.policy, events, found)
            real = [t.t for t in out.harness.touches if t.key == key and t.real]
            if started is not None and started.sandboxed:
                real += [t for kind, _, t in version.dispositions if kind == "committed"]
            for t in real:
                assert point is not None, (
                    f"{version.name} {key} reached the real state at {t} with no commit point"
                )
                assert t >= point - 1e-9, (
                    f"{version.name} {key} reached the real state at {t}, before its commit point at {point}"
                )


def check_every_call_has_one_disposition(out: Outcome) -> None:
    for call_id, versions in versions_of(list(out.ledger)).items():
        for version in versions:
            kinds = [kind for kind, _, _ in version.dispositions]
            assert len(kinds) == 1, (call_id, version.number, version.name, kinds)


def check_committed_state_is_a_sequential_replay(out: Outcome) -> None:
    events = list(out.ledger)
    committed: list[tuple[int, str, dict[str, Any]]] = []
    for versions in versions_of(events).values():
        for version in versions:
            for kind, index, _ in version.dispositions:
                if kind == "committed" and isinstance(version.outcome, ToolCallFinished):
                    committed.append((index, version.name, version.arguments))
    calls = [(name, args) for _, name, args in sorted(committed, key=lambda c: c[0])]
    assert out.harness.world.effects() == replay(calls)


def check_no_task_left(out: Outcome) -> None:
    assert out.leftover == []


PROPERTIES = (
    check_no_effect_before_commit_point,
    check_every_call_has_one_disposition,
    check_committed_state_is_a_sequential_replay,
    check_no_task_left,
)


def check_all(out: Outcome) -> None:
    for check in PROPERTIES:
        check(out)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(scenarios())
def test_the_rules_hold_on_random_schedules(scenario: Scenario) -> None:
    """One scenario, every policy, all four properties (with a crash and resume for some)."""
    for policy in POLICIES:
        check_all(play(scenario, policy))


# -- regressions found by the properties --------------------------------------------------------


def scripted(actions: list[Any], *chunks: tuple[float, bool]) -> Scenario:
    speech = tuple(
        UserSpeech(t=t, text=f"part {i} {SAID}", final=final) for i, (t, final) in enumerate(chunks)
    )
    outputs = tuple(render_action(a) for a in actions)
    return Scenario(speech, False, outputs, latency_seed=0, ttft_s=0.01, token_s=0.0, crash_at=None)


def test_revising_a_running_reversible_call_compensates_the_old_version() -> None:
    """Used to crash the session ("call 1 is still in flight"): the withdrawn version, still
    running, is undone once it ends and the revision runs alongside it."""
    scenario = scripted(
        [
            ToolCallAction(1, "add", {"key": "a", "n": 1}),
            ToolCallAction(1, "add", {"key": "a", "n": 2}),  # while version 1 still runs
        ],
        (0.0, False),
        (3.0, True),
    )
    out = play(scenario, Policy.SPECULATIVE, latency=lambda name, args: 1.0)
    old, new = versions_of(list(out.ledger))[1]
    assert [k for k, _, _ in old.dispositions] == ["compensated"]
    assert [k for k, _, _ in new.dispositions] == ["committed"]
    assert out.harness.world.effects()["counters"] == {"a": 2}
    check_all(out)


@pytest.mark.parametrize("policy", [Policy.SPECULATIVE, Policy.ASYNC])
def test_revising_a_committed_call_that_is_still_running_is_refused(policy: Policy) -> None:
    """Used to crash the session: a call released at its commit point but still running is
    committed; a revision is a protocol error, as it is for a call that has finished."""
    scenario = scripted(
        [
            ToolCallAction(1, "send", {"text": "hi"}),
            ToolCallAction(2, "lookup", {"key": "a"}),  # commits call 1
            ToolCallAction(1, "send", {"text": "ok"}),  # while call 1 is still sending
        ],
        (0.0, True),
    )
    out = play(scenario, policy, latency=lambda name, args: 1.0 if name == "send" else 0.1)
    assert out.harness.world.outbox == ["hi"]
    assert any("already committed" in getattr(e, "message", "") for e in out.ledger)
    check_all(out)


# -- the correction scenario ------------------------------------------------------------------


class Bookings:
    """A world with one booking tool, sandboxed or reversible, and a log of its real state."""

    def __init__(self, kind: str) -> None:
        self.state = World()  # its outbox holds the bookings
        self.cell: StateCell[World] = StateCell(self.state)
        self.seen: list[list[str]] = []  # real outbox (the bookings) at every event
        cell = self.cell

        async def cancel_booking(arguments: dict[str, Any], result: Any) -> None:
            cell.get().outbox.remove(arguments["city"])

        options: dict[str, Any] = (
            {"effect": Effect.IRREVERSIBLE, "sandboxable": True}
            if kind == "sandboxed"
            else {"effect": Effect.REVERSIBLE, "compensate": cancel_booking}
        )

        @tool(state=cell, **options)
        async def book_flight(city: str) -> dict:
            """Book a flight to a city."""
            cell.get().outbox.append(city)
            return {"booked": city}

        self.toolset = Toolset([book_flight])

    def observe(self, event: Event) -> None:
        self.seen.append(list(self.cell.real.outbox))


@pytest.mark.parametrize("kind", ["sandboxed", "reversible"])
@pytest.mark.parametrize("correction", ["revise", "remove_and_reissue"])
def test_book_boston_no_denver_leaves_only_denver(kind: str, correction: str) -> None:
    """ "Book a flight to Boston, no, to Denver": the Boston booking runs speculatively
    mid-utterance, the model corrects it on hearing "no, to Denver", and only Denver remains."""
    clock = VirtualClock()
    world = Bookings(kind)
    boston = ToolCallAction(1, "book_flight", {"city": "Boston"})
    denver = ToolCallAction(1 if correction == "revise" else 2, "book_flight", {"city": "Denver"})

    def responder(messages: Any) -> str:
        heard = "\n".join(m.content for m in messages if m.role == "user")
        said = "\n".join(m.content for m in messages if m.role == "assistant")
        if "Boston" not in said:
            return render_action(boston)
        if "Denver" in heard and "Denver" not in said:
            if correction == "remove_and_reissue" and "<remove" not in said:
                return render_action(RemoveAction(1))
            return render_action(denver)
        if "thanks" in heard and f'<tool_result id="{denver.call_id}">' in heard:
            return DONE
        return render_action(PauseAction())

    speech = [
        UserSpeech(t=0.5, text="book a flight to Boston"),
        UserSpeech(t=3.0, text="no, to Denver"),
        UserSpeech(t=4.0, text="thanks", final=True),
    ]
    session = Session(
        ScriptedBackend(clock, responder, ttft_s=0.05, token_s=0.01),
        world.toolset,
        clock,
        Policy.SPECULATIVE,
        latency=lambda name, args: 0.3,
        observer=world.observe,
    )

    async def main() -> Any:
        result = await session.run(speech)
        return result, [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]

    result, leftover = clock.run(main())
    assert result.answer == "done" and leftover == []
    records = session.call_records()
    (boston_rec,) = [r for r in records if r.arguments["city"] == "Boston"]
    (denver_rec,) = [r for r in records if r.arguments["city"] == "Denver"]
    assert boston_rec.started_s is not None and boston_rec.started_s < 3.0  # ran speculatively
    assert denver_rec.disposition is Disposition.COMMITTED
    assert world.state.outbox == ["Denver"]
    undo = ToolCallCancelled if kind == "sandboxed" else ToolCallCompensated
    expected = Disposition.CANCELLED if kind == "sandboxed" else Disposition.COMPENSATED
    assert boston_rec.disposition is expected
    assert any(isinstance(e, undo) and e.call_id == 1 for e in result.ledger)
    committed = [e.call_id for e in result.ledger if isinstance(e, ToolCallCommitted)]
    assert committed == [denver_rec.call_id]
    if kind == "sandboxed":  # the Boston booking never touched the real world
        assert all("Boston" not in seen for seen in world.seen)
    else:  # it did, and was undone before the session ended
        assert any("Boston" in seen for seen in world.seen)


def test_compensation_after_a_committed_overwrite_of_the_same_key() -> None:
    """put(a=3) (sandboxed, id 1) and add(a, 1) (reversible, id 3) both run early. After the
    final update the model revises id 2, which commits only id 1: the put lands on a real
    state that holds the uncommitted add. The model then removes the add, and its compensation
    subtracts from the overwritten value. Committed calls: just put(a=3); a should be 3."""
    clock = VirtualClock()
    world = World()
    cell: StateCell[World] = StateCell(world)

    @tool(effect=Effect.IRREVERSIBLE, state=cell, sandboxable=True)
    async def put(key: str, value: int) -> dict:
        """Set a key."""
        cell.get().kv[key] = value
        return {}

    async def subtract(arguments: dict[str, Any], result: Any) -> None:
        cell.get().kv[arguments["key"]] -= arguments["n"]

    @tool(effect=Effect.REVERSIBLE, compensate=subtract, state=cell)
    async def add(key: str, n: int) -> dict:
        """Add to a key."""
        cell.get().kv[key] = cell.get().kv.get(key, 0) + n
        return {}

    @tool(effect=Effect.READ_ONLY)
    async def lookup(key: str) -> dict:
        """Read a key."""
        return {}

    early = iter(
        [
            ToolCallAction(1, "put", {"key": "a", "value": 3}),
            ToolCallAction(2, "lookup", {"key": "b"}),
            ToolCallAction(3, "add", {"key": "a", "n": 1}),
        ]
    )
    late = iter([ToolCallAction(2, "lookup", {"key": "c"}), RemoveAction(3)])

    def responder(messages: Any) -> str:
        if not any("final_query_update" in m.content for m in messages if m.role == "user"):
            return render_action(next(early, PauseAction()))
        action = next(late, None)
        return render_action(action) if action else DONE

    session = Session(
        ScriptedBackend(clock, responder, ttft_s=0.01, token_s=0.0),
        Toolset([put, add, lookup]),
        clock,
        Policy.SPECULATIVE,
        latency=lambda name, args: 0.5,
        config=SessionConfig(ground_early_calls=False, ground_state_changes=False),
    )
    clock.run(session.run([UserSpeech(t=0.0, text="x"), UserSpeech(t=4.0, text="y", final=True)]))
    committed = [
        (r.name, r.arguments)
        for r in session.call_records()
        if r.disposition is Disposition.COMMITTED and r.name != "lookup"
    ]
    assert committed == [("put", {"key": "a", "value": 3})]
    assert world.kv == {"a": 3}  # actually 2
