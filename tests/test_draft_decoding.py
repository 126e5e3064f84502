"""Plain speculative decoding (the sync-draft baseline): the main model's text, sooner."""

from __future__ import annotations


import pytest

from specagent.agent import Policy, session_for
from specagent.clock import VirtualClock
from specagent.models import ScriptedBackend
from specagent.models.base import GenerationRequest, ModelBackend
from specagent.models.scripted import split_tokens
from specagent.models.draft_decoding import DraftDecodingBackend
from specagent.protocol import ChatMessage

from test_session import WEATHER, World, make_tools, weather_responder

MESSAGES = [ChatMessage("user", "hi")]
TEXT = "<think>The user says hi back to them.</think><answer>Hello there, how are you?</answer>"


def _collect(backend, clock) -> tuple[str, float]:
    async def main():
        out = []
        async for piece in backend.stream(GenerationRequest.of(MESSAGES, max_tokens=100)):
            out.append(piece)
        return "".join(out), clock.now()

    return clock.run(main())


class Guesser(ModelBackend):
    """A draft model that continues any text with its own fixed words (right or wrong)."""

    supports_prefix = True

    def __init__(self, clock, words: str) -> None:
        self.clock, self.words = clock, words

    async def stream(self, request):
        prefix = request.prefix
        pieces = split_tokens(
            self.words[len(prefix) :] if self.words.startswith(prefix) else self.words
        )
        for piece in pieces[: request.max_tokens]:
            await self.clock.sleep(0.01)
            yield piece


@pytest.mark.parametrize(
    "drafter_text", [TEXT, TEXT.replace("how are", "who are"), "nonsense " * 9, ""]
)
def test_the_text_is_the_main_models_whatever_the_draft_model_writes(drafter_text):
    clock = VirtualClock()
    main = ScriptedBackend(clock, lambda m: TEXT, ttft_s=0.2, token_s=0.1, verify_s=0.01)
    drafter = Guesser(clock, drafter_text)
    backend = DraftDecodingBackend(main, drafter, draft_tokens=4)
    assert _collect(backend, clock)[0] == TEXT
    if drafter_text == TEXT:
        assert backend.accepted_tokens == backend.drafted_tokens > 0


def test_a_good_draft_model_makes_the_same_text_sooner():
    def timed(drafter_text: str | None) -> float:
        clock = VirtualClock()
        main = ScriptedBackend(clock, lambda m: TEXT, ttft_s=0.2, token_s=0.1, verify_s=0.01)
        if drafter_text is None:
            backend = main
        else:
            drafter = ScriptedBackend(clock, lambda m: drafter_text, ttft_s=0.02, token_s=0.01)
            backend = DraftDecodingBackend(main, drafter, draft_tokens=6)
        text, ended = _collect(backend, clock)
        assert text == TEXT
        return ended

    plain, good = timed(None), timed(TEXT)
    assert good < plain


def test_sync_draft_plays_the_sync_trajectory_and_needs_a_draft_model():
    results = {}
    for policy in (Policy.SYNC, Policy.SYNC_DRAFT):
        clock, world = VirtualClock(), World()
        backend = ScriptedBackend(clock, weather_responder)
        drafter = ScriptedBackend(clock, weather_responder, ttft_s=0.01, token_s=0.005)
        session = session_for(
            policy,
            backend,
            make_tools(world),
            clock,
            latency=lambda n, a: 0.5,
            draft_backend=drafter,
        )
        results[policy] = clock.run(session.run(WEATHER))
    sync, draft = results[Policy.SYNC], results[Policy.SYNC_DRAFT]
    assert draft.answer == sync.answer and draft.policy == "sync-draft"
    assert [c.arguments for c in draft.tool_calls] == [c.arguments for c in sync.tool_calls]
    with pytest.raises(ValueError, match="draft model"):
        session_for(Policy.SYNC_DRAFT, backend, make_tools(World()), VirtualClock())
