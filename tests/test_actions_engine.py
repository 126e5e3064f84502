"""The Actor/Speculator engine: unit tests and property-based tests on random environments.

The random environment is a chain of steps whose state is the tuple of (canonical) actions
taken so far. Its Actor, Speculator and follow-ups sleep seeded virtual latencies; its
Speculator guesses right or wrong at random, sometimes proposes an action that cannot be
executed, and sometimes fails. Each action class has an effect drawn at random (read-only,
idempotent, reversible, irreversible with or without a sandbox) and acts on a *real* world
that the test inspects: an ordered log of irreversible effects, a counter of reversible ones
(compensation subtracts) and a set of idempotent writes. Every example runs the same
environment sequentially and speculatively and checks the properties the issue asks for.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from specagent.actions import (
    ActionEnvironment,
    ActionSpeculator,
    Envelope,
    Fate,
    Role,
    RunResult,
    SpeculationConfig,
    SpeculationConfigError,
    compare_runs,
    envelope_for,
)
from specagent.clock import VirtualClock
from specagent.tools import Effect

State = tuple[int, ...]


def _h(*parts: object) -> int:
    return int.from_bytes(hashlib.blake2b(repr(parts).encode(), digest_size=8).digest(), "big")


def _lat(seed: int, *parts: object, lo: float, hi: float) -> float:
    # Quantised to 1/64 s so sums are exact in binary floating point.
    steps = round((hi - lo) * 64)
    return lo + (_h(seed, *parts) % (steps + 1)) / 64


@dataclass
class World:
    log: list[tuple[State, int]] = field(default_factory=list)
    counter: Counter[tuple[State, int]] = field(default_factory=Counter)
    idempotent: set[tuple[State, int]] = field(default_factory=set)
    unsafe_runs: list[tuple[float, State, int]] = field(default_factory=list)
    adopted: list[tuple[State, int]] = field(default_factory=list)

    def snapshot(self) -> tuple[object, ...]:
        """What must equal the sequential run's world. Idempotent writes are declared
        harmless to run early, so a missed guess may leave one behind: they are checked
        for inclusion instead."""
        return (list(self.log), sorted((k, v) for k, v in self.counter.items() if v))


@dataclass(frozen=True)
class Spec:
    seed: int
    steps: int
    actions: int
    effects: tuple[tuple[Effect, bool], ...]
    """Per canonical action: effect class and whether it can be sandboxed."""
    coarse: bool
    """Declared equivalence: actions with the same parity are the same request."""
    accuracy: int
    """Percent chance that the Actor's action is among the guesses."""


