"""Playing one episode: its user turns as sessions on one ledger, then its environment's check.

:func:`play_episode` is the part of an episode run that happens on the run's clock, with the
model already loaded; :class:`~specagent.bench.runner.Worker` prepares those and calls it. It
also fixes what every policy must see alike: the simulated speech of each turn and the tool
latency of each call, both drawn from the settings' seed.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Mapping
from typing import Any

from ..agent import Policy, SessionResult, session_for
from ..agent.prompt import system_prompt
from ..clock import Clock
from ..executor import LatencyFn
from ..ledger import Ledger
from ..mcptools.cli import without_simulated_latency
from ..mcptools.toolset import McpToolset
from ..models.base import ModelBackend
from ..models.draft_decoding import DraftDecodingBackend
from ..protocol import shown_value
from ..speech import NaturalStyle, simulate_natural_speech, simulate_speech
from ..tracing import session_tracer
from .episode import Episode, TurnRecord
from .outcome import EpisodeOutcome, TurnOutcome, episode_latency
from .settings import BenchSettings
from .timeline_rows import TimelineRecorder

__all__ = ["play_episode"]


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
    timeline = TimelineRecorder(
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
        committed_state=shown_value(env.committed_state()),
        timeline=timeline.rows,
        wall_s=round(time.perf_counter() - started_wall, 3),
        unrequested_calls=env.unrequested_calls(records),
        category=episode.meta.get("category"),
    )


def _drafted(draft_backend: ModelBackend | None, policy: Policy) -> tuple[int, int]:
    """``sync-draft``: draft tokens its decoding checked and kept in this episode."""
    if policy is not Policy.SYNC_DRAFT or not isinstance(draft_backend, DraftDecodingBackend):
        return 0, 0
    return draft_backend.drafted_tokens, draft_backend.accepted_tokens
