"""Lossy tuning: a slow Actor and a fast Speculator staff a simulated queue.

The system is an M/M/c queue simulated event by event on the virtual clock: jobs arrive as
a Poisson process whose rate jumps between phases (a load shift at each phase boundary), each
of ``c`` servers serves one job at a time (exponential service, rate ``mu``). The tuned
parameter is ``c``. Running cost per second is ``server_cost * c + wait_cost * L_q``, whose
exact optimum ``c*`` for a known arrival rate follows from the Erlang C formula.

* **Actor** (slow, precise): estimates the arrival rate over the last ``actor_window_s``,
  computes the exact optimum for that estimate, and takes ``actor_think_s`` to do so (a
  stated setting standing for a careful optimiser; the decision itself is computed here).
* **Speculator** (fast, rough): estimates the rate over a short window and applies the
  square-root staffing rule ``ceil(a + beta * sqrt(a))`` (``a`` = offered load) within
  ``speculator_think_s``; it proposes a change only when it differs from the current ``c`` by
  at least ``deadband`` servers.

Both keep the setting until they have seen a full window of arrivals.

Under :class:`~specagent.actions.lossy.LossyRunner` the Speculator's change is applied at once
and the Actor's decision overwrites it. :func:`analyse` measures, after every load shift, the
time until the cost of the setting in force is within ``tolerance`` of the optimum (first
entry, and settling: staying there until the next shift) and the excess cost over each phase.
"""

from __future__ import annotations

import bisect
import heapq
import math
import random
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..clock import Clock, VirtualClock
from ..errors import SpecagentError
from ..tools import Effect
from .environment import ActionEnvironment
from .lossy import LossyConfig, LossyResult, LossyRunner, LossyWrite

__all__ = [
    "Phase",
    "QueueSim",
    "ShiftOutcome",
    "TuningConfig",
    "TuningConfigError",
    "TuningEnvironment",
    "TuningRun",
    "TuningSummary",
    "analyse",
    "erlang_c_cost",
    "optimal_servers",
    "run_tuning",
    "run_tuning_study",
]


class TuningConfigError(SpecagentError, ValueError):
    """A tuning setting is out of range."""


@dataclass(frozen=True)
class Phase:
    duration_s: float
    arrival_rate: float


DEFAULT_PHASES = (Phase(300, 5.0), Phase(300, 12.0), Phase(300, 7.0), Phase(300, 15.0))


@dataclass(frozen=True)
class TuningConfig:
    phases: tuple[Phase, ...] = DEFAULT_PHASES
    service_rate: float = 1.0
    server_cost: float = 1.0
    wait_cost: float = 5.0
    actor_window_s: float = 30.0
    actor_think_s: float = 15.0
    speculator_window_s: float = 15.0
    speculator_think_s: float = 0.5
    speculator_interval_s: float = 5.0
    beta: float = 1.3
    deadband: int = 3
    tolerance: float = 0.05

    def __post_init__(self) -> None:
        if not self.phases or any(p.duration_s <= 0 or p.arrival_rate <= 0 for p in self.phases):
            raise TuningConfigError("phases need positive durations and arrival rates")
        positive = {
            "service_rate": self.service_rate,
            "server_cost": self.server_cost,
            "wait_cost": self.wait_cost,
            "actor_window_s": self.actor_window_s,
            "actor_think_s": self.actor_think_s,
            "speculator_window_s": self.speculator_window_s,
            "speculator_think_s": self.speculator_think_s,
            "speculator_interval_s": self.speculator_interval_s,
        }
        for name, value in positive.items():
            if value <= 0:
                raise TuningConfigError(f"{name} must be positive, got {value}")
        if self.deadband < 1 or self.tolerance < 0:
            raise TuningConfigError("deadband must be >= 1 and tolerance >= 0")

    @property
    def horizon_s(self) -> float:
        return sum(p.duration_s for p in self.phases)

    def boundaries(self) -> list[float]:
        out, t = [], 0.0
        for p in self.phases:
            out.append(t)
            t += p.duration_s
        return out