class RandomEnv(ActionEnvironment[State, int]):
    INVALID = 99

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.world = World()
        self.in_flight = 0
        self.max_in_flight = 0

    def canon(self, action: int) -> int:
        return action % 2 if self.spec.coarse else action

    def _effect_of(self, action: int) -> tuple[Effect, bool]:
        if action == self.INVALID:
            return Effect.READ_ONLY, False
        return self.spec.effects[self.canon(action) % len(self.spec.effects)]

    async def _sleep(self, seconds: float) -> None:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(seconds)
        finally:
            self.in_flight -= 1

    def is_terminal(self, state: State) -> bool:
        return len(state) >= self.spec.steps

    async def act(self, state: State) -> int:
        await self._sleep(_lat(self.spec.seed, "act", state, lo=0.25, hi=3.0))
        return _h(self.spec.seed, "action", state) % self.spec.actions

    async def propose(self, state: State, k: int) -> Sequence[int]:
        s = self.spec
        await self._sleep(_lat(s.seed, "propose", state, lo=0.0, hi=1.5))
        if _h(s.seed, "spec-fails", state) % 11 == 0:
            raise RuntimeError("speculator crashed")
        truth = _h(s.seed, "action", state) % s.actions
        pool = [a for a in range(s.actions) if a != truth] + [self.INVALID]
        pool.sort(key=lambda a: _h(s.seed, "order", state, a))
        if _h(s.seed, "right", state) % 100 < s.accuracy:
            pool.insert(_h(s.seed, "rank", state) % (min(k, len(pool)) + 1), truth)
        return pool[: k + 1]  # one more than asked: the engine must keep only k

    async def execute(self, state: State, action: int, *, sandboxed: bool = False) -> State:
        await self._sleep(_lat(self.spec.seed, "exec", state, action % 2, lo=0.0, hi=1.0))
        if action == self.INVALID:
            raise ValueError("no such action")
        key = (state, self.canon(action))
        effect, _ = self._effect_of(action)
        if effect is Effect.IDEMPOTENT:
            self.world.idempotent.add(key)
        elif effect is Effect.REVERSIBLE and not sandboxed:
            self.world.counter[key] += 1
        elif effect is Effect.IRREVERSIBLE and not sandboxed:
            self.world.log.append(key)
            self.world.unsafe_runs.append((asyncio.get_running_loop().time(), state, action))
        elif effect.changes_state and sandboxed:
            pass  # kept on the copy until adopt()
        return (*state, self.canon(action))

    def effect(self, state: State, action: int) -> Effect:
        return self._effect_of(action)[0]

    def sandboxable(self, state: State, action: int) -> bool:
        return self._effect_of(action)[1]

    async def adopt(self, state: State, action: int, next_state: State) -> None:
        key = (state, self.canon(action))
        self.world.adopted.append(key)
        effect, _ = self._effect_of(action)
        if effect is Effect.REVERSIBLE:
            self.world.counter[key] += 1
        else:
            self.world.log.append(key)

    async def compensate(self, state: State, action: int, next_state: State) -> None:
        await self._sleep(0.125)
        self.world.counter[(state, self.canon(action))] -= 1

    def equivalent(self, state: State, guess: int, action: int) -> bool:
        if guess == self.INVALID or action == self.INVALID:
            return guess == action
        return self.canon(guess) == self.canon(action)


def _play(spec: Spec, config: SpeculationConfig) -> tuple[RunResult[int], RandomEnv, set[str]]:
    env = RandomEnv(spec)
    clock = VirtualClock()

    async def main() -> tuple[RunResult[int], set[str]]:
        result = await ActionSpeculator(env, clock, config).run(())
        left = {t.get_name() for t in asyncio.all_tasks() if t is not asyncio.current_task()}
        return result, left

    result, left = clock.run(main())
    return result, env, left


effects_st = st.tuples(
    st.sampled_from([Effect.READ_ONLY, Effect.IDEMPOTENT, Effect.REVERSIBLE, Effect.IRREVERSIBLE]),
    st.booleans(),
)

specs = st.builds(
    Spec,
    seed=st.integers(0, 10**9),
    steps=st.integers(1, 7),
    actions=st.integers(2, 5),
    effects=st.lists(effects_st, min_size=1, max_size=5).map(tuple),
    coarse=st.booleans(),
    accuracy=st.integers(0, 100),
)
configs = st.builds(
    SpeculationConfig,
    k=st.integers(1, 3),
    depth=st.integers(1, 3),
    prelaunch_actor=st.booleans(),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=specs, config=configs)
