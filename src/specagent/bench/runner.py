"""Plays episodes through policies and records what happened, one episode run at a time.

The unit of work is an :class:`EpisodeRun`: one episode under one policy, on a fresh clock and
a fresh environment, with the model already loaded. :class:`Worker` owns the loaded model and
the loaded datasets of one process, so the same code serves the local loop, a process pool and
Ray workers: each receives only names (dataset, episode id, policy) and returns an
:class:`EpisodeOutcome`, a plain record that pickles and serialises to JSON.

Turns of an episode are sessions on one ledger (the model sees the whole conversation). The
next user turn starts when the agent's answer to the last one is complete. Tool latency is drawn
once per (seed, episode, call) so every policy sees the same latency for the same call.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
import time
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..agent import Policy, SessionConfig, SessionResult, session_for
from ..agent.prompt import system_prompt
from ..clock import Clock, RealClock, VirtualClock
from ..events import Event, ModelOutput, ToolCallFailed, UserSpeech
from ..executor import LatencyFn
from ..ledger import Ledger
from ..models.base import ModelBackend, ModelError
from ..models.draft_decoding import DraftDecodingBackend
from ..models.registry import DEFAULT_MODEL
from ..profiles import get_profile
from ..speech import NaturalStyle, simulate_natural_speech, simulate_speech
from ..mcptools.cli import McpOptions, without_simulated_latency
from ..mcptools.errors import McpConfigError, McpConnectError
from ..mcptools.toolset import McpToolset
from ..timeline import describe
from ..tracing import session_tracer
from .datasets import load_dataset
from .episode import Episode, TurnRecord

__all__ = [
    "BenchSettings",
    "EpisodeOutcome",
    "EpisodeRun",
    "TurnOutcome",
    "Worker",
    "episode_latency",
    "play_episode",
]


@dataclass(frozen=True)
class BenchSettings:
    """Everything that decides an episode run's result, besides the episode and policy.

    Two runs with equal settings are comparable (and a stored result may be reused).
    """

    model: str = DEFAULT_MODEL
    clock: str = "virtual"
    """``virtual`` (model time charged by ``profile``) or ``real`` (wall time)."""
    profile: str = "measured"
    seed: int = 0
    words_per_minute: float = 150.0
    chunk_words: int = 3
    speech: str = "plain"
    """``plain`` (the words as written) or ``naturalistic`` (fillers, pauses, corrections)."""
    tool_latency_s: tuple[float, float] = (0.5, 1.0)
    """Default tool latency, uniform in this range; episodes may override per tool."""
    max_turns: int = 12
    session: SessionConfig = field(default_factory=SessionConfig)
    mcp: tuple[str, ...] = ()
    """MCP servers whose tools every episode's agent gets too (``--mcp``; jsonl episodes)."""
    tool_effects: tuple[str, ...] = ()
    """``--tool-effect`` overrides for those servers' tools (``NAME=CLASS``)."""
    draft_model: str | None = None
    """A faster model: ``verified``'s speculator and ``sync-draft``'s drafter (``None``:
    ``verified`` guesses with the main model; ``sync-draft`` cannot run)."""
    draft_profile: str | None = None
    """The draft model's latency profile on the virtual clock (default: ``profile``)."""

    def __post_init__(self) -> None:
        if self.clock not in ("virtual", "real"):
            raise ValueError(f"unknown clock {self.clock!r}; choose virtual or real")
        if self.speech not in ("plain", "naturalistic"):
            raise ValueError(f"unknown speech mode {self.speech!r}; choose plain or naturalistic")
        low, high = self.tool_latency_s
        if not 0 <= low <= high:
            raise ValueError(f"tool latency range must satisfy 0 <= low <= high, got {low}, {high}")
        get_profile(self.profile)  # raises ValueError for an unknown profile
        if self.draft_profile is not None:
            get_profile(self.draft_profile)

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        for name in ("mcp", "tool_effects", "draft_model", "draft_profile"):
            if not data[name]:  # absent when unused: older keys stay valid
                del data[name]
        return data

    def key(self) -> str:
        """A short stable hash of the settings (results with equal keys are comparable)."""
        text = json.dumps(self.to_json(), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


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


def _latency_fn(settings: BenchSettings, episode: Episode) -> LatencyFn:
    low, high = settings.tool_latency_s
    overrides = dict(episode.tool_latency_s)
    counts: dict[str, int] = {}

    def latency(name: str, arguments: Mapping[str, Any]) -> float:
        if name in overrides:
            return overrides[name]
        key = json.dumps([name, arguments], sort_keys=True, default=str)
        counts[key] = counts.get(key, 0) + 1
        rng = random.Random(f"{settings.seed}:{episode.dataset}:{episode.id}:{key}:{counts[key]}")
        return rng.uniform(low, high)

    return latency


def _speech(settings: BenchSettings, text: str, turn_index: int, episode: Episode) -> list:
    if settings.speech == "naturalistic":
        digest = hashlib.sha256(f"{settings.seed}:{episode.id}:{turn_index}".encode()).digest()
        return simulate_natural_speech(
            text,
            seed=int.from_bytes(digest[:4], "big"),
            words_per_minute=settings.words_per_minute,
            chunk_words=settings.chunk_words,
            style=NaturalStyle(),
        )
    return simulate_speech(
        text, words_per_minute=settings.words_per_minute, chunk_words=settings.chunk_words
    )


_CALL_STATUS = {
    "ToolCallIssued": "issued",
    "ToolCallRevised": "revised",
    "ToolCallRemoved": "removed",
    "ToolCallHeld": "held",
    "ToolCallStarted": "started",
    "ToolCallFinished": "done",
    "ToolCallFailed": "failed",
    "ToolCallCancelled": "cancelled",
    "ToolCallCommitted": "committed",
    "ToolCallCompensated": "compensated",
}
_ANSWER_STEP = {
    "AnswerStarted": "started",
    "AnswerCompleted": "completed",
    "AnswerSuppressed": "suppressed",
}


class _TimelineRecorder:
    """Keeps every event worth drawing as one row, times relative to the first event.

    A row has ``t``, ``lane`` and ``text`` (the CLI's wording, for the event log) and ``kind``
    (the event class), plus structured fields the HTML report draws from, never from the
    text: ``call``, ``tool``, ``effect``, ``status`` (issued, revised, removed, held,
    started, done, failed, cancelled, committed, compensated) and ``error_type`` for a call;
    ``start``, ``tokens`` and ``interrupted`` for a generation; ``final`` for speech;
    ``answer`` (started, completed, suppressed) for the answer. Given a session tracer, it
    passes every event on to it as well.
    """

    def __init__(self, toolset: Any = None, trace: Any = None) -> None:
        self.rows: list[dict[str, Any]] = []
        self.t0: float | None = None
        self._toolset = toolset
        self._trace = trace
        self._names: dict[int, str] = {}

    def __call__(self, event: Event) -> None:
        if self._trace is not None:
            self._trace(event)
        if self.t0 is None:
            self.t0 = event.t
        line = describe(event)
        if line is None:
            return
        lane, text = line
        kind = type(event).__name__
        row: dict[str, Any] = {"t": round(event.t - self.t0, 4), "lane": lane, "text": text}
        row["kind"] = kind
        if isinstance(event, ModelOutput):
            row["start"] = round(event.started_t - self.t0, 4)
            row["tokens"] = event.tokens
            row["interrupted"] = event.interrupted
        elif isinstance(event, UserSpeech):
            row["final"] = event.final
        elif kind in _ANSWER_STEP:
            row["answer"] = _ANSWER_STEP[kind]
        call_id = getattr(event, "call_id", None)
        if call_id is not None:
            row["call"] = call_id
            name = getattr(event, "name", None)
            if name is not None:
                self._names[call_id] = name
            name = self._names.get(call_id)
            if name is not None:
                row["tool"] = name
                tool = self._toolset.get(name) if self._toolset is not None else None
                if tool is not None:
                    row["effect"] = tool.effect.value
            row["status"] = _CALL_STATUS.get(kind, kind)
            if isinstance(event, ToolCallFailed):
                row["error_type"] = event.error_type
        self.rows.append(row)

    def close(self) -> None:
        """The episode is over: end its trace, if it is traced."""
        if self._trace is not None:
            self._trace.close()


def _turn_outcome(result: SessionResult, text: str) -> TurnOutcome:
    record = result.to_json()
    return TurnOutcome(
        user=text,
        answer=result.answer,
        ended=result.ended,
        latency_s=result.latency_s,
        first_token_latency_s=result.first_token_latency_s,
        calls=record["tool_calls"],
    )


async def play_episode(
    episode: Episode,
    backend: ModelBackend,
    clock: Clock,
    policy: Policy,
    settings: BenchSettings,
    mcp_tools: McpToolset | None = None,
    draft_backend: ModelBackend | None = None,
) -> EpisodeOutcome:
    """Play every user turn of ``episode`` under ``policy``; check the result by its rules.
    ``mcp_tools``: MCP servers' tools the agent gets besides the episode's own.
    ``draft_backend``: ``settings.draft_model``, loaded (see :class:`BenchSettings`)."""
    started_wall = time.perf_counter()
    env = episode.make_env()
    user = episode.user()
    toolset = env.toolset
    if mcp_tools is not None:
        mcp_tools.rebind(clock)
        toolset = mcp_tools.including(toolset.values())
    prompt = system_prompt(toolset.schemas())
    extra = env.context()
    if extra:
        prompt = f"{prompt}\n\n{extra}"
    ledger = Ledger()
    timeline = _TimelineRecorder(
        toolset=toolset,
        trace=session_tracer(
            session_id=ledger.session_id,
            toolset=toolset,
            policy=policy,
            backend=backend,
            clock=clock,
            attributes={"specagent.episode": f"{episode.dataset}/{episode.id}"},
        ),
    )
    latency = without_simulated_latency(_latency_fn(settings, episode), toolset)
    # verified's speculator: the same draws
    spec_latency = without_simulated_latency(_latency_fn(settings, episode), toolset)
    records: list[TurnRecord] = []
    outcomes: list[TurnOutcome] = []
    results: list[SessionResult] = []
    answer: str | None = None
    while len(records) < settings.max_turns:
        text = user.next_turn(answer)
        if text is None:
            break
        session = session_for(
            policy,
            backend,
            toolset,
            clock,
            speculator_latency=spec_latency,
            ledger=ledger,
            latency=latency,
            observer=timeline,
            config=settings.session,
            prompt=prompt,
            known=extra,
            draft_backend=draft_backend,
        )
        result = await session.run(_speech(settings, text, len(records), episode))
        results.append(result)
        records.append(
            TurnRecord(
                user=text,
                answer=result.answer,
                ended=result.ended,
                calls=result.tool_calls,
                latency_s=result.latency_s,
            )
        )
        outcomes.append(_turn_outcome(result, text))
        answer = result.answer
        if result.ended == "context_full":
            break
    timeline.close()
    check = env.check(records)
    first = [t.first_token_latency_s for t in outcomes]
    spec = [r.speculation for r in results]
    return EpisodeOutcome(
        dataset=episode.dataset,
        episode_id=episode.id,
        policy=policy.value,
        passed=check.passed,
        check_detail=check.detail,
        latency_s=episode_latency(records),
        first_token_latency_s=(
            sum(first) / len(first)  # type: ignore[arg-type]
            if first and all(x is not None for x in first)
            else None
        ),
        turns=outcomes,
        tokens_generated=sum(r.tokens_generated for r in results),
        protocol_errors=sum(r.protocol_errors for r in results),
        calls_issued=sum(s.issued for s in spec),
        calls_run_early=sum(s.run_early for s in spec),
        calls_wasted=sum(s.wasted for s in spec),
        calls_compensated=sum(s.compensated for s in spec),
        calls_held=sum(s.held for s in spec),
        draft_tokens=sum(s.drafted_tokens for s in spec) + _drafted(draft_backend, policy)[0],
        draft_tokens_kept=sum(s.accepted_tokens for s in spec) + _drafted(draft_backend, policy)[1],
        speculator_calls=sum(s.speculator_calls for s in spec),
        reads_joined=sum(s.reads_joined for s in spec),
        committed_state=_jsonable(env.committed_state()),
        timeline=timeline.rows,
        wall_s=round(time.perf_counter() - started_wall, 3),
        unrequested_calls=env.unrequested_calls(records),
        category=episode.meta.get("category"),
    )


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


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


def _drafted(draft_backend: ModelBackend | None, policy: Policy) -> tuple[int, int]:
    """``sync-draft``: draft tokens its decoding checked and kept in this episode."""
    if policy is not Policy.SYNC_DRAFT or not isinstance(draft_backend, DraftDecodingBackend):
        return 0, 0
    return draft_backend.drafted_tokens, draft_backend.accepted_tokens


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
