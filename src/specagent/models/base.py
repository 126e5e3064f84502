"""The interface every model backend implements, and the errors they raise.

A backend turns a list of chat messages into a stream of text pieces (tokens). The consumer may
stop reading at any token and must then ``aclose()`` the stream; a backend stops computing
within one token of that. Backends charge their compute to the clock through a latency profile
(see :mod:`specagent.profiles`), so the same backend works on real and virtual time.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from ..clock import Clock
from ..errors import SpecagentError
from ..profiles import LatencyProfile
from ..protocol import ChatMessage

__all__ = [
    "ChatMessage",
    "DraftOutcome",
    "ModelBackend",
    "ModelError",
    "ModelNotInstalledError",
    "ModelUnreachableError",
    "ContextWindowExceeded",
]


class ModelError(SpecagentError, RuntimeError):
    """A model backend could not produce output."""


class ModelNotInstalledError(ModelError):
    """The model's files are missing or do not match their pinned hash."""


class ModelUnreachableError(ModelError):
    """A model server did not answer. The message names the URL."""


class ContextWindowExceeded(ModelError):
    """The context no longer fits the model's window."""


@dataclass(frozen=True)
class DraftOutcome:
    """How much of a stream's draft the model kept."""

    draft_tokens: int
    accepted_tokens: int


class ModelBackend(ABC):
    """Streams a model's continuation of a chat context."""

    last_draft: DraftOutcome | None = None
    """Set by a backend with ``supports_draft`` for each stream given a draft."""

    name: str = "model"
    supports_prefix: bool = False
    """Whether :meth:`stream` accepts ``prefix``: the start of the assistant message, already
    written, which the model continues (used to resume a call cut short)."""
    supports_draft: bool = False
    """Whether :meth:`stream` accepts ``draft``: text the model would probably write next
    (another run's guess). The backend checks the whole draft in one batched pass, at prompt
    speed, keeps the longest start that greedy decoding would itself have produced, and
    decodes the rest as usual: the output is what plain decoding writes, only sooner (up to
    floating-point near-ties, see docs/verified.md)."""
    supports_grammar: bool = False
    """Whether :meth:`stream` honours ``grammar``: a GBNF grammar (llama.cpp's format, start
    rule ``root``) that the whole assistant message, ``prefix`` included, must match. Every
    backend accepts the argument; one that cannot constrain decoding (an OpenAI-compatible
    server, the scripted model) ignores it. llama.cpp constrains a generation whenever the
    grammar allows its prefix, and decodes it unconstrained otherwise (see
    :mod:`specagent.models.llama_grammar`)."""

    @abstractmethod
    def stream(
        self, messages: Sequence[ChatMessage], *, max_tokens: int = 256, grammar: str = ""
    ) -> AsyncIterator[str]:
        """Yield the next assistant message piece by piece.

        Use as ``async with contextlib.aclosing(backend.stream(msgs)) as tokens:``; leaving
        early cancels the generation within one token. A backend with ``supports_prefix``
        also takes ``prefix=TEXT`` and then yields only what follows that text; one with
        ``supports_draft`` takes ``draft=TEXT`` (see :attr:`supports_draft`). ``grammar``:
        see :attr:`supports_grammar` (ignored where unsupported).
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