def erlang_c_cost(servers: int, arrival_rate: float, cfg: TuningConfig) -> float:
    """Expected cost per second with ``servers`` servers (inf if the queue is unstable)."""
    a = arrival_rate / cfg.service_rate
    if servers <= a:
        return math.inf
    term, total = 1.0, 1.0  # a^k / k! for k = 0, summed
    for k in range(1, servers):
        term *= a / k
        total += term
    last = term * a / servers * servers / (servers - a)  # a^c / c! * c / (c - a)
    wait_prob = last / (total + last)
    queue_len = wait_prob * a / (servers - a)
    return cfg.server_cost * servers + cfg.wait_cost * queue_len


def optimal_servers(arrival_rate: float, cfg: TuningConfig) -> int:
    a = arrival_rate / cfg.service_rate
    lo = max(1, math.floor(a) + 1)
    candidates = range(lo, lo + 10 + 4 * math.ceil(math.sqrt(a + 1)))
    return min(candidates, key=lambda c: (erlang_c_cost(c, arrival_rate, cfg), c))


class QueueSim:
    """An M/M/c queue advanced lazily to the clock's time (no task per job)."""

    def __init__(self, cfg: TuningConfig, seed: int, servers: int) -> None:
        self.cfg = cfg
        # Separate streams: arrivals are the same whatever the staffing, so runs compare.
        self.arrival_rng = random.Random(seed)
        self.service_rng = random.Random(seed + 1_000_003)
        self.t = 0.0
        self.servers = servers
        self.busy = 0
        self.waiting: deque[float] = deque()
        self.completions: list[float] = []
        self.arrivals: list[float] = []
        self.waits: list[tuple[float, float]] = []
        self.phase_cost = [0.0 for _ in cfg.phases]
        """Realised cost per phase: server-seconds and waiting job-seconds, weighted."""
        self._ends = [b + p.duration_s for b, p in zip(cfg.boundaries(), cfg.phases, strict=True)]
        self.next_arrival = self._draw_arrival(0.0)

    def rate_at(self, t: float) -> float:
        i = min(bisect.bisect_right(self._ends, t), len(self.cfg.phases) - 1)
        return self.cfg.phases[i].arrival_rate

    def _draw_arrival(self, t: float) -> float:
        while True:  # piecewise-constant rate: memoryless restart at each phase end
            i = bisect.bisect_right(self._ends, t)
            if i >= len(self._ends):
                return math.inf
            candidate = t + self.arrival_rng.expovariate(self.cfg.phases[i].arrival_rate)
            if candidate < self._ends[i]:
                return candidate
            t = self._ends[i]

    def _start(self, arrived: float) -> None:
        self.busy += 1
        self.waits.append((arrived, self.t - arrived))
        heapq.heappush(
            self.completions, self.t + self.service_rng.expovariate(self.cfg.service_rate)
        )

    def _fill(self) -> None:
        while self.waiting and self.busy < self.servers:
            self._start(self.waiting.popleft())

    def advance_to(self, until: float) -> None:
        while True:
            done = self.completions[0] if self.completions else math.inf
            nxt = min(done, self.next_arrival)
            if nxt > until:
                break
            self._accrue(nxt)
            self.t = nxt
            if done <= self.next_arrival:
                heapq.heappop(self.completions)
                self.busy -= 1
                self._fill()
            else:
                self.arrivals.append(nxt)
                self.waiting.append(nxt)
                self._fill()
                self.next_arrival = self._draw_arrival(nxt)
        if until > self.t:
            self._accrue(until)
            self.t = until

    def _accrue(self, until: float) -> None:
        """Add the running cost from ``self.t`` to ``until`` (constant in between)."""
        rate = self.cfg.server_cost * self.servers + self.cfg.wait_cost * len(self.waiting)
        t = self.t
        while t < until:
            i = min(bisect.bisect_right(self._ends, t), len(self._ends) - 1)
            hi = min(until, self._ends[i]) if i < len(self._ends) - 1 else until
            self.phase_cost[i] += rate * (hi - t)
            t = hi

    def set_servers(self, servers: int, at: float) -> None:
        self.advance_to(at)
        self.servers = servers  # busy servers above the new count finish their current job
        self._fill()

    def rate_estimate(self, window_s: float, at: float) -> float:
        self.advance_to(at)
        span = min(window_s, at)
        if span <= 0:
            return 0.0
        count = len(self.arrivals) - bisect.bisect_right(self.arrivals, at - span)
        return count / span


