"""Policies: how a session overlaps its work with the user's speech and with tools.

All policies share one session state machine; a policy only answers a few questions the
machine asks. ``sync`` is the fair baseline, ``oracle`` the lower bound.
"""

from __future__ import annotations

import enum

from ..speculation import Speculation

__all__ = ["Policy"]


class Policy(enum.Enum):
    SYNC = "sync"
    """Waits for the user's final words, then runs tools one after another."""
    ASYNC = "async"
    """Generates while the user speaks; partial speech and tool results are injected as they
    arrive; read-only tools may run before the request ends; state-changing tools wait for
    the final update."""
    SPECULATIVE = "speculative"
    """Asynchronous I/O plus speculative tool calling: state-changing calls may also run
    early, in a sandbox or with a compensating action, and commit at their commit point."""
    ORACLE = "oracle"
    """Knows the whole request when speech starts (a lower bound on latency)."""
    SYNC_DRAFT = "sync-draft"
    """``sync`` with plain speculative decoding by a draft model, and no work during speech:
    the baseline that shows what ``verified``'s head start adds beyond faster decoding.
    Needs a draft model (``session_for(..., draft_backend=...)``)."""
    VERIFIED = "verified"
    """A speculator (async) guesses while the user speaks; at the final words a sync actor
    takes over and checks each guess as a draft: the outcome is sync's, sooner. Played by
    :class:`~specagent.agent.verified.VerifiedSession`, not :class:`Session`."""

    @property
    def streams_partial_speech(self) -> bool:
        """Hears every partial update as it comes (else each utterance whole, at its end)."""
        return self in (Policy.ASYNC, Policy.SPECULATIVE)

    @property
    def hears_request_up_front(self) -> bool:
        """Hears the whole request when the user starts speaking (the lower bound)."""
        return self is Policy.ORACLE

    @property
    def accepts_live_speech(self) -> bool:
        """Can play speech from a live source (``oracle`` and ``verified`` need the whole
        turn's timed speech in advance)."""
        return self not in (Policy.ORACLE, Policy.VERIFIED)

    @property
    def needs_draft_model(self) -> bool:
        """Needs a second, faster model beside the session's own (``sync-draft``)."""
        return self is Policy.SYNC_DRAFT

    @property
    def one_tool_at_a_time(self) -> bool:
        return self in (Policy.SYNC, Policy.SYNC_DRAFT)

    @property
    def interrupts_generation(self) -> bool:
        """Whether a new event stops a running generation to be injected at once."""
        return self not in (Policy.SYNC, Policy.SYNC_DRAFT)

    @property
    def speculation(self) -> Speculation:
        if self is Policy.SPECULATIVE:
            return Speculation.FULL
        if self is Policy.ASYNC:
            return Speculation.READ_ONLY
        return Speculation.NONE

    @classmethod
    def parse(cls, name: str) -> Policy:
        try:
            return cls(name)
        except ValueError:
            raise ValueError(
                f"unknown policy {name!r}; choose one of: {', '.join(p.value for p in cls)}"
            ) from None
