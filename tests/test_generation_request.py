"""One request per backend call: GenerationRequest, and what each backend does with each field
(honours it, ignores it, or refuses it with UnsupportedRequestError before any work)."""

from __future__ import annotations

import contextlib
import dataclasses
import socket

import pytest

from specagent.agent.drafts import DraftBook, DraftingBackend, RecordingBackend
from specagent.clock import VirtualClock
from specagent.models import GenerationRequest, ModelError, ScriptedBackend, UnsupportedRequestError
from specagent.models.base import ChatMessage, ModelBackend
from specagent.models.draft_decoding import DraftDecodingBackend
from specagent.models.openai_compat import OpenAICompatBackend
from specagent.models.scripted import split_tokens
from specagent.serve.models import TappedBackend

MESSAGES = [ChatMessage("system", "Be brief."), ChatMessage("user", "hi")]
TEXT = "<think>Greet them.</think><answer>Hello there.</answer>"


def _read(backend: ModelBackend, request: GenerationRequest, clock: VirtualClock) -> str:
    async def main() -> str:
        async with contextlib.aclosing(backend.stream(request)) as pieces:
            return "".join([piece async for piece in pieces])

    return clock.run(main())


class Bare(ModelBackend):
    """A backend that declares nothing: it honours only messages and max_tokens."""

    name = "bare"

    async def stream(self, request):
        self.check_request(request)
        for piece in split_tokens(TEXT)[: request.max_tokens]:
            yield piece


def test_a_request_is_frozen_and_holds_its_own_copy_of_the_messages() -> None:
    messages = list(MESSAGES)
    request = GenerationRequest.of(messages, max_tokens=7, grammar="root ::= x")
    messages.append(ChatMessage("user", "later"))
    assert request.messages == tuple(MESSAGES) and request.max_tokens == 7
    with pytest.raises(dataclasses.FrozenInstanceError):
        request.prefix = "x"  # type: ignore[misc]
    assert GenerationRequest(messages).messages == tuple(messages)  # a list is frozen too
    assert hash(request) == hash(GenerationRequest.of(MESSAGES, max_tokens=7, grammar="root ::= x"))
    assert request.options() == ("grammar",)
    full = dataclasses.replace(request, prefix="<think>", draft="Greet")
    assert full.options() == ("prefix", "draft", "grammar") and request.options() == ("grammar",)
    with pytest.raises(TypeError):
        GenerationRequest(MESSAGES, 5)  # type: ignore[misc]  # options are keyword-only


@pytest.mark.parametrize("option", ["prefix", "draft", "grammar"])
def test_a_backend_refuses_a_field_it_neither_honours_nor_ignores(option: str) -> None:
    clock = VirtualClock()
    backend = Bare()
    assert _read(backend, GenerationRequest.of(MESSAGES, max_tokens=3), clock) == "".join(
        split_tokens(TEXT)[:3]
    )
    request = GenerationRequest.of(MESSAGES, **{option: "<think>"})
    with pytest.raises(UnsupportedRequestError, match=f"bare cannot take a {option}") as err:
        _read(backend, request, clock)
    assert isinstance(err.value, ModelError)  # the benchmark stops on it like any model error


def test_the_scripted_model_honours_prefix_and_draft_and_ignores_grammar() -> None:
    clock = VirtualClock()
    backend = ScriptedBackend(clock, [TEXT, TEXT, TEXT], ttft_s=0.1, token_s=0.02)
    plain = _read(backend, GenerationRequest.of(MESSAGES), clock)
    constrained = _read(backend, GenerationRequest.of(MESSAGES, grammar="root ::= x"), clock)
    cut = _read(backend, GenerationRequest.of(MESSAGES, prefix="<think>", draft="Greet"), clock)
    assert plain == constrained == TEXT and cut == TEXT[len("<think>") :]
    assert backend.grammars == ["", "root ::= x", ""] and backend.accepted == [0, 0, 1]
    assert backend.ignores == {"grammar"}


def test_the_openai_backend_refuses_prefix_and_draft_before_any_request() -> None:
    clock = VirtualClock()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    backend = OpenAICompatBackend(f"http://127.0.0.1:{port}/v1", "m", clock, timeout_s=5.0)
    try:
        for option in ("prefix", "draft"):
            request = GenerationRequest.of(MESSAGES, **{option: "<think>"})
            with pytest.raises(UnsupportedRequestError, match=f"cannot take a {option}"):
                _read(backend, request, clock)
        # A grammar is ignored, not refused: this request gets as far as the (absent) server.
        with pytest.raises(ModelError, match=str(port)) as err:
            _read(backend, GenerationRequest.of(MESSAGES, grammar="root ::= x"), clock)
        assert not isinstance(err.value, UnsupportedRequestError)
    finally:
        clock.run(backend.aclose())


def test_draft_decoding_refuses_a_draft_and_passes_grammar_to_both_models() -> None:
    clock = VirtualClock()
    main = ScriptedBackend(clock, lambda m: TEXT, ttft_s=0.2, token_s=0.1, verify_s=0.01)
    drafter = ScriptedBackend(clock, lambda m: TEXT, ttft_s=0.02, token_s=0.01)
    backend = DraftDecodingBackend(main, drafter, draft_tokens=4)
    assert backend.ignores == {"grammar"} and not backend.supports_draft
    with pytest.raises(UnsupportedRequestError, match="cannot take a draft"):
        _read(backend, GenerationRequest.of(MESSAGES, draft="<think>"), clock)
    assert main.contexts == drafter.contexts == []  # refused before any work
    text = _read(backend, GenerationRequest.of(MESSAGES, grammar="root ::= x"), clock)
    assert text == TEXT
    assert set(main.grammars) == set(drafter.grammars) == {"root ::= x"}
    assert main.drafts[0] and all(prefix.startswith("<think>") for prefix in main.prefixes[1:])


def test_wrappers_pass_requests_on_and_declare_what_their_inner_backend_does() -> None:
    clock = VirtualClock()
    inner = ScriptedBackend(clock, lambda m: TEXT)
    book = DraftBook()
    drafting = DraftingBackend(inner, lambda: "<think>Greet")
    tapped_pieces: list[str] = []
    wrappers = [
        RecordingBackend(inner, book),
        drafting,
        TappedBackend(inner, tapped_pieces.append),
    ]
    request = GenerationRequest.of(MESSAGES, max_tokens=5, grammar="root ::= x")
    for wrapper in wrappers:
        assert wrapper.ignores == inner.ignores and wrapper.supports_prefix
        assert _read(wrapper, request, clock) == "".join(split_tokens(TEXT)[:5])
    assert book.outputs == ["".join(split_tokens(TEXT)[:5])]
    assert inner.drafts == ["", "<think>Greet", ""] and inner.grammars == ["root ::= x"] * 3
    assert drafting.drafted_tokens == 2 and drafting.accepted_tokens == 2
    # The actor's drafts come from the book; a request's own draft is refused.
    with pytest.raises(UnsupportedRequestError, match="cannot take a draft"):
        _read(drafting, dataclasses.replace(request, draft="<think>"), clock)
