"""The records an episode run produces: what to run (:class:`EpisodeRun`) and what happened
(:class:`EpisodeOutcome`, one :class:`TurnOutcome` a user turn).

They are plain records that pickle and serialise to JSON, so they cross process boundaries
(process pool, Ray) and are what the result store, metrics and reports read. They live apart
from the code that plays episodes so that the code reading results depends on the records
alone (this module imports no other specagent module at run time).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .episode import TurnRecord

__all__ = ["EpisodeOutcome", "EpisodeRun", "TurnOutcome", "episode_latency"]


@dataclass(frozen=True)
class EpisodeRun:
    """One unit of work: which episode, under which policy."""

    dataset: str
    episode_id: str
    policy: str


@dataclass(frozen=True)
class TurnOutcome:
    user: str
    answer: str | None
    ended: str
    latency_s: float | None
    first_token_latency_s: float | None
    calls: list[dict[str, Any]]


@dataclass(frozen=True)
class EpisodeOutcome:
    """The record of one episode run: verdict, timing, cost and a timeline to draw."""

    dataset: str
    episode_id: str
    policy: str
    passed: bool
    check_detail: str
    latency_s: float | None
    """Mean over turns of (last word -> answer complete); ``None`` if any turn had no answer."""
    first_token_latency_s: float | None
    turns: list[TurnOutcome]
    tokens_generated: int
    protocol_errors: int
    calls_issued: int
    calls_run_early: int
    calls_wasted: int
    calls_compensated: int
    calls_held: int
    committed_state: Any
    timeline: list[dict[str, Any]]
    """One row per event worth drawing: ``{"t", "lane", "text"}`` plus generation spans."""
    wall_s: float
    error: str | None = None
    """Set when the run could not finish (model error, crash); ``passed`` is then False."""
    draft_tokens: int = 0
    """Tokens of drafts checked in one batch (``verified``); 0 for the other policies."""
    draft_tokens_kept: int = 0
    """Of those, the tokens the check kept as the model's own choice."""
    speculator_calls: int = 0
    """``verified``: reads its speculator started while the user spoke."""
    reads_joined: int = 0
    """``verified``: of those, reads the actor adopted (the tool ran once)."""
    unrequested_calls: int | None = None
    """Committed state-changing calls the episode did not ask for (``None``: the benchmark
    cannot tell, see :meth:`~specagent.bench.episode.EpisodeEnv.unrequested_calls`)."""
    category: str | None = None
    """The episode's category (``episode.meta["category"]``), for per-category reports."""

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EpisodeOutcome:
        values = dict(data)
        values["turns"] = [TurnOutcome(**t) for t in values["turns"]]
        return cls(**values)


def episode_latency(turns: Sequence[TurnRecord]) -> float | None:
    """Mean per-turn latency; ``None`` when some turn was never answered."""
    latencies = [t.latency_s for t in turns]
    if not latencies or any(x is None for x in latencies):
        return None
    return sum(latencies) / len(latencies)  # type: ignore[arg-type]
