"""Lossy speculation (last write wins) and the simulated queue it tunes."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence

import pytest

from specagent.actions import ActionEnvironment, SpeculationConfigError
from specagent.actions.lossy import LossyConfig, LossyRunner
from specagent.actions.tuning import (
    Phase,
    QueueSim,
    TuningConfig,
    TuningConfigError,
    erlang_c_cost,
    optimal_servers,
    run_tuning,
    run_tuning_study,
)
from specagent.clock import VirtualClock
from specagent.tools import Effect


class Knob(ActionEnvironment[list, int]):
    """Actor 1 s, Speculator 0.25 s, writes 0.125 s; records every write with its time."""

    def __init__(
        self,
        actor: Sequence[int],
        guesses: Sequence[int | None],
        *,
        effect: Effect = Effect.IDEMPOTENT,
    ) -> None:
        self.actor = list(actor)
        self.guesses = list(guesses)
        self._effect = effect
        self.log: list[tuple[float, int]] = []

    def is_terminal(self, state: list) -> bool:
        return not self.actor

    async def act(self, state: list) -> int:
        await asyncio.sleep(1.0)
        return self.actor.pop(0)

    async def propose(self, state: list, k: int) -> list[int]:
        await asyncio.sleep(0.25)
        guess = self.guesses.pop(0) if self.guesses else None
        return [] if guess is None else [guess]

    async def execute(self, state: list, action: int, *, sandboxed: bool = False) -> list:
        await asyncio.sleep(0.125)
        self.log.append((asyncio.get_running_loop().time(), action))
        return [*state, action]

    def effect(self, state: list, action: int) -> Effect:
        return self._effect


def _lossy(env: Knob, **kwargs: object):
    clock = VirtualClock()
    return clock.run(LossyRunner(env, clock, LossyConfig(**kwargs)).run([]))


def test_the_guess_applies_at_once_and_the_actor_overwrites_it() -> None:
    env = Knob(actor=[5, 7], guesses=[4, 7])
    res = _lossy(env)
    # Step 1: guess 4 lands at 0.375, the Actor's 5 at 1.125. Step 2 starts at 1.125: guess 7
    # lands at 1.5 and the Actor agrees at 2.125 (no rewrite).
    assert env.log == [(0.375, 4), (1.125, 5), (1.5, 7)]
    assert res.overwritten == 1 and res.confirmed == 1
    assert [(w.source, w.action) for w in res.writes] == [
        ("speculator", 4),
        ("actor", 5),
        ("speculator", 7),
    ]


def test_the_actor_always_writes_last_even_over_a_write_in_flight() -> None:
    env = Knob(actor=[3], guesses=[1, 2, 9, 9, 9])
    res = _lossy(env, speculator_interval_s=0.3125)
    # Guess 1 lands at 0.375; guess 2 is proposed at 0.9375 and is being written when the
    # Actor decides at 1.0: that write finishes (1.0625), then the Actor's lands (1.1875).
    assert env.log == [(0.375, 1), (1.0625, 2), (1.1875, 3)]
    assert res.writes[-1].source == "actor" and res.overwritten == 1


def test_actor_only_baseline_makes_no_speculator_call() -> None:
    env = Knob(actor=[1, 2], guesses=[9, 9])
    res = _lossy(env, speculate=False)
    assert [a for _, a in env.log] == [1, 2]
    assert all(c.role.value != "speculator" for c in res.calls)


def test_an_irreversible_guess_is_never_applied() -> None:
    env = Knob(actor=[1, 2], guesses=[9, 9], effect=Effect.IRREVERSIBLE)
    res = _lossy(env)
    assert [a for _, a in env.log] == [1, 2]
    assert res.held == 2


def test_bad_lossy_settings_are_refused() -> None:
    with pytest.raises(SpeculationConfigError):
        LossyConfig(speculator_interval_s=0)
    with pytest.raises(TuningConfigError):
        TuningConfig(actor_think_s=0)
    with pytest.raises(TuningConfigError):
        TuningConfig(phases=(Phase(10, -1.0),))


def test_erlang_c_cost_matches_closed_forms() -> None:
    cfg = TuningConfig(server_cost=1.0, wait_cost=5.0)
    # M/M/1 at rho = 0.5: Lq = rho^2 / (1 - rho) = 0.5.
    assert erlang_c_cost(1, 0.5, cfg) == pytest.approx(1 + 5 * 0.5)
    # M/M/2 with offered load 1: P(wait) = 1/3, Lq = 1/3.
    assert erlang_c_cost(2, 1.0, cfg) == pytest.approx(2 + 5 / 3)
    assert erlang_c_cost(3, 3.0, cfg) == float("inf")
    c = optimal_servers(12.0, cfg)
    assert erlang_c_cost(c, 12.0, cfg) < min(
        erlang_c_cost(c - 1, 12.0, cfg), erlang_c_cost(c + 1, 12.0, cfg)
    )


def test_simulated_queue_waits_agree_with_theory() -> None:
    cfg = TuningConfig(phases=(Phase(6000, 4.0),))
    sim = QueueSim(cfg, seed=3, servers=5)
    sim.advance_to(6000)
    mean_wait = sum(w for _, w in sim.waits) / len(sim.waits)
    lq = (erlang_c_cost(5, 4.0, cfg) - 5 * cfg.server_cost) / cfg.wait_cost
    assert mean_wait == pytest.approx(lq / 4.0, rel=0.15)  # Little's law: Wq = Lq / lambda
    assert len(sim.arrivals) / 6000 == pytest.approx(4.0, rel=0.03)


def test_speculation_converges_sooner_and_leaves_the_actor_unchanged() -> None:
    cfg = TuningConfig(phases=(Phase(200, 5.0), Phase(200, 12.0), Phase(200, 6.0)))
    base = run_tuning(cfg, seed=1, speculate=False)
    spec = run_tuning(cfg, seed=1, speculate=True)
    # Same arrivals, so the Actor decides the same values at the same times in both runs.
    actor_writes = [(w.t_s, w.action) for w in spec.result.writes if w.source == "actor"]
    confirmed_steps = {w.step for w in spec.result.writes} - {
        w.step for w in spec.result.writes if w.source == "actor"
    }
    expected = [(w.t_s, w.action) for w in base.result.writes if w.step not in confirmed_steps]
    assert actor_writes == expected
    # Within each step the Actor's write, if any, comes last.
    for step in {w.step for w in spec.result.writes}:
        in_step = [w for w in spec.result.writes if w.step == step]
        if any(w.source == "actor" for w in in_step):
            assert in_step[-1].source == "actor"
    for b, s in zip(base.shifts, spec.shifts, strict=True):
        assert s.first_within_s is not None and b.first_within_s is not None
        assert s.first_within_s < b.first_within_s


def test_study_summaries_count_every_shift() -> None:
    cfg = dataclasses.replace(TuningConfig(), phases=(Phase(120, 4.0), Phase(120, 9.0)))
    seen = []
    base, spec, runs = run_tuning_study(cfg, [0, 1], on_run=seen.append)
    assert len(runs) == len(seen) == 4
    assert base.shifts == spec.shifts == 2
    data = spec.to_json()
    assert data["mode"] == "speculative" and data["speculator_writes"] > 0
    assert base.to_json()["speculator_writes"] == 0
