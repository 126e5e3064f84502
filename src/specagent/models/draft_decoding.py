"""Plain speculative decoding: a small model drafts, the main model checks in one batch.

The ``sync-draft`` baseline: ``sync`` made faster by the same draft model ``verified`` can use
as its speculator, but without any work during the user's speech. It shows what faster
decoding alone buys, so ``verified``'s figures can be read against it: what is left is the
head start.

Each stream alternates two steps until the main model's message ends:

1. the draft model writes up to ``draft_tokens`` tokens continuing what is written so far;
2. the main model checks them in one batched pass (:attr:`ModelBackend.supports_draft`),
   keeps the start its greedy decoding agrees with, and writes the next token itself.

The text is the main model's own (up to the batch rounding docs/verified.md measures). When
the draft model would end its message, the main model decodes the rest by itself.

A ``grammar`` goes to both models: the draft model proposes under it and the main model's
checks and decoding keep to it, so the text is what the main model writes under the grammar
(where a backend cannot constrain, it ignores the grammar, as it would alone).

Request fields: ``max_tokens`` and ``prefix`` are honoured (the first proposal continues the
prefix); ``grammar`` goes to both models as above (honoured if the main model honours it, else
ignored); a ``draft`` is refused with :class:`~specagent.models.base.UnsupportedRequestError`:
this backend drafts for itself.

Time. With a measured profile each backend charges what it really computed. With modelled
profiles the inner backends are run uncharged and this class charges the steps as a host
would run them: the main model's time to first token and prompt evaluation once, then per
step the draft tokens at the draft model's decode rate and the checked tokens at the main
model's prompt rate (a batched check is a prompt evaluation, not a new request: no
time-to-first-token again), and each token the main model decodes alone at its decode rate.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator, Sequence

from ..clock import Clock
from ..profiles import LatencyProfile, ModelledProfile
from .base import ChatMessage, GenerationRequest, ModelBackend, ModelError

__all__ = ["DraftDecodingBackend", "UNCHARGED"]

UNCHARGED = ModelledProfile(
    name="uncharged",
    ttft_s=0.0,
    prefill_tps=float("inf"),
    decode_tps=float("inf"),
    source="charges nothing: the caller charges the time itself",
)


class DraftDecodingBackend(ModelBackend):
    """The main model's text, decoded with a draft model's help (see the module docstring)."""

    supports_prefix = True

    def __init__(
        self,
        main: ModelBackend,
        drafter: ModelBackend,
        *,
        draft_tokens: int = 8,
    ) -> None:
        if not main.supports_draft:
            raise ModelError(f"{main.name} cannot check drafts, so it cannot decode with one")
        if not drafter.supports_prefix:
            raise ModelError(f"{drafter.name} cannot continue a prefix, so it cannot draft")
        if draft_tokens < 1:
            raise ValueError("draft_tokens must be at least 1")
        self.main, self.drafter, self.draft_tokens = main, drafter, draft_tokens
        self.name = f"{main.name}+draft:{drafter.name}"
        self.supports_grammar = main.supports_grammar
        self.ignores = frozenset() if main.supports_grammar else frozenset({"grammar"})
        self._clock: Clock | None = None
        self._main_profile: ModelledProfile | None = None
        self._drafter_profile: ModelledProfile | None = None
        self.drafted_tokens = 0
        self.accepted_tokens = 0

    def rebind(
        self,
        clock: Clock,
        profile: LatencyProfile | None = None,
        drafter_profile: LatencyProfile | None = None,
    ) -> None:
        """Serve a new clock. With a modelled ``profile`` (and ``drafter_profile``, default the
        same) the steps are charged here and the inner backends run uncharged."""
        self._clock = clock
        if isinstance(profile, ModelledProfile):
            drafter = drafter_profile if isinstance(drafter_profile, ModelledProfile) else profile
            self._main_profile, self._drafter_profile = profile, drafter
            self.main.rebind(clock, UNCHARGED)
            self.drafter.rebind(clock, UNCHARGED)
        else:
            self._main_profile = self._drafter_profile = None
            self.main.rebind(clock, profile)
            self.drafter.rebind(clock, drafter_profile or profile)

    async def warm_up(self, messages: Sequence[ChatMessage]) -> None:
        await self.main.warm_up(messages)
        await self.drafter.warm_up(messages)

    async def aclose(self) -> None:
        await self.main.aclose()
        await self.drafter.aclose()

    async def _charge(self, seconds: float) -> None:
        if self._clock is not None and seconds > 0:
            await self._clock.sleep(seconds)

    async def _propose(self, request: GenerationRequest, written: str, first: bool) -> str:
        """What the draft model would write next (up to ``draft_tokens`` tokens)."""
        pieces: list[str] = []
        stream = self.drafter.stream(
            dataclasses.replace(request, max_tokens=self.draft_tokens, prefix=written)
        )
        async with contextlib.aclosing(stream):
            async for piece in stream:
                pieces.append(piece)
        profile = self._drafter_profile
        if profile is not None and pieces:
            head = profile.ttft_s if first else 0.0
            await self._charge(head + len(pieces) * profile.decode_s())
        return "".join(pieces)

    async def stream(self, request: GenerationRequest) -> AsyncIterator[str]:
        """The main model's text for ``request``, drafted (see the module docstring)."""
        self.check_request(request)
        max_tokens = request.max_tokens
        written, produced, first = request.prefix, 0, True
        while produced < max_tokens:
            proposal = await self._propose(request, written, first)
            if not proposal:  # the draft model would end here: the main model goes on alone
                rest = dataclasses.replace(
                    request, max_tokens=max_tokens - produced, prefix=written
                )
                async for piece in self._decode_rest(rest, first):
                    yield piece
                return
            check = dataclasses.replace(
                request, max_tokens=max_tokens - produced, prefix=written, draft=proposal
            )
            pieces, ended = await self._check(check, first)
            for piece in pieces:
                written += piece
                produced += 1
                yield piece
            if ended:
                return
            first = False

    async def _check(self, request: GenerationRequest, first: bool) -> tuple[list[str], bool]:
        """The main model's check of ``request.draft``: the draft tokens it keeps and its own
        next token; and whether its message ended there."""
        pieces: list[str] = []
        stream = self.main.stream(request)
        async with contextlib.aclosing(stream):
            async for piece in stream:
                pieces.append(piece)
                outcome = self.main.last_draft
                kept = outcome.accepted_tokens if outcome is not None else 0
                if len(pieces) > kept:  # the model's own next token: stop here, draft again
                    break
            else:
                return await self._charged(pieces, first), True
        return await self._charged(pieces, first), False

    async def _charged(self, pieces: list[str], first: bool) -> list[str]:
        """Charge one check (modelled profiles) and count what it kept."""
        outcome = self.main.last_draft
        drafted = outcome.draft_tokens if outcome is not None else 0
        accepted = outcome.accepted_tokens if outcome is not None else 0
        self.drafted_tokens += drafted
        self.accepted_tokens += accepted
        profile = self._main_profile
        if profile is not None:
            prompt = _new_prompt_tokens(self.main) if first else 1
            seconds = (profile.ttft_s if first else 0.0) + (prompt + drafted) / profile.prefill_tps
            decoded = _check_decoded(self.main)
            if len(pieces) > accepted and not decoded:
                seconds += profile.decode_s()  # the next token came from plain decoding
            await self._charge(seconds)
        return pieces

    async def _decode_rest(self, request: GenerationRequest, first: bool) -> AsyncIterator[str]:
        profile = self._main_profile
        stream = self.main.stream(request)
        async with contextlib.aclosing(stream):
            count = 0
            async for piece in stream:
                if profile is not None:
                    if count:
                        await self._charge(profile.decode_s())
                    elif first:
                        await self._charge(
                            profile.ttft_s + _new_prompt_tokens(self.main) / profile.prefill_tps
                        )
                    else:
                        await self._charge(1 / profile.prefill_tps + profile.decode_s())
                count += 1
                yield piece


def _new_prompt_tokens(backend: ModelBackend) -> int:
    """Prompt tokens the main model evaluated for this stream, if it says (llama.cpp does)."""
    stats = getattr(backend, "last_stats", None)
    return int(getattr(stats, "new_prompt_tokens", 0) or 0)


def _check_decoded(backend: ModelBackend) -> bool:
    """Whether the check itself gave the model's next token (llama.cpp says)."""
    stats = getattr(backend, "last_stats", None)
    return bool(getattr(stats, "check_decoded", 0))
