"""Whole sessions with the real default model through llama.cpp (integration, in CI).

These assert what must hold whatever a small model decides to say: sessions end, the protocol
is honoured by the runtime, state-changing calls never start before their commit point, and
nothing is left running. Model quality is measured elsewhere, not asserted here.
"""

from __future__ import annotations

import asyncio

import pytest

from specagent.agent import Policy, SessionConfig, session_for
from specagent.clock import VirtualClock
from specagent.envs.assistant import (
    EXAMPLE_REQUESTS,
    AssistantWorld,
    assistant_toolset,
    tool_latency,
)
from specagent.events import ModelOutput, ToolCallRevised, ToolCallStarted, UserSpeech
from specagent.models.llamacpp import LlamaCppBackend
from specagent.models.registry import DEFAULT_MODEL
from specagent.speech import simulate_speech

pytestmark = pytest.mark.real_model


@pytest.fixture(scope="module")
def backend_factory():
    cache: dict[str, LlamaCppBackend] = {}

    def make(clock: VirtualClock) -> LlamaCppBackend:
        # One Llama object per test module (loading costs seconds); rebind it to each clock.
        if "default" not in cache:
            cache["default"] = LlamaCppBackend.from_registry(DEFAULT_MODEL, clock)
        backend = cache["default"]
        backend.rebind(clock)
        return backend

    return make


@pytest.mark.parametrize("policy", list(Policy))
def test_default_model_session_completes_safely(policy, backend_factory):
    clock = VirtualClock()
    world = AssistantWorld()
    toolset = assistant_toolset(world)
    session = session_for(
        policy,
        backend_factory(clock),
        toolset,
        clock,
        latency=tool_latency(0),
        config=SessionConfig(max_generations=20),
    )
    speech = simulate_speech(EXAMPLE_REQUESTS["weather-and-table"])

    async def main():
        result = await session.run(speech)
        return result, [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]

    result, others = clock.run(main())
    assert others == []
    assert result.ended in {"answered", "stalled", "too_many_protocol_errors", "generation_limit"}
    assert result.generations >= 1 and result.tokens_generated > 0
    outputs = [e for e in result.ledger if isinstance(e, ModelOutput)]
    assert outputs, "the real model wrote nothing"
    final_t = max(e.t for e in result.ledger if isinstance(e, UserSpeech) and e.final)
    for call in result.tool_calls:
        if call.effect in ("reversible", "irreversible") and call.started_s is not None:
            assert call.started_s >= final_t
    # every started call is in the ledger, and every call ended one way or another
    # (a call's report is its last version: an earlier version may have started and then
    # been revised into one that never did)
    started = {e.call_id for e in result.ledger if isinstance(e, ToolCallStarted)}
    reported = {c.call_id for c in result.tool_calls if c.started_s is not None}
    revised = {e.call_id for e in result.ledger if isinstance(e, ToolCallRevised)}
    assert reported <= started and started - reported <= revised
    assert all(c.status in {"done", "failed", "cancelled"} for c in result.tool_calls)
