"""A scripted model for deterministic tests: fixed outputs, fixed token timings.

Never used for a reported figure. Its outputs come from a list (one per generation) or from a
function of the context, so a test can answer whatever was last injected. Timing is charged to
the clock: ``ttft_s`` before the first token, ``token_s`` per token after it. A ``draft`` is
checked against the scripted output piece by piece: its matching start costs ``verify_s`` per
piece, paid with the first token, like a batched check at prompt speed.

Request fields: ``max_tokens``, ``prefix`` and ``draft`` are honoured; ``grammar`` is recorded
and ignored (the script is what it is).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Sequence

from ..clock import Clock
from .base import ChatMessage, DraftOutcome, GenerationRequest, ModelBackend, ModelError

__all__ = ["ScriptedBackend", "split_tokens"]

_TOKEN_RE = re.compile(r"<[^>]*>|\s*[^\s<]+|\s+")

Responder = Callable[[Sequence[ChatMessage]], str]


def split_tokens(text: str) -> list[str]:
    """Cut text into token-like pieces: each tag is one piece, each word another."""
    return _TOKEN_RE.findall(text)


class ScriptedBackend(ModelBackend):
    """Plays back scripted outputs at scripted speed."""

    name = "scripted"

    def __init__(
        self,
        clock: Clock,
        script: Sequence[str] | Responder,
        *,
        ttft_s: float = 0.1,
        token_s: float = 0.02,
        verify_s: float = 0.005,
    ) -> None:
        self._clock = clock
        self._script = script
        self._index = 0
        self.ttft_s = ttft_s
        self.token_s = token_s
        self.verify_s = verify_s
        self.contexts: list[list[ChatMessage]] = []
        self.prefixes: list[str] = []  # the prefix each stream was asked to continue
        self.drafts: list[str] = []  # the draft each stream was given
        self.grammars: list[str] = []  # the grammar each stream was given (and ignored)
        self.accepted: list[int] = []  # how many pieces of each draft were kept
        self.tokens_emitted = 0
        self.closed_early = 0
        self.open_streams = 0

    def rebind(self, clock: Clock, profile: object = None) -> None:
        """Play on a new clock (the script position carries on)."""
        self._clock = clock

    def _next_output(self, messages: Sequence[ChatMessage]) -> str:
        if callable(self._script):
            return self._script(messages)
        if self._index >= len(self._script):
            raise ModelError(f"scripted model ran out of outputs after {self._index} generations")
        out = self._script[self._index]
        self._index += 1
        return out

    supports_prefix = True
    supports_draft = True
    ignores = frozenset({"grammar"})

    async def stream(self, request: GenerationRequest) -> AsyncIterator[str]:
        """Play the next output; with ``prefix``, the output (which the script writes whole)
        must begin with it, and only the rest is played. With ``draft``, the pieces the draft
        shares with the output come at once after the first-token delay. ``grammar`` is
        recorded and ignored: the script is what it is."""
        self.check_request(request)
        messages, prefix, draft = request.messages, request.prefix, request.draft
        self.contexts.append(list(messages))
        self.prefixes.append(prefix)
        self.drafts.append(draft)
        self.grammars.append(request.grammar)
        output = self._next_output(messages)
        if not output.startswith(prefix):
            raise ModelError(f"scripted output {output!r} does not continue {prefix!r}")
        pieces = split_tokens(output[len(prefix) :])[: request.max_tokens]
        drafted = split_tokens(draft)
        accepted = 0
        while accepted < min(len(pieces), len(drafted)) and pieces[accepted] == drafted[accepted]:
            accepted += 1
        self.accepted.append(accepted)
        self.last_draft = DraftOutcome(len(drafted), accepted) if draft else None
        self.open_streams += 1
        finished = False
        try:
            await self._clock.sleep(self.ttft_s + self.verify_s * len(drafted))
            for i, piece in enumerate(pieces):
                if i >= max(accepted, 1):
                    await self._clock.sleep(self.token_s)
                self.tokens_emitted += 1
                yield piece
            finished = True
        finally:
            self.open_streams -= 1
            if not finished:
                self.closed_early += 1