class TuningEnvironment(ActionEnvironment[QueueSim, int]):
    """The queue's staffing as an Actor/Speculator environment (state: the live system)."""

    def __init__(self, sim: QueueSim, clock: Clock) -> None:
        self.sim = sim
        self.clock = clock
        self.cfg = sim.cfg

    def is_terminal(self, state: QueueSim) -> bool:
        return self.clock.now() >= self.cfg.horizon_s

    async def act(self, state: QueueSim) -> int:
        now = self.clock.now()
        estimate = state.rate_estimate(self.cfg.actor_window_s, now)
        await self.clock.sleep(self.cfg.actor_think_s)
        if now < self.cfg.actor_window_s or estimate <= 0:
            return state.servers  # less than a full window seen: keep the setting
        return optimal_servers(estimate, self.cfg)

    async def propose(self, state: QueueSim, k: int) -> list[int]:
        now = self.clock.now()
        estimate = state.rate_estimate(self.cfg.speculator_window_s, now)
        await self.clock.sleep(self.cfg.speculator_think_s)
        if now < self.cfg.speculator_window_s:
            return []
        a = estimate / self.cfg.service_rate
        guess = max(1, math.ceil(a + self.cfg.beta * math.sqrt(a)))
        if abs(guess - state.servers) < self.cfg.deadband:
            return []  # within the deadband: leave the setting alone
        return [guess]

    async def execute(self, state: QueueSim, action: int, *, sandboxed: bool = False) -> QueueSim:
        if action < 1:
            raise ValueError(f"server count must be >= 1, got {action}")
        state.set_servers(action, self.clock.now())
        return state

    def effect(self, state: QueueSim, action: int) -> Effect:
        return Effect.IDEMPOTENT  # setting a parameter: repeatable and overwritten by the next


@dataclass(frozen=True)
class ShiftOutcome:
    at_s: float
    optimum: int
    first_within_s: float | None
    """Seconds from the shift until the setting's cost was first within tolerance."""
    settled_s: float | None
    """Seconds from the shift after which it stayed within tolerance until the phase ended."""
    excess_cost: float
    """Realised cost over the phase (simulated servers and waiting jobs) divided by the
    optimum's expected cost over the same time, minus one."""


@dataclass
class TuningRun:
    mode: str
    seed: int
    result: LossyResult[int]
    shifts: list[ShiftOutcome] = field(default_factory=list)
    mean_wait_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "seed": self.seed,
            "steps": self.result.steps,
            "writes": len(self.result.writes),
            "speculator_writes": sum(w.source == "speculator" for w in self.result.writes),
            "confirmed": self.result.confirmed,
            "overwritten": self.result.overwritten,
            "mean_wait_s": self.mean_wait_s,
            "shifts": [s.__dict__ for s in self.shifts],
        }


def _timeline(initial: int, writes: Sequence[LossyWrite[int]]) -> list[tuple[float, int]]:
    out = [(0.0, initial)]
    for w in sorted(writes, key=lambda w: w.t_s):
        out.append((w.t_s, w.action))
    return out


def analyse(
    cfg: TuningConfig,
    initial: int,
    writes: Sequence[LossyWrite[int]],
    phase_cost: Sequence[float],
) -> list[ShiftOutcome]:
    """Convergence after every load shift (every phase boundary but the first)."""
    timeline = _timeline(initial, writes)
    outcomes = []
    bounds = cfg.boundaries()
    for i in range(1, len(cfg.phases)):
        start, end = bounds[i], bounds[i] + cfg.phases[i].duration_s
        rate = cfg.phases[i].arrival_rate
        best = optimal_servers(rate, cfg)
        best_cost = erlang_c_cost(best, rate, cfg)
        # Pieces of constant setting within [start, end).
        pieces: list[tuple[float, float, int]] = []
        for j, (t, c) in enumerate(timeline):
            t_next = timeline[j + 1][0] if j + 1 < len(timeline) else math.inf
            lo, hi = max(t, start), min(t_next, end)
            if lo < hi:
                pieces.append((lo, hi, c))
        within = [
            erlang_c_cost(c, rate, cfg) <= best_cost * (1 + cfg.tolerance) for _, _, c in pieces
        ]
        first = next(
            (lo - start for (lo, _, _), ok in zip(pieces, within, strict=True) if ok), None
        )
        settled: float | None = None
        for (lo, _, _), ok in zip(reversed(pieces), reversed(within), strict=True):
            if not ok:
                break
            settled = lo - start
        outcomes.append(
            ShiftOutcome(
                at_s=start,
                optimum=best,
                first_within_s=first,
                settled_s=settled,
                excess_cost=phase_cost[i] / ((end - start) * best_cost) - 1.0,
            )
        )
    return outcomes


