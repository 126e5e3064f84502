"""Property-based tests of speculative tool calling over random interleavings.

Every example draws one scenario: the user's timed speech, a scripted model's list of actions
(new calls, revisions, removals, pauses) with random token timing, and random tool latencies.
The same scenario runs under ``speculative``, ``async`` and ``sync`` on a virtual clock, against
a small in-memory world with a tool of every kind:

* ``lookup(key)``: read-only;
* ``put(key, value)``: irreversible, sandboxable (runs early on a copy under speculative);
* ``add(key, n)``: reversible, compensated by subtracting (runs early under speculative);
* ``send(text)``: irreversible and not sandboxable (always held for its commit point); it
  records the virtual time it ran.

An observer and the tools themselves snapshot the *real* world state throughout, and the
properties below are checked on every schedule (2000 scenarios x 3 policies per run).

``put`` and ``add`` write separate maps on purpose: an early ``add`` takes effect before, but
may commit after, a ``put`` on the same key, so replaying in commit order would not be the
right comparison there. The same-key case where an early ``add`` is undone after a sandboxed
``put`` forked from the state it left has its own test at the end (the put's commit waits for
the add's fate, then is replayed on the real state).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from specagent.agent import Policy, Session, SessionConfig
from specagent.clock import VirtualClock
from specagent.events import (
    Event,
    ToolCallCancelled,
    ToolCallCommitted,
    ToolCallCompensated,
    UserSpeech,
)
from specagent.executor import CallStatus, Disposition
from specagent.models import ScriptedBackend
from specagent.protocol import (
    Action,
    PauseAction,
    RemoveAction,
    ToolCallAction,
    action_end,
    answer_start,
    render_action,
)
from specagent.sandbox import StateCell
from specagent.tools import Effect, Toolset, tool

DONE = "<answer>done</answer>"
KEYS = ("a", "b", "c")
POLICIES = (Policy.SPECULATIVE, Policy.ASYNC, Policy.SYNC)

# -- the world --------------------------------------------------------------------------------


@dataclass
class World:
    kv: dict[str, int] = field(default_factory=dict)  # written by put
    counters: dict[str, int] = field(default_factory=dict)  # changed by add (and its undo)
    outbox: list[str] = field(default_factory=list)  # appended to by send

    def effects(self) -> dict[str, Any]:
        """A comparable view of everything the tools did (zeroed counters count as untouched)."""
        return {
            "kv": dict(self.kv),
            "counters": {k: v for k, v in self.counters.items() if v},
            "outbox": list(self.outbox),
        }


@dataclass(frozen=True)
class Snapshot:
    """The real world at one moment, and which puts the executor had committed by then."""

    t: float
    final_heard: bool
    effects: dict[str, Any]
    committed_puts: frozenset[tuple[str, int]]


class Harness:
    """A world in a StateCell, its tools, and a record of the real state over time."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self.world = World()
        self.cell: StateCell[World] = StateCell(self.world)
        self.sends: list[tuple[float, str]] = []  # (virtual time send ran, text)
        self.snapshots: list[Snapshot] = []
        self.session: Session | None = None
        self.final_heard = False
        self.toolset = self._tools()

    def _tools(self) -> Toolset:
        cell = self.cell

        @tool(effect=Effect.READ_ONLY)
        async def lookup(key: str) -> dict:
            """Read a key."""
            self.snap()
            return {"key": key, "value": cell.get().kv.get(key)}

        @tool(effect=Effect.IRREVERSIBLE, state=cell, sandboxable=True)
        async def put(key: str, value: int) -> dict:
            """Set a key."""
            self.snap()
            cell.get().kv[key] = value
            return {"key": key, "value": value}

        async def subtract(arguments: dict[str, Any], result: Any) -> None:
            self.snap()
            cell.get().counters[arguments["key"]] -= arguments["n"]

        @tool(effect=Effect.REVERSIBLE, compensate=subtract, state=cell)
        async def add(key: str, n: int) -> dict:
            """Add to a counter."""
            self.snap()
            counters = cell.get().counters
            counters[key] = counters.get(key, 0) + n
            return {"key": key, "total": counters[key]}

        @tool(effect=Effect.IRREVERSIBLE, state=cell)
        async def send(text: str) -> dict:
            """Send a message."""
            self.snap()
            cell.get().outbox.append(text)
            self.sends.append((self.clock.now(), text))
            return {"sent": text}

        return Toolset([lookup, put, add, send])

    def observe(self, event: Event) -> None:
        if isinstance(event, UserSpeech) and event.final:
            self.final_heard = True
        self.snap()

    def snap(self) -> None:
        executor = self.session._executor if self.session is not None else None
        records = executor.all_records() if executor is not None else []
        committed = frozenset(
            (r.arguments["key"], r.arguments["value"])
            for r in records
            if r.name == "put" and (r.disposition is Disposition.COMMITTED or r.commit_when_done)
        )
        self.snapshots.append(
            Snapshot(self.clock.now(), self.final_heard, World.effects(self.cell.real), committed)
        )


