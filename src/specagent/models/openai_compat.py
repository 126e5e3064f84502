"""A model behind an OpenAI-compatible HTTP server (llama.cpp's server, vLLM, ...), streamed.

The HTTP client does not run on the caller's event loop. It runs on a private, real-time loop in
one daemon thread owned by the backend, and the caller awaits each network step across threads
inside ``clock.hold()``. That matters on a :class:`~specagent.clock.VirtualClock`: timers on the
virtual loop only move when simulated time does, so a connect or read timeout set there would
never fire while the clock is held (a dead server would hang the simulation). On the private
loop, ``timeout_s`` is wall time on every clock. It also lets one backend serve successive event
loops (one per ``clock.run``) with one connection pool.

Pacing matches :mod:`specagent.models.llamacpp`: on a virtual clock each piece is charged the
wall time its network wait took (or, with a :class:`~specagent.profiles.ModelledProfile`, the
modelled prefill/decode time; the prompt size is then estimated at ~4 characters a token, since
the server does not report it before the first token and we cannot see its prefix cache).

Request fields: ``max_tokens`` is sent; ``grammar`` is ignored (servers take grammars in
different forms: llama.cpp's a GBNF ``grammar`` field, vLLM its own guided-decoding options, so
none is sent); a ``prefix`` or a ``draft`` is refused with
:class:`~specagent.models.base.UnsupportedRequestError` (the chat API cannot continue a
half-written assistant message or check a draft).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections.abc import AsyncIterator, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from ..clock import Clock
from ..profiles import LatencyProfile
from .pacing import charge_end, charge_piece
from .base import (
    ChatMessage,
    GenerationRequest,
    ModelBackend,
    ModelError,
    ModelUnreachableError,
)

__all__ = ["OpenAICompatBackend", "RemoteStreamStats", "estimate_prompt_tokens"]

T = TypeVar("T")
_END = object()


@dataclass
class RemoteStreamStats:
    """What one remote stream cost, as seen from the client."""

    estimated_prompt_tokens: int = 0
    pieces: int = 0
    network_s: float = 0.0  # wall time spent waiting on the server
    first_piece_s: float = 0.0  # network_s until the first piece arrived
    charged_s: float = 0.0  # clock time this stream slept to pace its pieces
    finished: bool = False


def estimate_prompt_tokens(messages: Sequence[ChatMessage]) -> int:
    """~4 characters a token plus a few template tokens per message (a rough estimate)."""
    return sum(len(m.content) // 4 + 4 for m in messages)


class _IOThread:
    """A real-time asyncio loop running in a daemon thread."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._thread.start()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
        finally:
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def stop(self) -> None:
        """Stop the loop and join the thread (call after its work is finished)."""
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()


