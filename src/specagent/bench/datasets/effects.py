"""One row type for the datasets' effect tables: which class a benchmark's tool has, and why.

Every adapter of a benchmark with real tools reviews each tool once and writes down its
:class:`~specagent.tools.Effect`, whether a speculative run may use a copy of the tool's state,
and the reason. The rows all have this one shape, so the tables read alike and the tests can
check them alike; the three helpers name the kinds that recur.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...tools import Effect

__all__ = ["ToolEffect", "outbound", "read_only", "state_write"]


@dataclass(frozen=True)
class ToolEffect:
    """One row of an effect table: the class, whether it may run on a state copy, and why."""

    effect: Effect
    sandboxable: bool
    why: str = ""


def read_only(why: str) -> ToolEffect:
    """A tool that only reads."""
    return ToolEffect(Effect.READ_ONLY, False, why)


def state_write(why: str) -> ToolEffect:
    """A tool whose only effect is on the benchmark's in-memory state: irreversible, but a
    speculative run may use a copy of that state."""
    return ToolEffect(Effect.IRREVERSIBLE, True, why)


def outbound(why: str) -> ToolEffect:
    """A tool whose effect leaves the benchmark's state (reaches a person): irreversible and
    never run early."""
    return ToolEffect(Effect.IRREVERSIBLE, False, why)