def test_speculation_is_lossless_safe_and_leaves_nothing_running(
    spec: Spec, config: SpeculationConfig
) -> None:
    seq, seq_env, _ = _play(spec, SpeculationConfig(k=0))
    res, env, left = _play(spec, config)

    # Lossless: the same committed actions and the same real world.
    assert res.actions == seq.actions
    assert compare_runs(seq, res).lossless
    assert env.world.snapshot() == seq_env.world.snapshot()
    assert seq_env.world.idempotent <= env.world.idempotent
    assert len(res.steps) == spec.steps

    # Nothing left running: no task, no call in flight, every call settled.
    assert left == set()
    assert env.in_flight == 0
    assert all(c.end_s is not None for c in res.calls)
    assert all(c.fate is not Fate.PENDING for c in res.calls)

    decided = [s.decided_s for s in res.steps]
    for step in res.steps:
        # Commit only on a guard match: the rank is the first guess the guard accepts.
        matches = [i for i, g in enumerate(step.guesses) if env.equivalent((), g, step.action)]
        assert step.hit_rank == (matches[0] if matches else None)
        if step.prelaunched_hit:
            assert step.hit_rank is not None
        assert len(step.guesses) <= config.k

    # No unsafe pre-launch: an irreversible, unsandboxed follow-up runs only on the main
    # line, after the Actor decided that very step.
    committed_states = [tuple(env.canon(a) for a in res.actions[:i]) for i in range(len(res.steps))]
    for t, state, action in env.world.unsafe_runs:
        i = len(state)
        assert state == committed_states[i]
        assert env.canon(action) == env.canon(res.actions[i])
        assert t >= decided[i]
    # Sandboxed effects become real only for committed steps.
    for state, action in env.world.adopted:
        i = len(state)
        assert state == committed_states[i] and action == env.canon(res.actions[i])

    # Losing branches are cancelled when the step they lost is decided (a reversible
    # follow-up is let finish so that it can be undone).
    for c in res.calls:
        if c.fate is Fate.WASTED and c.envelope != Envelope.COMPENSATE.value:
            assert c.end_s is not None
            bound = decided[c.step] if c.step < len(decided) else res.elapsed_s
            assert c.end_s <= bound + 1e-9

    # Speculation never delays the main line, except to undo a reversible miss first.
    if not any(c.role is Role.COMPENSATION for c in res.calls):
        assert res.elapsed_s <= seq.elapsed_s + 1e-9
    # The sequential run makes exactly one Actor call and one follow-up per step.
    assert len(seq.calls) == 2 * spec.steps
    assert seq.extra_calls == 0


# -- deterministic unit tests ------------------------------------------------------------


class Chain(ActionEnvironment[int, str]):
    """Four steps; Actor 1 s, Speculator 0.125 s, follow-up 0.25 s; scripted guesses."""

    def __init__(
        self,
        guesses: dict[int, list[str]],
        *,
        effect: Effect = Effect.READ_ONLY,
        sandboxable: bool = False,
        fail_actor_at: int | None = None,
    ) -> None:
        self.guesses = guesses
        self._effect = effect
        self._sandboxable = sandboxable
        self.fail_actor_at = fail_actor_at
        self.executed: list[tuple[float, int, str, bool]] = []
        self.compensated: list[tuple[int, str]] = []
        self.adopted: list[tuple[int, str]] = []
        self.active = 0

    def truth(self, state: int) -> str:
        return "abcd"[state]

    def is_terminal(self, state: int) -> bool:
        return state >= 4

    async def act(self, state: int) -> str:
        self.active += 1
        try:
            await asyncio.sleep(1.0)
        finally:
            self.active -= 1
        if state == self.fail_actor_at:
            raise KeyError(f"actor failed at {state}")
        return self.truth(state)

    async def propose(self, state: int, k: int) -> Sequence[str]:
        await asyncio.sleep(0.125)
        return self.guesses.get(state, [])[:k]

    async def execute(self, state: int, action: str, *, sandboxed: bool = False) -> int:
        self.active += 1
        try:
            self.executed.append((asyncio.get_running_loop().time(), state, action, sandboxed))
            await asyncio.sleep(0.25)
        finally:
            self.active -= 1
        return state + 1

    def effect(self, state: int, action: str) -> Effect:
        return self._effect

    def sandboxable(self, state: int, action: str) -> bool:
        return self._sandboxable

    async def adopt(self, state: int, action: str, next_state: int) -> None:
        self.adopted.append((state, action))

    async def compensate(self, state: int, action: str, next_state: int) -> None:
        self.compensated.append((state, action))

    def equivalent(self, state: int, guess: str, action: str) -> bool:
        return guess.lower() == action.lower()


def _run(env: Chain, config: SpeculationConfig) -> RunResult[str]:
    clock = VirtualClock()
    return clock.run(ActionSpeculator(env, clock, config).run(0))


ALL_RIGHT = {s: ["abcd"[s]] for s in range(4)}


def test_sequential_run_is_actor_then_follow_up_per_step() -> None:
    res = _run(Chain(ALL_RIGHT), SpeculationConfig(k=0))
    assert res.actions == ("a", "b", "c", "d")
    assert res.elapsed_s == pytest.approx(4 * 1.25)
    assert {c.role for c in res.calls} == {Role.ACTOR, Role.FOLLOW_UP}


