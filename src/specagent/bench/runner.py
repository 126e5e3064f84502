"""Runs episode runs, one at a time, in whatever process holds the model.

The unit of work is an :class:`EpisodeRun`: one episode under one policy, on a fresh clock and
a fresh environment, with the model already loaded. :class:`Worker` owns the loaded model and
the loaded datasets of one process, so the same code serves the local loop, a process pool and
Ray workers: each receives only names (dataset, episode id, policy) and returns an
:class:`EpisodeOutcome`, a plain record that pickles and serialises to JSON.

The parts live beside it, one concern a module: the settings (:mod:`.settings`), the records
(:mod:`.outcome`), playing one episode on its clock (:mod:`.play`) and the rows of its
timeline (:mod:`.timeline_rows`). Their public names are importable from here too.
"""

from __future__ import annotations

import time
import traceback

from ..agent import Policy
from ..clock import Clock, RealClock, VirtualClock
from ..mcptools.cli import McpOptions
from ..mcptools.errors import McpConfigError, McpConnectError
from ..mcptools.toolset import McpToolset
from ..models.base import ModelBackend, ModelError
from ..models.draft_decoding import DraftDecodingBackend
from ..profiles import get_profile
from .datasets import load_dataset
from .episode import Episode
from .outcome import EpisodeOutcome, EpisodeRun, TurnOutcome, episode_latency
from .play import play_episode
from .settings import BenchSettings
from .timeline_rows import TimelineRecorder as _TimelineRecorder  # noqa: F401 (tests use it)

__all__ = [
    "BenchSettings",
    "EpisodeOutcome",
    "EpisodeRun",
    "TurnOutcome",
    "Worker",
    "episode_latency",
    "play_episode",
]


class Worker:
    """Runs episode runs in one process, keeping the model and datasets loaded between them."""

    def __init__(
        self,
        settings: BenchSettings,
        backend: ModelBackend | None = None,
        draft_backend: ModelBackend | None = None,
    ) -> None:
        self.settings = settings
        self._backend = backend
        self._draft = draft_backend
        self._episodes: dict[str, dict[str, Episode]] = {}
        self._mcp: McpToolset | None = None

    def episode(self, dataset: str, episode_id: str) -> Episode:
        if dataset not in self._episodes:
            self._episodes[dataset] = {
                e.id: e for split in ("test", "train") for e in load_dataset(dataset, split=split)
            }
        try:
            return self._episodes[dataset][episode_id]
        except KeyError:
            raise KeyError(f"no episode {episode_id!r} in dataset {dataset!r}") from None

    def _clock(self) -> Clock:
        return VirtualClock() if self.settings.clock == "virtual" else RealClock()

    def _backend_on(self, clock: Clock) -> ModelBackend:
        profile = get_profile(self.settings.profile)
        if self._backend is None:
            from ..models.loader import load_backend

            self._backend = load_backend(self.settings.model, clock, profile)
        else:
            self._backend.rebind(clock, profile)
        return self._backend

    def run(self, job: EpisodeRun) -> EpisodeOutcome:
        """Run one episode under one policy; a crash becomes an outcome with ``error`` set."""
        started = time.perf_counter()
        try:
            episode = self.episode(job.dataset, job.episode_id)
            policy = Policy.parse(job.policy)
            clock = self._clock()
            backend = self._backend_on(clock)
            draft = self._draft_on(clock, backend, policy)
            mcp = self._mcp_tools()
            return clock.run(
                play_episode(episode, backend, clock, policy, self.settings, mcp, draft)
            )
        except (ModelError, McpConnectError, McpConfigError):
            raise  # a broken model or MCP server breaks every run: stop, record no failures
        except Exception as exc:  # noqa: BLE001 - one bad episode must not stop the benchmark
            return _crashed(job, exc, time.perf_counter() - started)

    def _draft_on(self, clock: Clock, backend: ModelBackend, policy: Policy) -> ModelBackend | None:
        """The draft model on this episode's clock: for ``sync-draft`` wrapped around the main
        model (fresh counters each episode), for ``verified`` the speculator's own model."""
        settings = self.settings
        if policy is Policy.SYNC_DRAFT and settings.draft_model is None:
            raise ValueError("the sync-draft policy needs --draft-model")
        if settings.draft_model is None or policy not in (Policy.SYNC_DRAFT, Policy.VERIFIED):
            return None
        profile = get_profile(settings.profile)
        draft_profile = get_profile(settings.draft_profile or settings.profile)
        if self._draft is None:
            from ..models.loader import load_backend

            self._draft = load_backend(settings.draft_model, clock, draft_profile)
        if policy is Policy.VERIFIED:
            self._draft.rebind(clock, draft_profile)
            return self._draft
        wrapper = DraftDecodingBackend(backend, self._draft)
        wrapper.rebind(clock, profile, draft_profile)
        return wrapper

    def _mcp_tools(self) -> McpToolset | None:
        """This process's connections to ``settings.mcp``, opened on first use (they live on
        their own loop, so every episode's clock can use them; see :mod:`specagent.mcptools`)."""
        if self._mcp is None and self.settings.mcp:
            options = McpOptions.from_cli(self.settings.mcp, self.settings.tool_effects)
            clock = RealClock()

            async def connect() -> McpToolset:
                return await McpToolset.connect(
                    *options.servers, clock=clock, overrides=options.overrides
                )

            self._mcp = clock.run(connect())
        return self._mcp

    def close(self) -> None:
        if self._mcp is not None:
            clock = RealClock()
            self._mcp.rebind(clock)
            clock.run(self._mcp.aclose())
            self._mcp = None
        for backend in (self._backend, self._draft):
            if backend is not None:
                clock = VirtualClock()
                backend.rebind(clock, get_profile(self.settings.profile))
                clock.run(backend.aclose())
        self._backend = self._draft = None


def _crashed(job: EpisodeRun, exc: BaseException, wall_s: float) -> EpisodeOutcome:
    detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return EpisodeOutcome(
        dataset=job.dataset,
        episode_id=job.episode_id,
        policy=job.policy,
        passed=False,
        check_detail=detail,
        latency_s=None,
        first_token_latency_s=None,
        turns=[],
        tokens_generated=0,
        protocol_errors=0,
        calls_issued=0,
        calls_run_early=0,
        calls_wasted=0,
        calls_compensated=0,
        calls_held=0,
        committed_state=None,
        timeline=[],
        wall_s=round(wall_s, 3),
        error=detail,
    )
