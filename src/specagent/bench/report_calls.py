"""Tool calls as the HTML report draws them: each call's versions and how each one ended.

A call's life is scattered over many timeline rows (issued, revised, held, started, ended,
committed, compensated) and settled by the session's own call reports; :func:`call_bars`
gathers it into one :class:`CallBar` per call. It reads the rows' structured fields only
(:mod:`.timeline_rows`), never their display text. The colours of how a call ended live here
too, for the lane drawing, the stylesheet and the legend alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .outcome import EpisodeOutcome
from .timeline_rows import CALL_STATUS

__all__ = ["STATUS_COLOURS", "STATUS_LEGEND", "CallBar", "CallSpan", "call_bars"]

STATUS_COLOURS = {
    "issued": "#4e79a7",
    "held": "#f28e2b",
    "started": "#76b7b2",
    "done": "#59a14f",
    "failed": "#e15759",
    "cancelled": "#9d9d9d",
    "compensated": "#b07aa1",
    "removed": "#c9c1bd",
}
"""Fill of a tool call's bar by how it ended (``started``: still running when the run ended)."""

STATUS_LEGEND = {
    "issued": "issued, never started",
    "held": "still held at the end",
    "started": "still running at the end",
    "done": "done",
    "failed": "failed",
    "cancelled": "cancelled",
    "compensated": "compensated (undone)",
    "removed": "removed by the model",
}

# -- tool calls from timeline rows ------------------------------------------------------------


def _row_status(row: Mapping[str, Any]) -> str | None:
    status = row.get("status")
    if isinstance(status, str):
        return status
    return CALL_STATUS.get(str(row.get("kind", "")))  # rows stored before ``status``


@dataclass
class CallSpan:
    """One version of a call (a revision starts a new one under the same id)."""

    issued: float | None = None
    held: float | None = None
    started: float | None = None
    ended: float | None = None
    """When it first stopped running (done, failed, cancelled, removed)."""
    status: str = "issued"


@dataclass
class CallBar:
    """One tool call's life on the timeline (times relative to the episode's first event)."""

    call: int
    name: str = ""
    spans: list[CallSpan] = field(default_factory=list)
    committed: float | None = None
    marks: list[tuple[float, str]] = field(default_factory=list)
    """Later changes of an ended call, e.g. undone by compensation or cancelled at session end."""
    notes: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        return self.spans[-1].status if self.spans else "issued"

    def current(self) -> CallSpan:
        if not self.spans:
            self.spans.append(CallSpan())
        return self.spans[-1]


def _apply(bar: CallBar, status: str, t: float) -> None:
    if status in ("issued", "revised"):
        if bar.spans and (status == "revised" or bar.current().issued is not None):
            span = bar.current()
            if span.ended is None:
                span.ended, span.status = t, "cancelled"
            bar.spans.append(CallSpan())
        bar.current().issued = t
        return
    span = bar.current()
    if status == "held":
        span.held = t if span.held is None else span.held
        if span.status == "issued":
            span.status = "held"
    elif status == "started":
        span.started, span.status = t, "started"
    elif status == "committed":
        bar.committed = t
    elif span.ended is None:
        span.ended, span.status = t, status
    else:  # it had already stopped: an undo recolours it, anything else is only marked
        if status == "compensated":
            span.status = status
        bar.marks.append((t, status))


def call_bars(outcome: EpisodeOutcome) -> list[CallBar]:
    """The tool calls of a run, in issue order, each with its versions and how they ended."""
    bars: dict[int, CallBar] = {}
    for row in outcome.timeline:
        if row.get("call") is None:
            continue
        status = _row_status(row)
        if status is None:
            continue
        t = float(row["t"])
        bar = bars.setdefault(int(row["call"]), CallBar(call=int(row["call"])))
        if row.get("tool"):
            bar.name = str(row["tool"])
        bar.notes.append(f"{t:.2f}s {row.get('text', status)}")
        _apply(bar, status, t)
    for turn in outcome.turns:  # the session's own account settles what rows cannot say
        for report in turn.calls:
            call_id = report.get("id", report.get("call_id"))
            bar = bars.get(int(call_id)) if call_id is not None else None
            if bar is None or not bar.spans:
                continue
            bar.name = bar.name or str(report.get("name", ""))
            bar.notes.append(
                f"session report: status {report.get('status')}, "
                f"disposition {report.get('disposition')}"
            )
            span = bar.spans[-1]
            if report.get("disposition") == "compensated":
                span.status = "compensated"
            elif report.get("status") in ("failed", "cancelled", "done") and span.status in (
                "issued",
                "held",
                "started",
            ):
                span.status = str(report["status"])

    def first_seen(call: int) -> tuple[float, int]:
        times = [s.issued for s in bars[call].spans if s.issued is not None]
        return (min(times) if times else 0.0, call)

    return [bars[k] for k in sorted(bars, key=first_seen)]
