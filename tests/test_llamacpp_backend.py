"""The in-process llama.cpp backend, on real models: text, determinism, pacing, cancellation."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from specagent.clock import Clock, RealClock, VirtualClock
from specagent.models.base import (
    ChatMessage,
    GenerationRequest,
    ModelError,
    ModelNotInstalledError,
)
from specagent.models.llamacpp import LlamaCppBackend
from specagent.models.registry import DEFAULT_MODEL, ensure_model
from specagent.profiles import MeasuredProfile, ModelledProfile

SMALL = "smollm2-135m"
PROMPT = [
    ChatMessage("system", "You are a terse assistant."),
    ChatMessage("user", "Name three colours, comma separated."),
]
TEST_PROFILE = ModelledProfile(
    name="test", ttft_s=0.05, prefill_tps=100.0, decode_tps=25.0, source="made up for the test"
)


async def _collect(
    backend: LlamaCppBackend, messages: Sequence[ChatMessage], max_tokens: int = 24
) -> str:
    async with contextlib.aclosing(
        backend.stream(GenerationRequest.of(messages, max_tokens=max_tokens))
    ) as pieces:
        return "".join([piece async for piece in pieces])


def _small(
    clock: Clock, profile: MeasuredProfile | ModelledProfile = MeasuredProfile()
) -> LlamaCppBackend:
    return LlamaCppBackend.from_registry(SMALL, clock, profile)


def test_missing_or_invalid_model_file(tmp_path: Path) -> None:
    clock = VirtualClock()
    with pytest.raises(ModelNotInstalledError, match="does not exist"):
        LlamaCppBackend(tmp_path / "nope.gguf", clock)
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"not a model at all")
    with pytest.raises(ModelNotInstalledError, match="not a GGUF"):
        LlamaCppBackend(junk, clock)
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\x00" * 64)
    with pytest.raises(ModelError, match="could not load"):
        LlamaCppBackend(broken, clock)


@pytest.mark.real_model
def test_prompt_longer_than_the_context_is_a_model_error() -> None:
    clock = VirtualClock()
    backend = LlamaCppBackend(ensure_model(SMALL), clock, n_ctx=64)
    long_prompt = [ChatMessage("user", "word " * 200)]
    with pytest.raises(ModelError, match="llama.cpp failed"):
        clock.run(_collect(backend, long_prompt))
    assert clock.run(_collect(backend, PROMPT, max_tokens=4))  # still usable afterwards


@pytest.mark.real_model
def test_produces_text_deterministically() -> None:
    clock = VirtualClock()
    backend = _small(clock)

    async def main() -> tuple[str, str]:
        first = await _collect(backend, PROMPT)
        second = await _collect(backend, PROMPT)  # this one reuses the KV cache
        await backend.aclose()
        return first, second

    first, second = clock.run(main())
    assert first.strip() and first == second

    fresh_clock = VirtualClock()
    fresh = _small(fresh_clock)
    assert fresh_clock.run(_collect(fresh, PROMPT)) == first


@pytest.mark.real_model
def test_measured_profile_charges_compute_time_on_virtual_clock() -> None:
    clock = VirtualClock()
    backend = _small(clock)

    async def main() -> tuple[float, float]:
        t0 = clock.now()
        wall0 = time.perf_counter()
        await _collect(backend, PROMPT)
        return clock.now() - t0, time.perf_counter() - wall0

    virtual, wall = clock.run(main())
    stats = backend.last_stats
    assert stats is not None and stats.finished and stats.pieces > 0
    assert stats.compute_s > 0 and stats.generated_tokens >= stats.pieces
    # Simulated time advanced by exactly what was charged, which is the measured compute.
    assert virtual == pytest.approx(stats.charged_s, rel=1e-9, abs=1e-9)
    assert 0.5 * stats.compute_s <= virtual <= 2.0 * stats.compute_s + 1e-3
    assert stats.compute_s <= wall  # the compute really happened inside this wall interval
    assert stats.prompt_tokens > 10 and stats.cached_tokens == 0


@pytest.mark.real_model
def test_measured_profile_on_real_clock_does_not_sleep() -> None:
    clock = RealClock()
    backend = _small(clock)
    text = clock.run(_collect(backend, PROMPT))
    assert text.strip()
    assert backend.last_stats is not None and backend.last_stats.charged_s == 0.0


@pytest.mark.real_model
def test_modelled_profile_charges_the_formula_exactly() -> None:
    clock = VirtualClock()
    backend = _small(clock, TEST_PROFILE)
    follow_up = [
        *PROMPT,
        ChatMessage("assistant", "Red, green, blue."),
        ChatMessage("user", "Two more."),
    ]

    async def timed(messages: Sequence[ChatMessage]) -> float:
        t0 = clock.now()
        await _collect(backend, messages)
        return clock.now() - t0

    for messages in (PROMPT, follow_up):
        elapsed = clock.run(timed(messages))
        stats = backend.last_stats
        assert stats is not None and stats.pieces > 1
        expected = (
            TEST_PROFILE.prefill_s(stats.new_prompt_tokens)
            + (stats.pieces - 1) * TEST_PROFILE.decode_s()
        )
        assert elapsed == pytest.approx(expected, rel=1e-9)
    # The follow-up shares the first prompt's prefix, which llama.cpp took from its KV cache.
    assert stats.cached_tokens > 10 and stats.new_prompt_tokens < stats.prompt_tokens


@pytest.mark.real_model
def test_closing_after_n_pieces_stops_and_the_next_stream_works() -> None:
    clock = VirtualClock()
    backend = _small(clock)
    n = 3

    async def main() -> tuple[str, list[str], str]:
        reference = await _collect(backend, PROMPT)
        got: list[str] = []
        async with contextlib.aclosing(
            backend.stream(GenerationRequest.of(PROMPT, max_tokens=24))
        ) as pieces:
            async for piece in pieces:
                got.append(piece)
                if len(got) == n:
                    break
        cut = backend.last_stats
        assert cut is not None and not cut.finished and cut.pieces == n
        assert cut.generated_tokens in (n, n + 1)
        after = await _collect(backend, PROMPT)
        return reference, got, after

    reference, got, after = clock.run(main())
    assert "".join(got) == reference[: len("".join(got))]
    assert after == reference


@pytest.mark.real_model
def test_cancelling_mid_token_waits_for_the_thread_and_leaks_nothing() -> None:
    threads_before = set(threading.enumerate())
    clock = VirtualClock()
    backend = _small(clock)

    async def main() -> tuple[str, str]:
        reference = await _collect(backend, PROMPT)
        got: list[str] = []
        two_pieces = asyncio.Event()

        async def consume() -> None:
            async with contextlib.aclosing(
                backend.stream(GenerationRequest.of(PROMPT, max_tokens=24))
            ) as pieces:
                async for piece in pieces:
                    got.append(piece)
                    if len(got) == 2:
                        two_pieces.set()

        task = asyncio.create_task(consume())
        await two_pieces.wait()
        while not backend.busy and not task.done():  # let the consumer get into a thread hop
            await clock.sleep(0)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        cut = backend.last_stats
        assert cut is not None and not cut.finished and cut.generated_tokens in (2, 3)
        after = await _collect(backend, PROMPT)  # must wait for the abandoned token first
        waited = backend.last_stats
        assert waited is not None and waited.finished and waited.wait_s >= 0.0
        assert asyncio.all_tasks() == {asyncio.current_task()}
        await backend.aclose()
        return reference, after

    reference, after = clock.run(main())
    assert after == reference
    assert set(threading.enumerate()) - threads_before == set()  # no new thread is left


@pytest.mark.real_model
def test_rebind_to_a_new_clock_and_profile() -> None:
    first_clock = VirtualClock()
    backend = _small(first_clock)
    reference = first_clock.run(_collect(backend, PROMPT))
    second_clock = VirtualClock()
    backend.rebind(second_clock, TEST_PROFILE)
    assert backend.clock is second_clock and backend.profile is TEST_PROFILE
    assert second_clock.run(_collect(backend, PROMPT)) == reference
    stats = backend.last_stats
    assert stats is not None
    expected = (
        TEST_PROFILE.prefill_s(stats.new_prompt_tokens)
        + (stats.pieces - 1) * TEST_PROFILE.decode_s()
    )
    assert second_clock.run(_now(second_clock)) == pytest.approx(expected, rel=1e-9)

    async def rebind_while_streaming() -> None:
        async with contextlib.aclosing(
            backend.stream(GenerationRequest.of(PROMPT, max_tokens=4))
        ) as pieces:
            await anext(pieces)
            with pytest.raises(RuntimeError, match="rebind"):
                backend.rebind(VirtualClock())

    second_clock.run(rebind_while_streaming())
    second_clock.run(backend.aclose())


@pytest.mark.real_model
def test_default_model_answers() -> None:
    clock = VirtualClock()
    backend = LlamaCppBackend.from_registry(DEFAULT_MODEL, clock)
    assert backend.model_path == ensure_model(DEFAULT_MODEL)
    question = [ChatMessage("user", "What is the capital of France? Answer with one word.")]
    text = clock.run(_collect(backend, question, max_tokens=8))
    assert "Paris" in text
    stats = backend.last_stats
    assert stats is not None and stats.finished
    assert clock.run(_now(clock)) == pytest.approx(stats.charged_s, rel=1e-9)


async def _now(clock: Clock) -> float:
    return clock.now()


@pytest.mark.real_model
def test_warm_up_caches_the_system_prompt_without_charging_time() -> None:
    clock = VirtualClock()
    backend = _small(clock)

    async def main() -> tuple[float, int, int]:
        await backend.warm_up(PROMPT[:1])
        after_warm_up = clock.now()
        await _collect(backend, PROMPT)
        stats = backend.last_stats
        assert stats is not None
        return after_warm_up, stats.cached_tokens, stats.prompt_tokens

    after_warm_up, cached, prompt = clock.run(main())
    assert after_warm_up == 0.0
    assert cached >= 5 and cached < prompt  # the system part came from the cache


@pytest.mark.real_model
def test_a_prefix_is_continued_not_repeated() -> None:
    """Greedy decoding with part of the answer given yields exactly the rest of that answer."""
    clock = VirtualClock()
    backend = _small(clock)

    async def main() -> tuple[str, str]:
        whole = await _collect(backend, PROMPT)
        prefix = whole[: whole.rfind(" ", 0, len(whole) // 2)]  # cut between words
        async with contextlib.aclosing(
            backend.stream(GenerationRequest.of(PROMPT, max_tokens=24, prefix=prefix))
        ) as pieces:
            rest = "".join([piece async for piece in pieces])
        await backend.aclose()
        return whole, prefix + rest

    whole, resumed = clock.run(main())
    assert backend.supports_prefix and whole
    # the prompt tokens are the chat template's, so the continuation agrees with the original
    # (up to its last word, which max_tokens may cut at a different point)
    assert resumed.split()[: len(whole.split()) - 1] == whole.split()[:-1]


def test_a_draft_changes_only_the_speed_never_the_text() -> None:
    """A right draft is kept whole, a wrong one up to its first wrong token; the output is
    always what greedy decoding alone writes, and a kept draft costs one modelled prefill."""
    clock = VirtualClock()
    backend = _small(clock, TEST_PROFILE)

    async def drafted(draft: str) -> tuple[str, float, int, int]:
        t0 = clock.now()
        async with contextlib.aclosing(
            backend.stream(GenerationRequest.of(PROMPT, max_tokens=24, draft=draft))
        ) as pieces:
            text = "".join([piece async for piece in pieces])
        stats = backend.last_stats
        assert stats is not None
        return text, clock.now() - t0, stats.accepted_tokens, stats.draft_tokens

    async def main():
        whole = await _collect(backend, PROMPT)
        plain_s = clock.now()
        plain_again = await _collect(backend, PROMPT)
        plain_s = clock.now() - plain_s
        right = await drafted(whole)
        cut = whole.rfind(" ", 0, len(whole) // 2)
        wrong = await drafted(whole[:cut] + " zzz qqq" + whole[cut:])
        nonsense = await drafted("Bananas are not colours at all.")
        await backend.aclose()
        return whole, plain_again, plain_s, right, wrong, nonsense

    whole, plain_again, plain_s, right, wrong, nonsense = clock.run(main())
    assert backend.supports_draft and whole == plain_again
    for text, _, accepted, drafted_n in (right, wrong, nonsense):
        assert text == whole
        assert 0 <= accepted <= drafted_n
    assert right[2] == right[3] > 0  # all of the right draft kept
    assert 0 < wrong[2] < wrong[3]  # the wrong one up to its first wrong token
    assert nonsense[2] == 0
    # the whole answer kept at prompt speed (100 tok/s) is cheaper than decoding it (25 tok/s)
    assert right[1] < plain_s
