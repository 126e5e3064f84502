"""The interface every model backend implements, and the errors they raise.

A backend turns a list of chat messages into a stream of text pieces (tokens). The consumer may
stop reading at any token and must then ``aclose()`` the stream; a backend stops computing
within one token of that. Backends charge their compute to the clock through a latency profile
(see :mod:`specagent.profiles`), so the same backend works on real and virtual time.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence

from ..clock import Clock
from ..profiles import LatencyProfile
from ..protocol import ChatMessage

__all__ = [
    "ChatMessage",
    "ModelBackend",
    "ModelError",
    "ModelNotInstalledError",
    "ModelUnreachableError",
    "ContextWindowExceeded",
]


class ModelError(RuntimeError):
    """A model backend could not produce output."""


class ModelNotInstalledError(ModelError):
    """The model's files are missing or do not match their pinned hash."""


class ModelUnreachableError(ModelError):
    """A model server did not answer. The message names the URL."""


class ContextWindowExceeded(ModelError):
    """The context no longer fits the model's window."""


class ModelBackend(ABC):
    """Streams a model's continuation of a chat context."""

    name: str = "model"
    supports_prefix: bool = False
    """Whether :meth:`stream` accepts ``prefix``: the start of the assistant message, already
    written, which the model continues (used to resume a call cut short)."""

    @abstractmethod
    def stream(
        self, messages: Sequence[ChatMessage], *, max_tokens: int = 256
    ) -> AsyncIterator[str]:
        """Yield the next assistant message piece by piece.

        Use as ``async with contextlib.aclosing(backend.stream(msgs)) as tokens:``; leaving
        early cancels the generation within one token. A backend with ``supports_prefix``
        also takes ``prefix=TEXT`` and then yields only what follows that text.
        """

    async def warm_up(self, messages: Sequence[ChatMessage]) -> None:
        """Prepare for contexts that start with ``messages`` (e.g. cache the system prompt).

        Called once before a session starts, for every policy alike; it charges no clock
        time, as a deployment's prefix cache would already hold a fixed system prompt.
        """

    def rebind(self, clock: Clock, profile: LatencyProfile | None = None) -> None:
        """Serve a new clock (one per episode run) with the already loaded model."""
        raise NotImplementedError(f"{type(self).__name__} cannot move to a new clock")

    async def aclose(self) -> None:
        """Release the backend's resources."""
