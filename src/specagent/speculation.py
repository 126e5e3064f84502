"""Speculative tool calling: which calls may run before the user has finished, and how.

A call's :class:`Mechanism` follows from its tool's effect class and the policy:

* ``RUN_NOW``: read-only calls run the moment the model writes them.
* ``SANDBOX``: a state-changing tool marked ``sandboxable`` (an idempotent setter included)
  runs at once on a copy of its state; the copy becomes real at the commit point, or is dropped.
* ``COMPENSATE``: a reversible tool runs at once; if the call is withdrawn its compensating
  action undoes it.
* ``HOLD``: anything else that changes state waits for its commit point (idempotent calls
  included: repeating one is harmless, running a wrong guess is not).

Under ``sync`` and ``oracle`` the model only acts on the complete request, so their calls are
committed as they are made. Under ``async`` every state-changing call is held. Only
``speculative`` lets state-changing calls run early, and only through a sandbox or with a
registered compensation.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from .tools import Effect, Tool

__all__ = ["Mechanism", "Speculation", "mechanism_for", "SpeculationStats"]


class Speculation(enum.Enum):
    """How far a policy lets calls run ahead of their commit point."""

    NONE = "none"
    """The model acts only on the complete request (sync, oracle): calls commit as made."""
    READ_ONLY = "read_only"
    """Read-only calls run early; every state-changing call is held (async)."""
    FULL = "full"
    """State-changing calls also run early, sandboxed or compensable (speculative)."""


class Mechanism(enum.Enum):
    RUN_NOW = "run_now"
    SANDBOX = "sandbox"
    COMPENSATE = "compensate"
    HOLD = "hold"


def mechanism_for(
    tool: Tool | None,
    speculation: Speculation,
    *,
    request_settled: bool = True,
    confirm: bool = False,
) -> Mechanism:
    """How a call to ``tool`` may run before its commit point: the one home of the hold rule.

    ``request_settled``: no user speech arrived after the generation that wrote the call began
    (under ``Speculation.NONE`` a write then commits as made; otherwise it is held, so the
    model reads the new words first). ``confirm``: the call needs the user's consent, so it is
    held whatever the policy.
    """
    if tool is None or not tool.effect.changes_state:
        return Mechanism.RUN_NOW  # unknown tools fail at once in the executor
    if confirm:
        return Mechanism.HOLD
    if speculation is Speculation.NONE:
        return Mechanism.RUN_NOW if request_settled else Mechanism.HOLD
    if speculation is Speculation.FULL:
        if tool.sandboxable:
            return Mechanism.SANDBOX
        if tool.effect is Effect.REVERSIBLE:
            return Mechanism.COMPENSATE
    return Mechanism.HOLD


@dataclass(frozen=True)
class SpeculationStats:
    """What speculation cost and bought in one session."""

    issued: int
    """Calls submitted, counting each non-equivalent revision as a new call."""
    run_early: int
    """Calls that started before the user's final update."""
    used: int
    """Calls committed with a result."""
    wasted: int
    """Calls that started and then were cancelled, discarded or compensated."""
    compensated: int
    held: int
    """Calls that waited for their commit point."""
    revisions_kept: int
    """Re-emitted calls the semantic guard found equivalent (result kept, nothing rerun)."""
    ungrounded_refused: int = 0
    """Early calls not run because they used values nobody had said yet."""
    drafted_tokens: int = 0
    """``verified`` policy: tokens of guessed drafts checked against the model's own choice."""
    accepted_tokens: int = 0
    """``verified`` policy: of those, the tokens kept (written at prompt speed)."""
    speculator_calls: int = 0
    """``verified`` policy: calls the speculator started while the user spoke (reads only)."""
    reads_joined: int = 0
    """``verified`` policy: of those, reads the actor adopted in flight (the tool ran once)."""
    confirmations_asked: int = 0
    """Calls held for the user's consent and asked about instead of run."""
    ungrounded_writes_refused: int = 0
    """State-changing calls refused after the final words for values nobody said."""
