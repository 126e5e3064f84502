"""Preemptive replies: start answering when the turn looks over, play only once it is.

A person answers within a few hundred milliseconds of the other's last word; the agent's
model alone needs longer than that to write its first words. So when the user pauses and the
words so far look like a whole request (:mod:`.turn_end`), the voice agent starts the reply
at once, *preemptively*: a :class:`~specagent.agent.Session` that hears those words as the
user's final update, on a fork of the conversation ledger, with its answer synthesised but
held unplayed by the speaker. Then one of two things happens:

* the VAD confirms the end of the turn (:class:`~.events.VoiceEnded`, same pause): the
  preemptive session *becomes* the turn. Its ledger becomes the conversation, its held
  audio plays at once, its state-changing calls may run. The listener sends no final update
  for those words: the session already has them (:meth:`.Listener.claim`).
* the user goes on (:class:`~.events.VoiceResumed`): the preemptive session is cancelled
  with everything it started, its audio dropped unheard, its fork of the ledger forgotten.
  The conversation never saw it. It is counted (:class:`PreemptionStats`).

**The commit-point rule still holds.** The preemptive session believes the user has finished,
so by its own rules it may reach the commit point of a state-changing call. That must not
change the world on a guess: every tool that is not read-only runs, in the preemptive
session, behind a gate (:func:`gated_toolset`) that opens only when the end of the turn is
confirmed. Until then the call's code does not start (a sandboxed copy is not adopted either:
adoption waits for the call to finish); if the reply is discarded the call is cancelled
before it ran, which by the executor's rules has no effect to undo. Read-only calls run at
once: a preemptive reply also starts tools while the user is still (silently) on the floor.

A preemptive reply starts only when nothing else is under way that it would overtake: no
turn, or (streaming policies) the turn this utterance opened, while that turn has started no
tool call; such a turn is replaced when the preemptive one is confirmed (its only work was
reading partial words). If that turn starts a call, or the agent writes a note into the
conversation, the preemptive reply is discarded at once, so the conversation it forked from
is always the one it joins.
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass, field
from typing import Any

from ..events import Event
from ..ledger import Ledger
from ..tools import Effect, Tool, Toolset

__all__ = ["Preemption", "PreemptionStats", "fork_conversation", "gated_toolset"]


@dataclass
class Preemption:
    """One preemptive reply while it waits for the end of the turn to be confirmed."""

    utterance: int
    pause: int
    text: str
    """The words it answers (the whole utterance, from the tentative pass)."""
    started_t: float
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    """Set at confirmation: the gated state-changing tools may run."""
    events: list[Event] = field(default_factory=list)
    """The session's events so far, recorded in the voice ledger only once confirmed."""
    answers: list[int] = field(default_factory=list)
    """Answer ids the speaker holds for it."""


@dataclass
class PreemptionStats:
    started: int = 0
    confirmed: int = 0
    discarded: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    """Discarded replies by reason."""
    waited_s: list[float] = field(default_factory=list)
    """For each confirmed reply: from its start to the confirmation."""

    def discard(self, reason: str) -> None:
        self.discarded += 1
        self.reasons[reason] = self.reasons.get(reason, 0) + 1

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def changes_state(tool: Tool) -> bool:
    """Anything but a read-only tool (idempotent writes included: a wrong guess is not
    harmless just because a repeat would be)."""
    return tool.effect is not Effect.READ_ONLY


def gated_toolset(toolset: Toolset, gate: asyncio.Event) -> Toolset:
    """The same tools, except that a state-changing tool's code waits for ``gate`` first.

    Name, schema, effect class, sandbox and compensation are unchanged, so the session
    treats every call exactly as it would treat the original's.
    """
    return Toolset(_gated(tool, gate) if changes_state(tool) else tool for tool in toolset.values())


def _gated(tool: Tool, gate: asyncio.Event) -> Tool:
    original = tool.fn

    async def behind_gate(**arguments: Any) -> Any:
        await gate.wait()
        return await original(**arguments)

    return dataclasses.replace(tool, fn=behind_gate)


def fork_conversation(conversation: Ledger, upto: int) -> Ledger:
    """The conversation's first ``upto`` events, as a ledger with the same session id (call
    keys stay the conversation's if this fork becomes the conversation)."""
    return Ledger(conversation.events[:upto], session_id=conversation.session_id)
