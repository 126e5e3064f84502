"""Which model each conversation of ``specagent serve`` talks to.

A local llama.cpp model is loaded once and shared by every conversation. One ``Llama`` object
serves one stream at a time: :class:`~specagent.models.llamacpp.LlamaCppBackend` holds an
``asyncio.Lock`` for the whole of each generation, so generations of different conversations
queue there, first come first served, and run one after another. A conversation whose turn
waits behind another's generation sees that wait in its latency. Conversations also take turns
in the model's prefix cache, so a generation after another conversation's evaluates its whole
prompt again. An OpenAI-compatible server takes concurrent streams itself. ``scripted`` gives
each conversation its own rule-based stand-in (tests and the load test only).

Each conversation sees the shared backend through a :class:`TappedBackend`, which reports every
streamed piece (the page shows the model writing) and never closes the shared model.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Sequence

from ..clock import Clock
from ..models.base import ChatMessage, DraftOutcome, GenerationRequest, ModelBackend
from ..models.scripted import Responder, ScriptedBackend
from ..profiles import get_profile
from .scripted import assistant_script

__all__ = ["ModelProvider", "ScriptedModels", "SharedModel", "TappedBackend", "load_provider"]


class TappedBackend(ModelBackend):
    """A conversation's view of a backend: passes every piece on to ``on_piece`` as well."""

    def __init__(self, inner: ModelBackend, on_piece: Callable[[str], None]) -> None:
        self.inner = inner
        self._on_piece = on_piece
        self.name = inner.name
        self.supports_prefix = inner.supports_prefix
        self.supports_draft = inner.supports_draft
        self.supports_grammar = inner.supports_grammar
        self.ignores = inner.ignores

    @property  # type: ignore[override]
    def last_draft(self) -> DraftOutcome | None:
        return self.inner.last_draft

    @last_draft.setter
    def last_draft(self, value: DraftOutcome | None) -> None:
        self.inner.last_draft = value

    async def stream(self, request: GenerationRequest) -> AsyncIterator[str]:
        """The inner backend's stream (which honours, ignores or refuses each field)."""
        async with contextlib.aclosing(self.inner.stream(request)) as pieces:
            async for piece in pieces:
                self._on_piece(piece)
                yield piece

    async def warm_up(self, messages: Sequence[ChatMessage]) -> None:
        await self.inner.warm_up(messages)

    async def aclose(self) -> None:
        """Nothing to release: the model belongs to the provider."""


class ModelProvider(ABC):
    """Gives each conversation a backend; owns the models."""

    name: str

    @abstractmethod
    def backend(self, clock: Clock) -> ModelBackend:
        """The backend one conversation uses (shared or its own)."""

    async def aclose(self) -> None:
        """Release the models (at server shutdown)."""


class SharedModel(ModelProvider):
    """One loaded backend for every conversation (see the module docstring)."""

    def __init__(self, backend: ModelBackend) -> None:
        self._backend = backend
        self.name = backend.name

    def backend(self, clock: Clock) -> ModelBackend:
        return self._backend

    async def aclose(self) -> None:
        await self._backend.aclose()


class ScriptedModels(ModelProvider):
    """A fresh scripted backend per conversation, playing ``responder`` at a fixed speed."""

    name = "scripted"

    def __init__(
        self,
        responder: Responder = assistant_script,
        *,
        ttft_s: float = 0.05,
        token_s: float = 0.02,
    ) -> None:
        self._responder = responder
        self.ttft_s = ttft_s
        self.token_s = token_s

    def backend(self, clock: Clock) -> ModelBackend:
        return ScriptedBackend(clock, self._responder, ttft_s=self.ttft_s, token_s=self.token_s)


def load_provider(spec: str, clock: Clock, profile: str = "measured") -> ModelProvider:
    """``scripted``, or any spec :func:`specagent.models.loader.load_backend` knows (loaded now,
    so a missing model fails before the server starts)."""
    if spec == "scripted":
        return ScriptedModels()
    from ..models.loader import load_backend

    return SharedModel(load_backend(spec, clock, get_profile(profile)))
