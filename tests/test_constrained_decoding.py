"""Grammar-constrained decoding through llama.cpp, on the smallest registered model.

What must hold: the backend's sampler (greedy choice tested first, vocabulary masked only when
the grammar refuses it) decodes exactly what llama.cpp's own grammar sampling decodes; a
continuation is constrained from its prefix's state, or not at all; a draft checked under the
grammar leaves the text unchanged; and with ``constrain_calls`` every generation of a session
is a canonical action naming a known tool with arguments its schema accepts, which the same
model does not manage unconstrained.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import pytest

from specagent.agent import Policy, Session, SessionConfig
from specagent.agent.prompt import system_prompt
from specagent.clock import VirtualClock
from specagent.envs.assistant import (
    EXAMPLE_REQUESTS,
    AssistantWorld,
    assistant_toolset,
    tool_latency,
)
from specagent.events import ModelOutput
from specagent.models.base import ChatMessage, GenerationRequest
from specagent.models.llamacpp import LlamaCppBackend
from specagent.protocol import ParseError, ToolCallAction, call_grammar, parse_output
from specagent.speech import simulate_speech
from specagent.tools import InvalidArgumentsError, Toolset

pytestmark = pytest.mark.real_model

SMALL = "smollm2-135m"
# The tools the request below needs (a short prompt keeps the test quick on two cores).
NEEDED = ("get_weather", "find_restaurants", "reserve_table", "send_message")


def _tools() -> Toolset:
    every = assistant_toolset(AssistantWorld())
    return Toolset([every[name] for name in NEEDED])


TOOLS = _tools()
GRAMMAR = call_grammar(TOOLS.schemas()).text
PROMPT = system_prompt(TOOLS.schemas())


def _messages(request: str) -> list[ChatMessage]:
    return [
        ChatMessage("system", PROMPT),
        ChatMessage("user", f"<final_query_update>{request}</final_query_update>"),
    ]


@pytest.fixture(scope="module")
def backend() -> Iterator[LlamaCppBackend]:
    clock = VirtualClock()
    loaded = LlamaCppBackend.from_registry(SMALL, clock)
    yield loaded
    clock.run(loaded.aclose())


def _write(backend: LlamaCppBackend, messages: list[ChatMessage], **options: str) -> str:
    clock = VirtualClock()
    backend.rebind(clock)

    async def main() -> str:
        async with contextlib.aclosing(
            backend.stream(GenerationRequest.of(messages, max_tokens=80, **options))
        ) as s:
            return "".join([piece async for piece in s])

    return clock.run(main())


def _strict(text: str) -> ToolCallAction | None:
    """The call ``text`` makes if it is one canonical action; raises if it is not."""
    parsed = parse_output(text, next_id=1)
    assert set(parsed.tolerated) <= {"no_think"}, (text, parsed.tolerated)
    if isinstance(parsed.action, ToolCallAction):
        TOOLS[parsed.action.name].validate(parsed.action.arguments)
        return parsed.action
    return None


def test_the_sampler_decodes_what_llama_cpps_own_grammar_sampling_decodes(backend):
    from llama_cpp import LlamaGrammar

    def reference(messages: list[ChatMessage]) -> str:
        payload = [{"role": m.role, "content": m.content} for m in messages]
        chunks = backend._llama.create_chat_completion(
            messages=payload,
            temperature=0.0,
            max_tokens=80,
            grammar=LlamaGrammar.from_string(GRAMMAR),
        )
        return chunks["choices"][0]["message"]["content"]

    messages = _messages("Send Sam a message: running late.")
    _write(backend, messages)  # both runs below then find the same prompt cache
    written = _write(backend, messages, grammar=GRAMMAR)
    assert backend.last_stats is not None and backend.last_stats.constrained
    # llama-cpp-python masks the whole vocabulary at every token (run on the model's thread)
    assert written == backend._executor.submit(reference, messages).result()


def test_a_continuation_is_constrained_from_its_prefix_or_not_at_all(backend):
    messages = _messages("What's the weather in Paris tomorrow?")
    prefix = '<tool_call id="1">{"name": "get_weather", "arguments": {"city": "Paris", '
    rest = _write(backend, messages, prefix=prefix, grammar=GRAMMAR)
    assert backend.last_stats is not None and backend.last_stats.constrained
    call = _strict(prefix + rest)
    assert call is not None and call.arguments["city"] == "Paris"
    # the grammar has no prose before an action: from here it cannot constrain
    _write(backend, messages, prefix="Sure, ", grammar=GRAMMAR)
    assert not backend.last_stats.constrained


def test_a_draft_checked_under_the_grammar_keeps_the_output_in_it(backend):
    """Kept draft tokens are the grammar-constrained greedy choices, and decoding goes on
    under the grammar from there. (The text after them can still differ from plain decoding
    where batch rounding tips a near-tie: docs/verified.md.)"""
    messages = _messages("What's the weather in Paris tomorrow?")
    plain = _write(backend, messages, grammar=GRAMMAR)
    wrong = '<tool_call id="1">{"name": "weather", "arguments": {"town": "Paris"}}</tool_call>'
    for draft in (plain, wrong):
        written = _write(backend, messages, draft=draft, grammar=GRAMMAR)
        stats = backend.last_stats
        assert stats is not None and stats.constrained and stats.draft_tokens > 0
        tokens = backend._llama.tokenize(draft.encode(), add_bos=False, special=False)
        kept = backend._llama.detokenize(tokens[: stats.accepted_tokens]).decode()
        assert written.startswith(kept) and plain.startswith(kept)
        assert _strict(written) is not None
        if draft == plain:  # kept up to the first near-tie (draft_check.MARGIN)
            assert stats.accepted_tokens > 0
        else:  # '<tool_call id="' and no further: the model writes id 2 (and no 'weather')
            assert stats.accepted_tokens < 8


def _session_outputs(backend: LlamaCppBackend, constrain: bool) -> list[str]:
    clock = VirtualClock()
    backend.rebind(clock)
    config = SessionConfig(max_generations=2, max_tokens=60, constrain_calls=constrain)
    session = Session(
        backend,
        _tools(),
        clock,
        Policy.SYNC,
        latency=tool_latency(0),
        config=config,
    )

    async def main():
        result = await session.run(simulate_speech(EXAMPLE_REQUESTS["weather-and-table"]))
        return result, [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]

    result, others = clock.run(main())
    assert others == []
    return [e.text for e in result.ledger if isinstance(e, ModelOutput)]


def test_with_constrain_calls_every_generation_is_a_valid_action(backend):
    constrained = _session_outputs(backend, constrain=True)
    assert constrained
    calls = [_strict(text) for text in constrained]
    assert any(calls), constrained
    free = _session_outputs(backend, constrain=False)

    def strict(text: str) -> bool:
        try:
            _strict(text)
        except (AssertionError, ParseError, KeyError, InvalidArgumentsError):
            return False
        return True

    # the same model, unconstrained, strays from the canonical form on this request
    assert not all(strict(text) for text in free), free
