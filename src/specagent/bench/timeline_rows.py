"""The rows an episode's timeline is stored as: one per event worth drawing, recorded as it happens.

The runner records them into :attr:`EpisodeOutcome.timeline`; the HTML report draws from their
structured fields (:mod:`.report_calls`, :mod:`.report_lanes`), never from their text. Writer
and reader share :data:`CALL_STATUS`, the call status each tool-call event stands for.
"""

from __future__ import annotations

from typing import Any

from ..events import Event, ModelOutput, ToolCallFailed, UserSpeech
from ..timeline import describe

__all__ = ["ANSWER_STEP", "CALL_STATUS", "TimelineRecorder"]

CALL_STATUS = {
    "ToolCallIssued": "issued",
    "ToolCallRevised": "revised",
    "ToolCallRemoved": "removed",
    "ToolCallHeld": "held",
    "ToolCallStarted": "started",
    "ToolCallFinished": "done",
    "ToolCallFailed": "failed",
    "ToolCallCancelled": "cancelled",
    "ToolCallCommitted": "committed",
    "ToolCallCompensated": "compensated",
}
"""A row's call ``status`` by the event's class name."""

ANSWER_STEP = {
    "AnswerStarted": "started",
    "AnswerCompleted": "completed",
    "AnswerSuppressed": "suppressed",
}
"""A row's ``answer`` step by the event's class name."""


class TimelineRecorder:
    """Keeps every event worth drawing as one row, times relative to the first event.

    A row has ``t``, ``lane`` and ``text`` (the CLI's wording, for the event log) and ``kind``
    (the event class), plus structured fields the HTML report draws from, never from the
    text: ``call``, ``tool``, ``effect``, ``status`` (issued, revised, removed, held,
    started, done, failed, cancelled, committed, compensated) and ``error_type`` for a call;
    ``start``, ``tokens`` and ``interrupted`` for a generation; ``final`` for speech;
    ``answer`` (started, completed, suppressed) for the answer. Given a session tracer, it
    passes every event on to it as well.
    """

    def __init__(self, toolset: Any = None, trace: Any = None) -> None:
        self.rows: list[dict[str, Any]] = []
        self.t0: float | None = None
        self._toolset = toolset
        self._trace = trace
        self._names: dict[int, str] = {}

    def __call__(self, event: Event) -> None:
        if self._trace is not None:
            self._trace(event)
        if self.t0 is None:
            self.t0 = event.t
        line = describe(event)
        if line is None:
            return
        lane, text = line
        kind = type(event).__name__
        row: dict[str, Any] = {"t": round(event.t - self.t0, 4), "lane": lane, "text": text}
        row["kind"] = kind
        if isinstance(event, ModelOutput):
            row["start"] = round(event.started_t - self.t0, 4)
            row["tokens"] = event.tokens
            row["interrupted"] = event.interrupted
        elif isinstance(event, UserSpeech):
            row["final"] = event.final
        elif kind in ANSWER_STEP:
            row["answer"] = ANSWER_STEP[kind]
        call_id = getattr(event, "call_id", None)
        if call_id is not None:
            row["call"] = call_id
            name = getattr(event, "name", None)
            if name is not None:
                self._names[call_id] = name
            name = self._names.get(call_id)
            if name is not None:
                row["tool"] = name
                tool = self._toolset.get(name) if self._toolset is not None else None
                if tool is not None:
                    row["effect"] = tool.effect.value
            row["status"] = CALL_STATUS.get(kind, kind)
            if isinstance(event, ToolCallFailed):
                row["error_type"] = event.error_type
        self.rows.append(row)

    def close(self) -> None:
        """The episode is over: end its trace, if it is traced."""
        if self._trace is not None:
            self._trace.close()