def test_right_guesses_overlap_the_next_actor_with_this_one() -> None:
    # Step 0 decides at 1.0 while step 1's Actor has run since 0.375 (guess 0.125 +
    # follow-up 0.25); from then on two Actors overlap: decisions at 1.0, 1.375, 2.375,
    # 2.75 (+0.125 guess), the last follow-up was launched at 2.5 and ends at 2.75.
    res = _run(Chain(ALL_RIGHT), SpeculationConfig(k=1))
    assert res.actions == ("a", "b", "c", "d")
    assert [s.decided_s for s in res.steps] == pytest.approx([1.0, 1.375, 2.375, 2.75])
    assert res.elapsed_s == pytest.approx(2.75)
    assert res.hit_rate_top1 == 1.0 and res.prelaunched_hits == 4
    seq = _run(Chain(ALL_RIGHT), SpeculationConfig(k=0))
    assert compare_runs(seq, res).time_saved == pytest.approx(1 - 2.75 / 5.0)


def test_wrong_guesses_are_discarded_and_the_follow_up_waits_for_the_actor() -> None:
    env = Chain({s: ["x", "y"] for s in range(4)})
    res = _run(env, SpeculationConfig(k=2))
    assert res.actions == ("a", "b", "c", "d")
    assert res.hits_topk == 0
    assert res.elapsed_s == pytest.approx(5.0)  # nothing gained, nothing lost
    real = [(t, s, a) for t, s, a, _ in env.executed if a in "abcd"]
    assert [t for t, _, _ in real] == pytest.approx([1.0, 2.25, 3.5, 4.75])
    assert res.wasted_calls > 0 and env.active == 0


def test_a_declared_equivalence_commits_the_branch_but_records_the_actors_action() -> None:
    env = Chain({s: ["ABCD"[s]] for s in range(4)})
    res = _run(env, SpeculationConfig(k=1))
    assert res.actions == ("a", "b", "c", "d")
    assert res.prelaunched_hits == 4
    assert all(a.isupper() for _, _, a, _ in env.executed)  # the guesses' follow-ups were used


def test_only_the_first_matching_guess_is_committed_and_later_ones_cancelled() -> None:
    env = Chain({s: ["x", "abcd"[s], "y"] for s in range(4)})
    res = _run(env, SpeculationConfig(k=3))
    assert [s.hit_rank for s in res.steps] == [1, 1, 1, 1]
    follow_ups = [c for c in res.calls if c.role is Role.FOLLOW_UP]
    assert sum(c.fate is Fate.COMMITTED for c in follow_ups) == 4
    assert all(c.fate is Fate.WASTED for c in follow_ups if c.fate is not Fate.COMMITTED)


def test_irreversible_follow_ups_are_never_prelaunched() -> None:
    env = Chain(ALL_RIGHT, effect=Effect.IRREVERSIBLE)
    res = _run(env, SpeculationConfig(k=3, depth=3))
    assert [(s, a) for _, s, a, _ in env.executed] == [(0, "a"), (1, "b"), (2, "c"), (3, "d")]
    assert [t for t, *_ in env.executed] == pytest.approx([1.0, 2.25, 3.5, 4.75])
    assert res.hits_topk == 4 and res.prelaunched_hits == 0


def test_sandboxed_follow_ups_are_adopted_only_when_committed() -> None:
    env = Chain(
        {s: ["x", "abcd"[s]] for s in range(4)}, effect=Effect.IRREVERSIBLE, sandboxable=True
    )
    res = _run(env, SpeculationConfig(k=2))
    assert all(sandboxed for *_, sandboxed in env.executed)
    assert env.adopted == [(0, "a"), (1, "b"), (2, "c"), (3, "d")]
    assert res.prelaunched_hits == 4


def test_reversible_misses_are_compensated_and_hits_are_not() -> None:
    env = Chain({s: ["x", "abcd"[s]] for s in range(4)}, effect=Effect.REVERSIBLE)
    res = _run(env, SpeculationConfig(k=2))
    assert res.actions == ("a", "b", "c", "d")
    assert env.compensated == [(0, "x"), (1, "x"), (2, "x"), (3, "x")]
    assert sum(c.role is Role.COMPENSATION for c in res.calls) == 4


