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
from specagent.events import (
    ModelOutput,
    ToolCallIssued,
    ToolCallRevised,
    ToolCallStarted,
    UserSpeech,
)
from specagent.tools import Effect
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


@pytest.mark.parametrize("policy", [p for p in Policy if p is not Policy.SYNC_DRAFT])
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
    # Every version of every call (a revised call's earlier versions too): what ran before
    # the final words must be allowed to by its effect. Under speculative a sandboxed run (on a
    # copy) and a reversible run (compensation registered) may start early by design; an
    # irreversible or idempotent call touching real state never does, under any policy.
    versions = {
        (e.call_id, e.version): e.name
        for e in result.ledger
        if isinstance(e, (ToolCallIssued, ToolCallRevised))
    }
    for started in (e for e in result.ledger if isinstance(e, ToolCallStarted)):
        effect = toolset[versions[(started.call_id, started.version)]].effect
        if not effect.changes_state or started.t >= final_t:
            continue
        assert policy is Policy.SPECULATIVE, (policy, started)
        assert started.sandboxed or effect is Effect.REVERSIBLE, started
    for started in (e for e in result.ledger if isinstance(e, ToolCallStarted)):
        # a write on the real state that cannot be undone starts only once committed
        effect = toolset[versions[(started.call_id, started.version)]].effect
        if effect in (Effect.IRREVERSIBLE, Effect.IDEMPOTENT) and not started.sandboxed:
            assert not started.early, started
    # every started version is in the ledger, and every call ended one way or another
    assert {(e.call_id, e.version) for e in result.ledger if isinstance(e, ToolCallStarted)} <= set(
        versions
    )
    assert all(c.status in {"done", "failed", "cancelled"} for c in result.tool_calls)


def test_the_real_model_asks_before_sending_and_sends_once_after_yes(backend_factory):
    """With every irreversible tool behind a confirmation, the default model's message is
    not sent on its word: the turn ends with the question, and the user's yes sends it once,
    with the arguments the user was asked about."""
    from specagent.agent import Session
    from specagent.events import ConfirmationAsked
    from specagent.ledger import Ledger

    clock = VirtualClock()
    world = AssistantWorld()
    toolset = assistant_toolset(world)
    backend = backend_factory(clock)
    ledger = Ledger()
    config = SessionConfig(max_generations=12, confirm_irreversible=True)

    async def conversation():
        results = []
        for words in ("Send a text message to Sam saying I am running late", "Yes, please."):
            session = Session(backend, toolset, clock, Policy.SYNC, ledger=ledger,
                              latency=tool_latency(0), config=config)
            results.append(await session.run(simulate_speech(words)))
            if not results[0].speculation.confirmations_asked:
                break
        return results

    results = clock.run(conversation())
    asks = [e for e in ledger if isinstance(e, ConfirmationAsked)]
    assert asks, f"the model did not try to send the message: {results[0].answer!r}"
    assert results[0].answer == " ".join(a.question for a in asks)
    assert len(results) == 2
    sent = [a for a in asks if a.name == "send_message"]
    assert sent and world.messages == [sent[0].arguments]
