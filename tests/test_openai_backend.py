"""The OpenAI-compatible backend against a real llama.cpp server, and against no server."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence

import pytest

from specagent.clock import Clock, RealClock, VirtualClock
from specagent.models.base import (
    ChatMessage,
    GenerationRequest,
    ModelError,
    ModelUnreachableError,
)
from specagent.models.loader import load_backend
from specagent.models.openai_compat import OpenAICompatBackend
from specagent.models.registry import ensure_model
from specagent.profiles import MeasuredProfile, ModelledProfile

PROMPT = [ChatMessage("user", "Name three colours, comma separated.")]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A llama.cpp OpenAI-compatible server on the small model, on a free local port."""
    model = ensure_model("smollm2-135m")
    port = _free_port()
    log_path = tmp_path_factory.mktemp("server") / "server.log"
    cmd = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(model), "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", "2048", "--n_threads", "2", "--verbose", "False",
    ]  # fmt: skip
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ))
    url = f"http://127.0.0.1:{port}/v1"
    try:
        for _ in range(150):  # up to ~30 s, normally ready in 1-2 s
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited early:\n{log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/models", timeout=1) as resp:
                    if resp.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.2)  # test setup polling a subprocess; no clock involved
        else:
            pytest.fail(f"llama_cpp.server not ready:\n{log_path.read_text()[-3000:]}")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def _collect(
    backend: OpenAICompatBackend, messages: Sequence[ChatMessage], max_tokens: int = 24
) -> str:
    async with contextlib.aclosing(
        backend.stream(GenerationRequest.of(messages, max_tokens=max_tokens))
    ) as pieces:
        return "".join([piece async for piece in pieces])


@pytest.mark.real_model
def test_streams_a_completion_on_a_real_clock(server_url: str) -> None:
    clock = RealClock()
    threads_before = set(threading.enumerate())
    backend = OpenAICompatBackend(server_url, "smollm2", clock)

    async def main() -> tuple[str, str, list[str]]:
        first = await _collect(backend, PROMPT)
        early: list[str] = []
        async with contextlib.aclosing(
            backend.stream(GenerationRequest.of(PROMPT, max_tokens=24))
        ) as pieces:
            async for piece in pieces:
                early.append(piece)
                if len(early) == 2:
                    break
        cut = backend.last_stats
        assert cut is not None and not cut.finished and cut.pieces == 2
        again = await _collect(backend, PROMPT)  # the server is fine after an early close
        await backend.aclose()
        return first, again, early

    first, again, early = clock.run(main())
    assert first.strip() and again == first
    assert "".join(early) == first[: len("".join(early))]
    assert set(threading.enumerate()) - threads_before == set()  # the I/O thread is gone


@pytest.mark.real_model
def test_virtual_clock_charges_measured_network_time(server_url: str) -> None:
    clock = VirtualClock()
    backend = OpenAICompatBackend(server_url, "smollm2", clock)

    async def main() -> tuple[str, float]:
        t0 = clock.now()
        text = await _collect(backend, PROMPT)
        elapsed = clock.now() - t0
        await backend.aclose()
        return text, elapsed

    text, elapsed = clock.run(main())
    stats = backend.last_stats
    assert text.strip() and stats is not None and stats.finished
    assert elapsed == pytest.approx(stats.charged_s, rel=1e-9)
    assert elapsed == pytest.approx(stats.network_s, rel=0.05)


@pytest.mark.real_model
def test_modelled_profile_on_virtual_clock(server_url: str) -> None:
    clock = VirtualClock()
    profile = ModelledProfile(
        name="t", ttft_s=0.1, prefill_tps=100.0, decode_tps=20.0, source="test"
    )
    backend = OpenAICompatBackend(server_url, "smollm2", clock, profile=profile)

    async def main() -> float:
        t0 = clock.now()
        await _collect(backend, PROMPT)
        elapsed = clock.now() - t0
        await backend.aclose()
        return elapsed

    elapsed = clock.run(main())
    stats = backend.last_stats
    assert stats is not None and stats.pieces > 1
    expected = (
        profile.prefill_s(stats.estimated_prompt_tokens) + (stats.pieces - 1) * profile.decode_s()
    )
    assert elapsed == pytest.approx(expected, rel=1e-9)


@pytest.mark.real_model
def test_http_error_becomes_model_error(server_url: str) -> None:
    clock = RealClock()
    backend = OpenAICompatBackend(server_url.removesuffix("/v1") + "/nope", "smollm2", clock)

    async def main() -> None:
        try:
            await _collect(backend, PROMPT)
        finally:
            await backend.aclose()

    with pytest.raises(ModelError, match="HTTP 404") as err:
        clock.run(main())
    assert not isinstance(err.value, ModelUnreachableError)


@pytest.mark.parametrize("clock_type", [RealClock, VirtualClock])
def test_unreachable_url_names_the_url(clock_type: type[Clock]) -> None:
    clock = clock_type()
    url = f"http://127.0.0.1:{_free_port()}/v1"
    backend = OpenAICompatBackend(url, "whatever", clock, timeout_s=5.0)

    async def main() -> None:
        try:
            await _collect(backend, PROMPT)
        finally:
            await backend.aclose()

    with pytest.raises(ModelUnreachableError) as err:
        clock.run(main())
    assert url in str(err.value) and "check" in str(err.value)


def test_silent_server_times_out_in_real_time_even_on_a_virtual_clock() -> None:
    """A server that accepts connections but never answers: the timeout is wall time."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)  # never accept(): connects succeed, no reply ever comes
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
        clock = VirtualClock()
        backend = OpenAICompatBackend(url, "whatever", clock, timeout_s=0.5)

        async def main() -> None:
            try:
                await _collect(backend, PROMPT)
            finally:
                await backend.aclose()

        start = time.perf_counter()
        with pytest.raises(ModelUnreachableError, match="timed out") as err:
            clock.run(main())
        assert time.perf_counter() - start < 5.0
        assert url in str(err.value)


def test_loader_builds_an_openai_backend() -> None:
    clock = VirtualClock()
    backend = load_backend("openai:qwen@http://127.0.0.1:8000/v1", clock, MeasuredProfile())
    assert isinstance(backend, OpenAICompatBackend)
    assert backend.model == "qwen" and backend.base_url == "http://127.0.0.1:8000/v1"
    assert backend.name == "openai:qwen@http://127.0.0.1:8000/v1"
