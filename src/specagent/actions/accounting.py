"""What speculation cost and bought: per-call records, per-step outcomes, run summaries.

Every call the engine makes (Actor, Speculator, follow-up, compensation) is recorded with its
virtual start and end time and, once the run has decided, its fate: part of the committed
trajectory, or wasted on a branch that was discarded. From these the summaries below derive
the figures the issue asks for: extra calls, busy time by role, hit rates (top-1, top-k) and
time saved against a sequential run, ``(T_seq - T_spec) / T_seq``.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

__all__ = [
    "CallRecord",
    "Comparison",
    "Fate",
    "Role",
    "RunResult",
    "StepRecord",
    "compare_runs",
]

A = TypeVar("A")


class Role(enum.Enum):
    ACTOR = "actor"
    SPECULATOR = "speculator"
    FOLLOW_UP = "follow_up"
    COMPENSATION = "compensation"


class Fate(enum.Enum):
    PENDING = "pending"
    """Not decided yet (never left in a finished run)."""
    COMMITTED = "committed"
    """Part of the committed trajectory (a sequential run makes this call too)."""
    OVERHEAD = "overhead"
    """Speculator calls and compensations: cost that buys nothing by itself."""
    WASTED = "wasted"
    """Pre-launched on a guess that missed (or deeper on such a branch), then discarded."""


@dataclass
class CallRecord:
    """One call the engine made. ``end_s`` is when it returned or was cancelled."""

    role: Role
    step: int
    start_s: float
    speculative: bool
    """Started before the Actor had confirmed the step it belongs to."""
    end_s: float | None = None
    cancelled: bool = False
    fate: Fate = Fate.PENDING
    envelope: str | None = None
    """For a pre-launched follow-up: the safety envelope it ran under."""
    error: str | None = None
    """What the call raised, if it failed."""

    @property
    def duration_s(self) -> float:
        return 0.0 if self.end_s is None else self.end_s - self.start_s


@dataclass(frozen=True)
class StepRecord(Generic[A]):
    """The outcome of one committed step."""

    index: int
    action: A
    guesses: tuple[A, ...]
    """The Speculator's guesses in rank order (empty if it was late or speculation is off)."""
    hit_rank: int | None
    """0-based rank of the first guess the guard matched to the action, or None."""
    prelaunched_hit: bool
    """The matching guess's follow-up was already launched (its branch was committed)."""
    speculator_late: bool
    """The Actor decided before the Speculator had guessed."""
    decided_s: float
    """When the Actor's decision for this step was known."""


@dataclass(frozen=True)
class RunResult(Generic[A]):
    """One run of an environment from a start state to a terminal state (or a step limit)."""

    steps: tuple[StepRecord[A], ...]
    elapsed_s: float
    calls: tuple[CallRecord, ...]
    k: int
    depth: int
    final_state: Any = None

    @property
    def actions(self) -> tuple[A, ...]:
        return tuple(s.action for s in self.steps)

    def _count(self, role: Role, fate: Fate | None = None) -> int:
        return sum(1 for c in self.calls if c.role is role and (fate is None or c.fate is fate))

    def _time(self, role: Role, fate: Fate | None = None) -> float:
        return sum(
            c.duration_s for c in self.calls if c.role is role and (fate is None or c.fate is fate)
        )

    @property
    def guessed_steps(self) -> int:
        """Steps for which the Speculator's guesses arrived in time."""
        return sum(1 for s in self.steps if s.guesses)

    @property
    def hits_top1(self) -> int:
        return sum(1 for s in self.steps if s.hit_rank == 0)

    @property
    def hits_topk(self) -> int:
        return sum(1 for s in self.steps if s.hit_rank is not None)

    @property
    def prelaunched_hits(self) -> int:
        return sum(1 for s in self.steps if s.prelaunched_hit)

    @property
    def hit_rate_top1(self) -> float:
        """Share of the steps guessed in time whose first guess matched."""
        return self.hits_top1 / self.guessed_steps if self.guessed_steps else 0.0

    @property
    def hit_rate_topk(self) -> float:
        """Share of the steps guessed in time with a matching guess among the k."""
        return self.hits_topk / self.guessed_steps if self.guessed_steps else 0.0

    @property
    def commit_rate(self) -> float:
        """Share of all steps whose follow-up was pre-launched and committed."""
        return self.prelaunched_hits / len(self.steps) if self.steps else 0.0

    @property
    def extra_calls(self) -> int:
        """Calls a sequential run would not have made."""
        return sum(1 for c in self.calls if c.fate is not Fate.COMMITTED)

    @property
    def wasted_calls(self) -> int:
        return sum(1 for c in self.calls if c.fate is Fate.WASTED)

    def busy_s(self) -> dict[str, float]:
        """Virtual seconds spent in calls, by role and fate (the compute/latency bill)."""
        out: dict[str, float] = {}
        for c in self.calls:
            key = f"{c.role.value}:{c.fate.value}"
            out[key] = out.get(key, 0.0) + c.duration_s
        return dict(sorted(out.items()))

    def summary(self) -> dict[str, Any]:
        return {
            "k": self.k,
            "depth": self.depth,
            "steps": len(self.steps),
            "elapsed_s": self.elapsed_s,
            "hits_top1": self.hits_top1,
            "hits_topk": self.hits_topk,
            "hit_rate_top1": self.hit_rate_top1,
            "hit_rate_topk": self.hit_rate_topk,
            "prelaunched_hits": self.prelaunched_hits,
            "commit_rate": self.commit_rate,
            "guessed_steps": self.guessed_steps,
            "speculator_late": sum(1 for s in self.steps if s.speculator_late),
            "calls": len(self.calls),
            "extra_calls": self.extra_calls,
            "wasted_calls": self.wasted_calls,
            "busy_s": self.busy_s(),
        }


@dataclass(frozen=True)
class Comparison:
    """A speculative run set against the sequential run of the same environment."""

    lossless: bool
    """The committed action sequences are identical."""
    t_sequential_s: float
    t_speculative_s: float
    extra_calls: int
    """Calls beyond the sequential run's."""
    extra_busy_s: float
    """Busy time beyond the sequential run's (speculator, wasted branches, compensations)."""
    first_divergence: int | None = field(default=None)

    @property
    def time_saved(self) -> float:
        if self.t_sequential_s <= 0:
            return 0.0
        return (self.t_sequential_s - self.t_speculative_s) / self.t_sequential_s


def compare_runs(sequential: RunResult[Any], speculative: RunResult[Any]) -> Comparison:
    seq, spec = sequential.actions, speculative.actions
    divergence = next(
        (i for i, (a, b) in enumerate(zip(seq, spec, strict=False)) if a != b),
        None if len(seq) == len(spec) else min(len(seq), len(spec)),
    )
    seq_busy = sum(c.duration_s for c in sequential.calls)
    spec_busy = sum(c.duration_s for c in speculative.calls)
    return Comparison(
        lossless=divergence is None,
        t_sequential_s=sequential.elapsed_s,
        t_speculative_s=speculative.elapsed_s,
        extra_calls=len(speculative.calls) - len(sequential.calls),
        extra_busy_s=spec_busy - seq_busy,
        first_divergence=divergence,
    )


def mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs) if xs else 0.0