# -- scenarios --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    speech: tuple[UserSpeech, ...]
    actions: tuple[Action, ...]
    latency_seed: int
    ttft_s: float
    token_s: float

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
}
TOOL_NAMES = st.sampled_from(sorted(ARGUMENTS))


@st.composite
def speeches(draw: st.DrawFn) -> tuple[UserSpeech, ...]:
    n = draw(st.integers(1, 4))
    t = draw(seconds(0.0, 1.0))
    chunks = []
    for i in range(n):
        if i:
            t += draw(seconds(0.05, 1.5))
        chunks.append(UserSpeech(t=t, text=f"part {i}", final=i == n - 1))
    return tuple(chunks)


@st.composite
def action_lists(draw: st.DrawFn) -> tuple[Action, ...]:
    """New calls with fresh increasing ids, revisions and removals of earlier ids (and of
    unknown ones), and pauses."""
    actions: list[Action] = []
    issued: dict[int, str] = {}  # id -> tool name
    for _ in range(draw(st.integers(0, 12))):
        kind = draw(st.sampled_from(["call", "call", "call", "revise", "remove", "pause"]))
        if kind == "revise" and issued:
            call_id = draw(st.sampled_from(sorted(issued)))
            name = issued[call_id] if draw(st.booleans()) else draw(TOOL_NAMES)
            issued[call_id] = name
            actions.append(ToolCallAction(call_id, name, draw(ARGUMENTS[name])))
        elif kind == "remove" and issued:
            known = st.sampled_from(sorted(issued))
            actions.append(RemoveAction(draw(st.one_of(known, known, st.just(99)))))
        elif kind == "pause":
            actions.append(PauseAction())
        else:
            call_id = max(issued, default=0) + 1
            name = issued[call_id] = draw(TOOL_NAMES)
            actions.append(ToolCallAction(call_id, name, draw(ARGUMENTS[name])))
    return tuple(actions)


scenarios = st.builds(
    Scenario,
    speech=speeches(),
    actions=action_lists(),
    latency_seed=st.integers(0, 2**16),
    ttft_s=seconds(0.01, 0.3),
    token_s=seconds(0.0, 0.05),
)


@dataclass(frozen=True)
class Generation:
    started_t: float
    ended_t: float
    text: str

    @property
    def acted(self) -> bool:
        """It wrote a whole action, or began an answer (which a session either streams or
        suppresses: either way the model moved on)."""
        start = answer_start(self.text)
        return action_end(self.text) is not None or bool(start and self.text[start:].strip())


