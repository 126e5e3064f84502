"""The interface every model backend implements, and the errors they raise.

A backend turns one :class:`GenerationRequest` (a chat context and the options of one
generation) into a stream of text pieces (tokens). The consumer may stop reading at any token
and must then ``aclose()`` the stream; a backend stops computing within one token of that.
Backends charge their compute to the clock through a latency profile (see
:mod:`specagent.profiles`), so the same backend works on real and virtual time.

Not every backend can honour every field of a request. Each declares what it can
(``supports_prefix``, ``supports_draft``, ``supports_grammar``) and which fields it accepts
without honouring them (``ignores``); a request that sets any other field it cannot honour is
refused with :class:`UnsupportedRequestError` before any work is done
(:meth:`ModelBackend.check_request`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence
from dataclasses import KW_ONLY, dataclass

from ..clock import Clock
from ..errors import SpecagentError
from ..profiles import LatencyProfile
from ..protocol import ChatMessage

__all__ = [
    "ChatMessage",
    "DraftOutcome",
    "GenerationRequest",
    "ModelBackend",
    "ModelError",
    "ModelNotInstalledError",
    "ModelUnreachableError",
    "ContextWindowExceeded",
    "UnsupportedRequestError",
]


class ModelError(SpecagentError, RuntimeError):
    """A model backend could not produce output."""


class ModelNotInstalledError(ModelError):
    """The model's files are missing or do not match their pinned hash."""


class ModelUnreachableError(ModelError):
    """A model server did not answer. The message names the URL."""


class ContextWindowExceeded(ModelError):
    """The context no longer fits the model's window."""


class UnsupportedRequestError(ModelError):
    """A request sets a field the backend can neither honour nor ignore (a ``prefix`` or a
    ``draft`` it cannot take). The message names the backend and the field."""


@dataclass(frozen=True)
class GenerationRequest:
    """Everything one generation needs, handed to :meth:`ModelBackend.stream` as one value.

    Build one with :meth:`of` (any sequence of messages); change a field with
    :func:`dataclasses.replace`. Empty strings mean "not set".
    """

    messages: tuple[ChatMessage, ...]
    """The chat context (a tuple: the request cannot change under the backend)."""
    _: KW_ONLY
    max_tokens: int = 256
    """Tokens this generation may write at most (a draft's kept tokens count)."""
    prefix: str = ""
    """The start of the assistant message, already written, which the model continues; the
    stream yields only what follows it (used to resume a call cut short). Needs
    ``supports_prefix``."""
    draft: str = ""
    """Text the model would probably write next (another run's guess), checked in one batch.
    Needs ``supports_draft`` (see :attr:`ModelBackend.supports_draft`)."""
    grammar: str = ""
    """A GBNF grammar (llama.cpp's format, start rule ``root``) the whole assistant message,
    ``prefix`` included, must match. Honoured with ``supports_grammar``; every backend in the
    package that cannot constrain decoding ignores it (see :attr:`ModelBackend.ignores`)."""

    def __post_init__(self) -> None:
        if not isinstance(self.messages, tuple):  # a list given directly: freeze it
            object.__setattr__(self, "messages", tuple(self.messages))

    @classmethod
    def of(
        cls,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int = 256,
        prefix: str = "",
        draft: str = "",
        grammar: str = "",
    ) -> GenerationRequest:
        """The request for ``messages`` (any sequence) with the options given."""
        return cls(
            tuple(messages), max_tokens=max_tokens, prefix=prefix, draft=draft, grammar=grammar
        )

    def options(self) -> tuple[str, ...]:
        """The names of the optional fields this request sets, of ``prefix``, ``draft`` and
        ``grammar``, in that order."""
        values = (("prefix", self.prefix), ("draft", self.draft), ("grammar", self.grammar))
        return tuple(name for name, value in values if value)


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
    """Whether the backend honours a request's ``prefix``: the start of the assistant message,
    already written, which the model continues (used to resume a call cut short)."""
    supports_draft: bool = False
    """Whether the backend honours a request's ``draft``: text the model would probably write
    next (another run's guess). The backend checks the whole draft in one batched pass, at
    prompt speed, keeps the longest start that greedy decoding would itself have produced, and
    decodes the rest as usual: the output is what plain decoding writes, only sooner (up to
    floating-point near-ties, see docs/verified.md)."""
    supports_grammar: bool = False
    """Whether the backend honours a request's ``grammar``: a GBNF grammar (llama.cpp's format,
    start rule ``root``) that the whole assistant message, ``prefix`` included, must match.
    llama.cpp constrains a generation whenever the grammar allows its prefix, and decodes it
    unconstrained otherwise (see :mod:`specagent.models.llama_grammar`). A backend that cannot
    constrain decoding (an OpenAI-compatible server, the scripted model) lists ``grammar`` in
    :attr:`ignores`."""
    ignores: frozenset[str] = frozenset()
    """Request fields the backend accepts without honouring them: set, they change nothing.
    Any other field it does not support is refused (:meth:`check_request`)."""

    def check_request(self, request: GenerationRequest) -> None:
        """Raise :class:`UnsupportedRequestError` if ``request`` sets a field this backend
        neither honours nor ignores. Backends call it before any work."""
        supported = {
            "prefix": self.supports_prefix,
            "draft": self.supports_draft,
            "grammar": self.supports_grammar,
        }
        for option in request.options():
            if not supported[option] and option not in self.ignores:
                raise UnsupportedRequestError(
                    f"{self.name} cannot take a {option} (supports_{option} is False)"
                )

    @abstractmethod
    def stream(self, request: GenerationRequest) -> AsyncIterator[str]:
        """Yield the next assistant message piece by piece.

        Use as ``async with contextlib.aclosing(backend.stream(request)) as tokens:``; leaving
        early cancels the generation within one token. With a ``prefix`` only what follows it
        is yielded. A request setting a field the backend cannot honour raises
        :class:`UnsupportedRequestError` (unless the backend :attr:`ignores` it).
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