class OpenAICompatBackend(ModelBackend):
    """Streams chat completions from an OpenAI-compatible server."""

    def __init__(
        self,
        base_url: str,
        model: str,
        clock: Clock,
        *,
        api_key: str = "none",
        timeout_s: float = 30.0,
        profile: LatencyProfile | None = None,
        max_retries: int = 0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.name = f"openai:{model}@{self.base_url}"
        self._clock = clock
        self._api_key = api_key
        self._timeout_s = timeout_s
        self._profile = profile  # None or MeasuredProfile: charge measured time on a virtual clock
        self._max_retries = max_retries  # retrying a live stream adds invisible latency: off
        self._io: _IOThread | None = None
        self._client: Any = None  # openai.AsyncOpenAI, created on the I/O loop
        self._closed = False
        self.last_stats: RemoteStreamStats | None = None

    def rebind(self, clock: Clock, profile: LatencyProfile | None = None) -> None:
        """Serve a new clock (and optionally profile), keeping the connection pool."""
        self._clock = clock
        if profile is not None:
            self._profile = profile

    # --- running work on the I/O loop ----------------------------------------------------------

    def _io_thread(self) -> _IOThread:
        if self._io is None:
            self._io = _IOThread(name=f"specagent-openai-io:{self.base_url}")
        return self._io

    async def _on_io(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the I/O loop; the clock is held while we wait for it."""
        future = self._io_thread().submit(coro)
        with self._clock.hold():
            return await asyncio.wrap_future(future)

    def _get_client(self) -> Any:
        # Called on the I/O loop only.
        if self._client is None:
            from openai import AsyncOpenAI

            self._client = AsyncOpenAI(
                base_url=self.base_url,
                api_key=self._api_key,
                timeout=self._timeout_s,
                max_retries=self._max_retries,
            )
        return self._client

    def _translate(self, exc: BaseException) -> ModelError:
        import openai

        if isinstance(exc, openai.APITimeoutError):
            return ModelUnreachableError(
                f"model server at {self.base_url} timed out after {self._timeout_s:g} s; "
                "check that the server is running, reachable and not overloaded"
            )
        if isinstance(exc, openai.APIConnectionError):
            cause = exc.__cause__ or exc
            return ModelUnreachableError(
                f"cannot reach model server at {self.base_url} ({cause}); check that the server "
                "is running and that the URL (host, port, /v1 path) is right"
            )
        if isinstance(exc, openai.APIStatusError):
            return ModelError(
                f"model server at {self.base_url} answered HTTP {exc.status_code}: {exc.message}"
            )
        if isinstance(exc, openai.APIError):
            return ModelError(f"model server at {self.base_url} failed: {exc.message}")
        return ModelError(f"model server at {self.base_url}: {type(exc).__name__}: {exc}")

    async def _open(self, payload: list[dict[str, str]], max_tokens: int) -> Any:
        import openai

        try:
            return await self._get_client().chat.completions.create(
                model=self.model,
                messages=payload,
                stream=True,
                temperature=0.0,
                max_tokens=max_tokens,
            )
        except openai.OpenAIError as exc:
            raise self._translate(exc) from exc

    async def _next(self, response: Any) -> Any:
        import openai

        try:
            return await response.__anext__()
        except StopAsyncIteration:
            return _END
        except openai.OpenAIError as exc:
            raise self._translate(exc) from exc

    # --- the stream --------------------------------------------------------------------------

    ignores = frozenset({"grammar"})  # see the module docstring; prefix and draft: refused

    async def stream(self, request: GenerationRequest) -> AsyncIterator[str]:
        """Stream the server's reply to ``request.messages`` (``grammar`` is ignored, a
        ``prefix`` or ``draft`` refused: see the module docstring)."""
        self.check_request(request)
        if self._closed:
            raise ModelError(f"{self.name}: backend is closed")
        messages = request.messages
        payload = [{"role": m.role, "content": m.content} for m in messages]
        stats = RemoteStreamStats(estimated_prompt_tokens=estimate_prompt_tokens(messages))
        self.last_stats = stats

        # perf_counter measures real network waits; they reach the clock only through _charge.
        start = time.perf_counter()
        response = await self._on_io(self._open(payload, request.max_tokens))
        uncharged = time.perf_counter() - start
        stats.network_s += uncharged
        try:
            while True:
                start = time.perf_counter()
                chunk = await self._on_io(self._next(response))
                waited = time.perf_counter() - start
                stats.network_s += waited
                uncharged += waited
                if chunk is _END:
                    break
                piece = _content(chunk)
                if not piece:
                    continue
                if stats.pieces == 0:
                    stats.first_piece_s = stats.network_s
                stats.charged_s += await charge_piece(
                    self._clock,
                    self._profile,
                    uncharged,
                    first=stats.pieces == 0,
                    prompt_tokens=stats.estimated_prompt_tokens,
                )
                uncharged = 0.0
                stats.pieces += 1
                yield piece
            stats.charged_s += await charge_end(
                self._clock,
                self._profile,
                uncharged,
                pieces=stats.pieces,
                prompt_tokens=stats.estimated_prompt_tokens,
            )
            stats.finished = True
        finally:
            await self._close_response(response)

    async def _close_response(self, response: Any) -> None:
        """Close the HTTP response (stops the server's generation for a stream left early)."""
        future = self._io_thread().submit(response.close())
        try:
            with self._clock.hold():
                await asyncio.shield(asyncio.wrap_future(future))
        except Exception:  # noqa: BLE001 - closing must not mask the stream's own outcome
            pass

    async def aclose(self) -> None:
        """Close the HTTP client and stop the I/O thread."""
        if self._closed:
            return
        self._closed = True
        io, self._io = self._io, None
        if io is None:
            return
        client, self._client = self._client, None
        if client is not None:
            try:
                with self._clock.hold():
                    await asyncio.wrap_future(io.submit(client.close()))
            except Exception:  # noqa: BLE001
                pass
        with self._clock.hold():
            await asyncio.to_thread(io.stop)


def _content(chunk: Any) -> str:
    choices = getattr(chunk, "choices", None) or []
    if not choices:
        return ""
    delta = getattr(choices[0], "delta", None)
    return (getattr(delta, "content", None) or "") if delta is not None else ""
