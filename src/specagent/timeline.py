"""Human-readable timeline lines for session events, and the printer of the CLIs' live view.

``specagent run`` and ``specagent voice`` print one line per event as a session runs; both go
through :func:`describe` (which voice extends with its own events) and :class:`TimelinePrinter`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING

from .events import (
    AnswerCompleted,
    AnswerStarted,
    AnswerSuppressed,
    Event,
    Interrupt,
    ModelOutput,
    ProtocolError,
    SessionEnded,
    ToolCallCancelled,
    ToolCallCommitted,
    ToolCallCompensated,
    ToolCallFailed,
    ToolCallFinished,
    ToolCallHeld,
    ToolCallIssued,
    ToolCallRemoved,
    ToolCallRevised,
    ToolCallStarted,
    UserSpeech,
)

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["LANE_STYLES", "TimelinePrinter", "describe"]

LANE_STYLES: dict[str, str] = {
    "user": "cyan",
    "model": "white",
    "tool": "yellow",
    "answer": "bold green",
    "error": "red",
    "control": "magenta",
    "voice": "blue",
    "speak": "green",
    "task": "bright_magenta",
}
"""The colour of each lane (``voice``, ``speak`` and ``task`` are the voice agent's)."""


def _short(value: object, limit: int = 70) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe(event: Event) -> tuple[str, str] | None:
    """A (lane, text) pair for an event, or None for events not worth a line."""
    if isinstance(event, UserSpeech):
        return ("user", ("[final] " if event.final else "") + event.text)
    if isinstance(event, ModelOutput):
        cut = " (interrupted)" if event.interrupted else ""
        return ("model", f"{_short(event.text, 90)}{cut}  [{event.tokens} tok]")
    if isinstance(event, ToolCallIssued):
        return ("tool", f"#{event.call_id} issue {event.name}({_short(event.arguments, 60)})")
    if isinstance(event, ToolCallRevised):
        return ("tool", f"#{event.call_id} revise {event.name}({_short(event.arguments, 60)})")
    if isinstance(event, ToolCallRemoved):
        return ("tool", f"#{event.call_id} removed by model")
    if isinstance(event, ToolCallHeld):
        return ("tool", f"#{event.call_id} held: {event.reason}")
    if isinstance(event, ToolCallStarted):
        return ("tool", f"#{event.call_id} started")
    if isinstance(event, ToolCallFinished):
        return ("tool", f"#{event.call_id} done -> {_short(event.result, 60)}")
    if isinstance(event, ToolCallFailed):
        return ("tool", f"#{event.call_id} FAILED ({event.error_type}): {_short(event.error, 60)}")
    if isinstance(event, ToolCallCancelled):
        return ("tool", f"#{event.call_id} cancelled: {event.reason}")
    if isinstance(event, ToolCallCommitted):
        return ("tool", f"#{event.call_id} committed")
    if isinstance(event, ToolCallCompensated):
        return ("tool", f"#{event.call_id} compensated (undone)")
    if isinstance(event, ProtocolError):
        return ("error", event.message)
    if isinstance(event, AnswerStarted):
        return ("answer", "first answer token")
    if isinstance(event, AnswerSuppressed):
        return ("answer", f"answer held back: {event.reason}")
    if isinstance(event, AnswerCompleted):
        return ("answer", event.text)
    if isinstance(event, Interrupt):
        return ("control", f"interrupt: {event.reason}")
    if isinstance(event, SessionEnded):
        return ("control", f"session ended: {event.reason}")
    return None


class TimelinePrinter:
    """An observer that prints one line per event: time, lane, text (events ``describe``
    gives no line for are skipped). ``lane_width`` aligns the lane names."""

    def __init__(
        self,
        console: Console,
        *,
        describe: Callable[[Event], tuple[str, str] | None] = describe,
        lane_width: int = 6,
    ) -> None:
        self._console = console
        self._describe = describe
        self._lane_width = lane_width

    def __call__(self, event: Event) -> None:
        line = self._describe(event)
        if line is None:
            return
        lane, text = line
        style = LANE_STYLES.get(lane, "white")
        self._console.print(
            f"[dim]{event.t:7.2f}s[/dim] [{style}]{lane:>{self._lane_width}}[/{style}]  {text}",
            highlight=False,
            markup=True,
        )
