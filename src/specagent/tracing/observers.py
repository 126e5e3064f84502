"""Tracers as session observers: one for a conversation when this process traces, and a way to
share a session's one observer slot with it.

``specagent run``, ``specagent voice`` and the benchmark all attach a tracer this way; it is
kept apart from what the spans say (:mod:`.spans`) and from where they go (:mod:`.setup`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..events import Event
from .setup import process_tracing
from .spans import SessionTracer

__all__ = ["chain_observers", "session_tracer"]


def session_tracer(
    *,
    session_id: str | None,
    toolset: Any = None,
    policy: Any = None,
    backend: Any = None,
    clock: Any = None,
    attributes: Mapping[str, Any] | None = None,
) -> SessionTracer | None:
    """A tracer for one conversation when this process traces (:func:`process_tracing`)."""
    setup = process_tracing()
    if setup is None:
        return None
    kind = None if clock is None else ("virtual" if clock.is_virtual else "real")
    return SessionTracer(
        provider=setup.provider,
        session_id=session_id,
        toolset=toolset,
        policy=policy,
        backend=backend,
        clock_kind=kind,
        attributes=attributes,
    )


def chain_observers(
    *observers: Callable[[Event], None] | None,
) -> Callable[[Event], None] | None:
    """One observer calling each given one in turn (``None`` entries skipped)."""
    present = [o for o in observers if o is not None]
    if not present:
        return None
    if len(present) == 1:
        return present[0]

    def observe(event: Event) -> None:
        for observer in present:
            observer(event)

    return observe
