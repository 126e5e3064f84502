"""The session's states and the moves between them, checked on every move.

A session is always in one of five states. The table below is the whole machine: a move not
in it is a bug in the session, so :meth:`StateMachine.move` raises :class:`IllegalTransition`
naming both states instead of carrying on in a state nobody designed.

======================  =====================================================================
state                   meaning
======================  =====================================================================
``IDLE``                created; nothing heard yet
``LISTENING``           waiting for the next event (speech, a result, a timer)
``GENERATING``          the model is writing (reasoning or an action)
``EMITTING``            the answer is streaming to the user
``DONE``                the turn ended; ``SessionEnded`` is recorded
======================  =====================================================================
"""

from __future__ import annotations

from ..errors import SpecagentError

import enum

__all__ = ["AgentState", "IllegalTransition", "StateMachine", "TRANSITIONS"]


class AgentState(enum.Enum):
    IDLE = "idle"
    LISTENING = "listening"
    GENERATING = "generating"
    EMITTING = "emitting"
    DONE = "done"


TRANSITIONS: dict[AgentState, frozenset[AgentState]] = {
    # the first words arrive; or a resumed turn that had already answered ends at once
    AgentState.IDLE: frozenset({AgentState.LISTENING, AgentState.DONE}),
    # an event makes the model write; a confirmation question is asked without it; the turn
    # ends (answered earlier, stalled, gave up)
    AgentState.LISTENING: frozenset({AgentState.GENERATING, AgentState.EMITTING, AgentState.DONE}),
    # an action is taken or the generation is cut; the answer begins; the turn ends
    AgentState.GENERATING: frozenset({AgentState.LISTENING, AgentState.EMITTING, AgentState.DONE}),
    # barge-in cuts the answer; or it completes
    AgentState.EMITTING: frozenset({AgentState.LISTENING, AgentState.DONE}),
    AgentState.DONE: frozenset(),
}


class IllegalTransition(SpecagentError, RuntimeError):
    """A session tried a move its state machine does not have (a bug, never bad input)."""

    def __init__(self, old: AgentState, new: AgentState) -> None:
        super().__init__(f"a session cannot go from {old.value} to {new.value}")
        self.old, self.new = old, new


class StateMachine:
    """The current state and the record of every move (time, new state)."""

    def __init__(self) -> None:
        self.state = AgentState.IDLE
        self.transitions: list[tuple[float, AgentState]] = []

    def move(self, new: AgentState, t: float) -> None:
        """Go to ``new`` (staying put is not a move); raise on a move not in the table."""
        if new is self.state:
            return
        if new not in TRANSITIONS[self.state]:
            raise IllegalTransition(self.state, new)
        self.state = new
        self.transitions.append((t, new))
