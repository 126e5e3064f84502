"""The review at the final words: a streaming model sees the whole request beside its early calls.

Under ``async`` and ``speculative`` a model calls tools while the user is still speaking, from
what it has heard so far: ``get_weather(city="Philadelphia", date="today")`` before the user
says "on Sunday", or directions from "home" to "work" before "from my place to Fenway Park".
Measured on the assistant benchmark, a small model rarely goes back to such a call by itself:
at the final words it answers from the stale result. With ``SessionConfig.review_early_calls``
the final words are followed by one :class:`~specagent.events.EarlyCallsReview` that quotes
the whole request and lists the calls still standing, and asks the model to revise (same id)
or remove the ones that no longer fit and to make any call still missing. Revising and
removing are the protocol's own actions, so every safety rule applies unchanged.
"""

from __future__ import annotations

import json

from ..events import EarlyCallsReview, UserSpeech
from ..executor import CallStatus, Disposition
from .turn import Turn

__all__ = ["review_early_calls"]


def review_early_calls(turn: Turn, final: UserSpeech) -> None:
    """Record the review after the final words, if the option is on, the policy streams
    partial speech, and some call made in this turn still stands."""
    if not (turn.config.review_early_calls and turn.policy.streams_partial_speech):
        return
    standing = [
        rec
        for rec in turn.executor.records.values()
        if rec.disposition not in (Disposition.CANCELLED, Disposition.COMPENSATED)
        and rec.status is not CallStatus.CANCELLED
    ]
    if not standing:
        return
    heard = " ".join(
        e.text.strip() for e in turn.events() if isinstance(e, UserSpeech) and e.text.strip()
    )
    calls = tuple(
        f"#{rec.call_id} {rec.name} {json.dumps(rec.arguments, ensure_ascii=False)}"
        for rec in sorted(standing, key=lambda r: r.call_id)
    )
    turn.record(EarlyCallsReview(t=final.t, request=heard, calls=calls))
