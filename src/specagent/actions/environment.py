"""What an environment must offer to be run by the Actor/Speculator engine.

An environment is a chain of awaitable calls: in a state, the **Actor** (slow, authoritative)
decides an action; executing the action (the *follow-up* call) yields the next state. A
**Speculator** (fast, fallible) proposes the Actor's likely actions so their follow-ups can
start early. The engine (:mod:`specagent.actions.engine`) only ever talks to an environment
through this class, so chess, a retail agent and a tuning loop share one mechanism.

Safety is declared here, per follow-up, with the project's :class:`~specagent.tools.Effect`
classes. The :class:`Envelope` derived from it decides what may run before the Actor has
spoken: read-only and idempotent follow-ups run freely, a sandboxable one runs on a private
copy that is adopted only on a commit, a reversible one runs and is compensated on a miss,
anything else waits for the Actor.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Generic, TypeVar

from ..tools import Effect

__all__ = ["A", "ActionEnvironment", "Envelope", "S", "envelope_for"]

S = TypeVar("S")
A = TypeVar("A")


class Envelope(enum.Enum):
    """How a guessed action's follow-up may run before the Actor confirms the guess."""

    RUN = "run"
    """Read-only or idempotent: runs at once; a miss simply forgets it."""
    SANDBOX = "sandbox"
    """Runs on a private copy of the state; the copy is adopted on a commit, dropped on a miss."""
    COMPENSATE = "compensate"
    """Reversible: runs for real; a miss runs the compensating action."""
    HOLD = "hold"
    """Irreversible and not sandboxable: nothing runs until the Actor has decided."""

    @property
    def prelaunchable(self) -> bool:
        return self is not Envelope.HOLD


def envelope_for(effect: Effect, *, sandboxable: bool = False) -> Envelope:
    """The safety envelope for a follow-up with ``effect``."""
    if effect in (Effect.READ_ONLY, Effect.IDEMPOTENT):
        return Envelope.RUN
    if sandboxable:
        return Envelope.SANDBOX
    if effect is Effect.REVERSIBLE:
        return Envelope.COMPENSATE
    return Envelope.HOLD


class ActionEnvironment(ABC, Generic[S, A]):
    """A sequential process whose steps are awaitable calls.

    Subclasses implement :meth:`act`, :meth:`propose`, :meth:`execute` and
    :meth:`is_terminal`. Everything else has a safe default: follow-ups are read-only, the
    guard is plain equality, and sandboxing or compensation are refused unless declared.

    For the speculative run to equal the sequential one (lossless), :meth:`act` must be a
    function of the state (same state, same action) and :meth:`execute` of state and action
    up to the declared :meth:`equivalent`.
    """

    @abstractmethod
    def is_terminal(self, state: S) -> bool:
        """Whether the process has ended in ``state`` (no further Actor call)."""

    @abstractmethod
    async def act(self, state: S) -> A:
        """The Actor: the authoritative (slow) decision in ``state``."""

    @abstractmethod
    async def propose(self, state: S, k: int) -> Sequence[A]:
        """The Speculator: up to ``k`` guesses of :meth:`act`'s result, most likely first."""

    @abstractmethod
    async def execute(self, state: S, action: A, *, sandboxed: bool = False) -> S:
        """The follow-up of ``action``: perform it and return the next state.

        ``sandboxed`` asks for the effect to be kept on a private copy (see :meth:`adopt`).
        """

    def effect(self, state: S, action: A) -> Effect:
        """The effect class of executing ``action`` in ``state``."""
        return Effect.READ_ONLY

    def sandboxable(self, state: S, action: A) -> bool:
        """Whether :meth:`execute` can run ``action`` sandboxed."""
        return False

    async def adopt(self, state: S, action: A, next_state: S) -> None:
        """Make a sandboxed execution real (called once, on a commit)."""
        raise NotImplementedError(f"{type(self).__name__} declared a sandbox but cannot adopt it")

    async def compensate(self, state: S, action: A, next_state: S) -> None:
        """Undo a reversible execution whose guess missed."""
        raise NotImplementedError(f"{type(self).__name__} has no compensating action")

    def equivalent(self, state: S, guess: A, action: A) -> bool:
        """The semantic guard: may ``guess``'s follow-up stand for ``action``'s?"""
        return bool(guess == action)

    def envelope(self, state: S, action: A) -> Envelope:
        return envelope_for(self.effect(state, action), sandboxable=self.sandboxable(state, action))
