"""Tool execution: every call is a task, every outcome is an event, every call one fate.

The :class:`ToolExecutor` is the one place tool code runs (``runner.py``). Speculation needs
every call to end in exactly one :class:`Disposition`, decided in ``dispositions.py``:

* ``commit(id)``: the call is wanted. A held call starts; a sandboxed call's copy becomes the
  real state (or the call is replayed on the real state if that changed meanwhile).
* ``withdraw(id)``: the call is not wanted. Not yet started: cancelled. Sandboxed: its copy is
  dropped. A reversible call that ran: its compensating action undoes it (after it finishes,
  if it is still running).

``records.py`` holds what the executor knows about each call (:class:`CallRecord`: the fixed
request, its progress, and its :class:`PendingDecision`). Import from the package.
"""

from .records import (
    ABORTED,
    FAILED_NOTHING_TO_UNDO,
    SESSION_ENDED,
    CallRecord,
    CallRequest,
    CallStatus,
    Disposition,
    PendingDecision,
)
from .runner import LatencyFn, ToolExecutor

__all__ = [
    "CallStatus",
    "CallRecord",
    "CallRequest",
    "Disposition",
    "PendingDecision",
    "ToolExecutor",
    "LatencyFn",
    "ABORTED",
    "FAILED_NOTHING_TO_UNDO",
    "SESSION_ENDED",
]