def run_tuning(cfg: TuningConfig, *, seed: int, speculate: bool) -> TuningRun:
    """One run of the whole load schedule, Actor-only or with lossy speculation."""
    clock = VirtualClock()
    initial = optimal_servers(cfg.phases[0].arrival_rate, cfg)
    sim = QueueSim(cfg, seed, initial)

    async def main() -> LossyResult[int]:
        env = TuningEnvironment(sim, clock)
        lossy = LossyConfig(
            speculate=speculate,
            speculator_interval_s=cfg.speculator_interval_s,
        )
        return await LossyRunner(env, clock, lossy).run(sim)

    result = clock.run(main())
    sim.advance_to(cfg.horizon_s)
    run = TuningRun(mode="speculative" if speculate else "actor-only", seed=seed, result=result)
    writes = [w for w in result.writes if w.t_s < cfg.horizon_s]
    run.shifts = analyse(cfg, initial, writes, sim.phase_cost)
    run.mean_wait_s = sum(w for _, w in sim.waits) / len(sim.waits) if sim.waits else 0.0
    return run


@dataclass
class TuningSummary:
    """Convergence figures over every shift of every seed, for one mode."""

    mode: str
    runs: int = 0
    shifts: int = 0
    first_within_s: list[float] = field(default_factory=list)
    settled_s: list[float] = field(default_factory=list)
    excess_cost: list[float] = field(default_factory=list)
    never_within: int = 0
    never_settled: int = 0
    speculator_writes: int = 0
    overwritten: int = 0
    mean_wait_s: list[float] = field(default_factory=list)

    def add(self, run: TuningRun, cfg: TuningConfig) -> None:
        self.runs += 1
        self.speculator_writes += sum(w.source == "speculator" for w in run.result.writes)
        self.overwritten += run.result.overwritten
        self.mean_wait_s.append(run.mean_wait_s)
        for i, shift in enumerate(run.shifts, start=1):
            span = cfg.phases[i].duration_s
            self.shifts += 1
            self.never_within += shift.first_within_s is None
            self.never_settled += shift.settled_s is None
            # An unmet target counts as the whole phase (a lower bound on the true time).
            self.first_within_s.append(
                span if shift.first_within_s is None else shift.first_within_s
            )
            self.settled_s.append(span if shift.settled_s is None else shift.settled_s)
            self.excess_cost.append(shift.excess_cost)

    def to_json(self) -> dict[str, Any]:
        def avg(xs: list[float]) -> float:
            return sum(xs) / len(xs) if xs else 0.0

        return {
            "mode": self.mode,
            "runs": self.runs,
            "shifts": self.shifts,
            "mean_time_to_converge_s": avg(self.first_within_s),
            "median_time_to_converge_s": _median(self.first_within_s),
            "mean_settling_s": avg(self.settled_s),
            "mean_excess_cost": avg(self.excess_cost),
            "never_within": self.never_within,
            "never_settled": self.never_settled,
            "speculator_writes": self.speculator_writes,
            "actor_overwrites": self.overwritten,
            "mean_wait_s": avg(self.mean_wait_s),
        }


def _median(xs: Sequence[float]) -> float:
    if not xs:
        return 0.0
    ys = sorted(xs)
    mid = len(ys) // 2
    return ys[mid] if len(ys) % 2 else (ys[mid - 1] + ys[mid]) / 2


def run_tuning_study(
    cfg: TuningConfig,
    seeds: Sequence[int],
    *,
    on_run: Callable[[TuningRun], None] | None = None,
) -> tuple[TuningSummary, TuningSummary, list[TuningRun]]:
    """Actor-only and speculative runs over ``seeds`` (same arrivals per seed in both)."""
    base, spec = TuningSummary("actor-only"), TuningSummary("speculative")
    runs: list[TuningRun] = []
    for seed in seeds:
        for summary, speculate in ((base, False), (spec, True)):
            run = run_tuning(cfg, seed=seed, speculate=speculate)
            summary.add(run, cfg)
            runs.append(run)
            if on_run is not None:
                on_run(run)
    return base, spec, runs