def test_a_failing_speculative_branch_is_only_waste() -> None:
    class Flaky(Chain):
        async def execute(self, state: int, action: str, *, sandboxed: bool = False) -> int:
            if action == "x":
                raise RuntimeError("bad guess")
            return await super().execute(state, action, sandboxed=sandboxed)

    env = Flaky({s: ["x", "abcd"[s]] for s in range(4)})
    res = _run(env, SpeculationConfig(k=2))
    assert res.actions == ("a", "b", "c", "d")
    failed = [c for c in res.calls if c.error]
    assert len(failed) == 4 and all(c.fate is Fate.WASTED for c in failed)


def test_a_matched_branch_whose_follow_up_failed_is_run_again_for_real() -> None:
    class Transient(Chain):
        async def execute(self, state: int, action: str, *, sandboxed: bool = False) -> int:
            first = not any(s == state for _, s, _, _ in self.executed)
            result = await super().execute(state, action, sandboxed=sandboxed)
            if first and state == 1:
                raise ConnectionError("transient")
            return result

    env = Transient(ALL_RIGHT)
    res = _run(env, SpeculationConfig(k=1))
    assert res.actions == ("a", "b", "c", "d")
    assert [s.prelaunched_hit for s in res.steps] == [True, False, True, True]
    assert [(s, a) for _, s, a, _ in env.executed].count((1, "b")) == 2


def test_a_main_line_failure_raises_unwrapped_and_leaves_nothing_running() -> None:
    env = Chain(ALL_RIGHT, fail_actor_at=2)
    clock = VirtualClock()

    async def main() -> set[asyncio.Task[object]]:
        with pytest.raises(KeyError, match="actor failed at 2"):
            await ActionSpeculator(env, clock, SpeculationConfig(k=1, depth=2)).run(0)
        return {t for t in asyncio.all_tasks() if t is not asyncio.current_task()}

    assert clock.run(main()) == set()
    assert env.active == 0


def test_cancelling_a_run_cancels_every_branch() -> None:
    env = Chain(ALL_RIGHT)
    clock = VirtualClock()

    async def main() -> set[asyncio.Task[object]]:
        task = asyncio.ensure_future(
            ActionSpeculator(env, clock, SpeculationConfig(k=1, depth=3)).run(0)
        )
        await asyncio.sleep(1.5)
        assert env.active > 0
        task.cancel()
        await asyncio.wait([task])
        assert task.cancelled()
        return {t for t in asyncio.all_tasks() if t is not asyncio.current_task()}

    assert clock.run(main()) == set()
    assert env.active == 0


def test_step_limit_stops_and_discards_what_ran_ahead() -> None:
    res = _run(Chain(ALL_RIGHT), SpeculationConfig(k=1, max_steps=2))
    assert res.actions == ("a", "b")
    assert all(c.fate is not Fate.PENDING for c in res.calls)
    assert any(c.fate is Fate.WASTED and c.role is Role.ACTOR for c in res.calls)


@pytest.mark.parametrize(
    "kwargs",
    [{"k": -1}, {"depth": -2}, {"max_steps": 0}],
)
def test_bad_settings_are_refused(kwargs: dict[str, int]) -> None:
    with pytest.raises(SpeculationConfigError):
        SpeculationConfig(**kwargs)


def test_envelopes_follow_effect_classes() -> None:
    assert envelope_for(Effect.READ_ONLY) is Envelope.RUN
    assert envelope_for(Effect.IDEMPOTENT) is Envelope.RUN
    assert envelope_for(Effect.REVERSIBLE) is Envelope.COMPENSATE
    assert envelope_for(Effect.REVERSIBLE, sandboxable=True) is Envelope.SANDBOX
    assert envelope_for(Effect.IRREVERSIBLE, sandboxable=True) is Envelope.SANDBOX
    assert envelope_for(Effect.IRREVERSIBLE) is Envelope.HOLD
