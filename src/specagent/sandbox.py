"""Copy-on-write sandboxes: let a state-changing tool run early without touching real state.

Tools that act on in-memory state (the example assistant, benchmark backends) read it through
a :class:`StateCell`. When the executor runs a call *sandboxed*, the call sees a private deep
copy of the state (through a context variable, so concurrent calls do not see each other's
copies). At the call's commit point the copy becomes the real state if nothing else changed the
real state meanwhile; otherwise the call is replayed on the real state (in-memory tools are
deterministic), and a result that differs from the one the model was shown is reported. A
withdrawn call's copy is simply dropped: nothing real ever changed.
"""

from __future__ import annotations

import contextlib
import contextvars
import copy
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

S = TypeVar("S")

__all__ = ["StateCell", "SandboxCopy"]


@dataclass
class SandboxCopy(Generic[S]):
    """A private copy of a cell's state, and the version of the real state it was taken from."""

    state: S
    base_version: int


class StateCell(Generic[S]):
    """Holds a piece of mutable state that tools read with :meth:`get`."""

    def __init__(self, state: S) -> None:
        self._state = state
        self._version = 0
        self._override: contextvars.ContextVar[S | None] = contextvars.ContextVar(
            f"sandbox-{id(self)}", default=None
        )

    def get(self) -> S:
        """The state the current call should act on: its sandbox copy, or the real state."""
        override = self._override.get()
        return self._state if override is None else override

    @property
    def real(self) -> S:
        return self._state

    @property
    def version(self) -> int:
        return self._version

    def touch(self) -> None:
        """Note that the real state changed (called after any unsandboxed state change)."""
        self._version += 1

    def fork(self) -> SandboxCopy[S]:
        return SandboxCopy(copy.deepcopy(self._state), self._version)

    @contextlib.contextmanager
    def use(self, sandbox: SandboxCopy[S]) -> Iterator[S]:
        """Within this block (this task's context), :meth:`get` returns the sandbox copy."""
        token = self._override.set(sandbox.state)
        try:
            yield sandbox.state
        finally:
            self._override.reset(token)

    def try_adopt(self, sandbox: SandboxCopy[S]) -> bool:
        """Make the copy the real state if the real state has not changed since the fork."""
        if sandbox.base_version != self._version:
            return False
        if hasattr(self._state, "__dict__"):
            # Keep the real object's identity: whoever holds a reference sees the new state.
            vars(self._state).clear()
            vars(self._state).update(vars(sandbox.state))
        else:
            self._state = sandbox.state
        self._version += 1
        return True