class LoggingBackend(ScriptedBackend):
    """A scripted model that keeps every generation, including ones the ledger never shows
    (a suppressed answer is cut at its first token and leaves no ModelOutput)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.generations: list[Generation] = []

    async def stream(self, messages: Any, *, max_tokens: int = 256, prefix: str = "") -> Any:
        started, text = self._clock.now(), prefix
        inner = super().stream(messages, max_tokens=max_tokens, prefix=prefix)
        try:
            async with contextlib.aclosing(inner):  # closed here, not by the GC's hook
                async for piece in inner:
                    text += piece
                    yield piece
        finally:
            self.generations.append(Generation(started, self._clock.now(), text))


@dataclass
class Outcome:
    policy: Policy
    harness: Harness
    session: Session
    backend: LoggingBackend
    events: list[Event]
    leftover_tasks: list[asyncio.Task[Any]]

    @property
    def final_t(self) -> float:
        return next(e.t for e in self.events if isinstance(e, UserSpeech) and e.final)


def play(scenario: Scenario, policy: Policy, latency: Any = None) -> Outcome:
    clock = VirtualClock()
    harness = Harness(clock)
    outputs = iter([render_action(a) for a in scenario.actions])
    backend = LoggingBackend(
        clock, lambda _: next(outputs, DONE), ttft_s=scenario.ttft_s, token_s=scenario.token_s
    )
    session = Session(
        backend,
        harness.toolset,
        clock,
        policy,
        latency=latency or scenario.latency,
        observer=harness.observe,
        # the values in these actions are never spoken: the grounding guard would refuse most
        # early calls, and the properties are about what happens when they run
        config=SessionConfig(
            max_generations=60, ground_early_calls=False, ground_state_changes=False
        ),
    )
    harness.session = session

    async def main() -> list[asyncio.Task[Any]]:
        await session.run(scenario.speech)
        return [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]

    leftover = clock.run(main())
    return Outcome(policy, harness, session, backend, list(session.ledger), leftover)


# -- the properties ---------------------------------------------------------------------------


def check_no_effect_before_commit_point(out: Outcome) -> None:
    """Property 1: nothing irreversible and unsandboxed runs before its commit point.

    Every ``send`` ran no earlier than the user's final update, and after a generation that
    started once the final update was in and wrote an action (the model saw the last words and
    moved on). Generations come from the model's log: a suppressed answer also reaches the
    commit point but leaves no ModelOutput in the ledger. Before the final update the real
    world shows no put, no send, and no add except (under speculative only) a reversible add,
    which must then end committed or compensated. A sandboxed put changes the real state only
    once the executor has committed it.
    """
    final_t = out.final_t
    moved_on = [g for g in out.backend.generations if g.acted and g.started_t >= final_t]
    for t, text in out.harness.sends:
        assert t >= final_t, f"send({text!r}) ran at {t}, before the final update at {final_t}"
        assert any(g.ended_t <= t for g in moved_on), (
            f"send({text!r}) ran at {t} without a generation that saw the final update "
            f"({final_t}) and finished before it"
        )
    previous: Snapshot | None = None
    for snap in out.harness.snapshots:
        if not snap.final_heard:
            assert snap.effects["kv"] == {} and snap.effects["outbox"] == [], snap
            if out.policy is not Policy.SPECULATIVE:
                assert snap.effects["counters"] == {}, snap
        if previous is not None:
            for key, value in snap.effects["kv"].items():
                if previous.effects["kv"].get(key) != value:
                    assert (key, value) in snap.committed_puts, (
                        f"put({key}={value}) reached the real state at {snap.t} uncommitted"
                    )
        previous = snap
    for rec in out.session._executor.all_records():
        if rec.name == "add" and rec.started_s is not None and rec.started_s < final_t:
            assert out.policy is Policy.SPECULATIVE, rec
            assert rec.disposition in (Disposition.COMMITTED, Disposition.COMPENSATED), rec


def check_every_call_has_one_disposition(out: Outcome) -> None:
    """Property 2: every call (each version of a revised id) ends committed, cancelled or
    compensated, and the ledger's Committed/Compensated events agree with those dispositions:
    per call id, as many Committed events as committed versions and as many Compensated events
    as compensated versions (so no version is both), and at most one committed version."""
    records = out.session._executor.all_records()
    undecided = [r for r in records if r.disposition is None]
    assert not undecided, undecided
    for kind, disposition in (
        (ToolCallCommitted, Disposition.COMMITTED),
        (ToolCallCompensated, Disposition.COMPENSATED),
    ):
        in_ledger = Counter(e.call_id for e in out.events if isinstance(e, kind))
        in_records = Counter(r.call_id for r in records if r.disposition is disposition)
        assert in_ledger == in_records, (kind.__name__, in_ledger, in_records)
    committed = Counter(r.call_id for r in records if r.disposition is Disposition.COMMITTED)
    assert all(n == 1 for n in committed.values()), committed
    for rec in records:
        if rec.disposition is Disposition.COMPENSATED:
            assert rec.name == "add" and rec.status is CallStatus.DONE, rec


def replay(calls: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """Run calls one after another on a fresh world (what sync does with the same decisions)."""
    world = World()
    for name, args in calls:
        if name == "put":
            world.kv[args["key"]] = args["value"]
        elif name == "add":
            world.counters[args["key"]] = world.counters.get(args["key"], 0) + args["n"]
        elif name == "send":
            world.outbox.append(args["text"])
    return world.effects()


def check_committed_state_is_a_sequential_replay(out: Outcome) -> None:
    """Property 3: the real world at the end equals a sequential replay, on a fresh world, of
    the committed calls that succeeded, in the order of their ToolCallCommitted events:
    speculation, sandboxes and compensation leave exactly what committed decisions imply."""
    by_id = {
        r.call_id: r
        for r in out.session._executor.all_records()
        if r.disposition is Disposition.COMMITTED and r.status is CallStatus.DONE
    }
    order = [e.call_id for e in out.events if isinstance(e, ToolCallCommitted)]
    calls = [(by_id[i].name, by_id[i].arguments) for i in order if i in by_id]
    assert out.harness.world.effects() == replay(calls)


def check_no_task_left(out: Outcome) -> None:
    """Property 4: when ``run`` returns, no tool call, compensation, replay or speech task is
    left running (only the caller's own task exists)."""
    assert out.leftover_tasks == []


PROPERTIES = (
    check_no_effect_before_commit_point,
    check_every_call_has_one_disposition,
    check_committed_state_is_a_sequential_replay,
    check_no_task_left,
)


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios)
def test_speculation_properties_hold_on_random_schedules(scenario: Scenario) -> None:
    """One scenario, three policies, all four properties."""
    for policy in POLICIES:
        out = play(scenario, policy)
        for check in PROPERTIES:
            check(out)


# -- regressions found by the properties --------------------------------------------------------


def scripted(actions: list[Action], *chunks: tuple[float, bool]) -> Scenario:
    speech = tuple(
        UserSpeech(t=t, text=f"part {i}", final=final) for i, (t, final) in enumerate(chunks)
    )
    return Scenario(speech, tuple(actions), latency_seed=0, ttft_s=0.01, token_s=0.0)


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
    old, new = out.session._executor.all_records()
    assert (old.disposition, new.disposition) == (Disposition.COMPENSATED, Disposition.COMMITTED)
    assert out.harness.world.effects()["counters"] == {"a": 2}
    for check in PROPERTIES:
        check(out)


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
    assert any("already committed" in getattr(e, "message", "") for e in out.events)
    for check in PROPERTIES:
        check(out)


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
    """"Book a flight to Boston, no, to Denver": the Boston booking runs speculatively
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
    records = session._executor.all_records()
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
        for r in session._executor.all_records()
        if r.disposition is Disposition.COMMITTED and r.name != "lookup"
    ]
    assert committed == [("put", {"key": "a", "value": 3})]
    assert world.kv == {"a": 3}  # actually 2
