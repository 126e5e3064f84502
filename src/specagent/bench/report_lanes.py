"""The lane drawing of one run, as data: which SVG shapes go where, with which class and title.

One run of an episode becomes lanes over time: the user's speech, the model's generations, one
lane per tool call (:mod:`.report_calls`), the answer and control events. This module decides
positions, classes and hover text from the timeline rows' structured fields; the markup is
the Jinja2 template's (``templates/report.html``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .outcome import EpisodeOutcome
from .report_calls import CallBar, call_bars
from .timeline_rows import ANSWER_STEP

__all__ = ["LanesView", "Shape", "lanes_view"]

# -- rows read as what they record --------------------------------------------------------------


def _is_final(row: Mapping[str, Any]) -> bool:
    if "final" in row:
        return bool(row["final"])
    return str(row.get("text", "")).startswith("[final]")  # rows stored before ``final``


def _is_interrupted(row: Mapping[str, Any]) -> bool:
    if "interrupted" in row:
        return bool(row["interrupted"])
    return " (interrupted)  [" in str(row.get("text", ""))  # rows stored before the field


def _answer_step(row: Mapping[str, Any]) -> str:
    if "answer" in row:
        return str(row["answer"])
    return ANSWER_STEP.get(str(row.get("kind", "")), "suppressed")  # rows stored before it


# -- shapes -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    """One SVG element: its tag, class, geometry attributes, hover text and call data."""

    tag: str
    cls: str
    attrs: tuple[tuple[str, str], ...]
    title: str = ""
    call: int | None = None
    status: str | None = None


def _f(value: float) -> str:
    return f"{value:.1f}" if isinstance(value, float) else str(value)


def _rect(cls: str, x: float, y: float, w: float, h: float, title: str = "", **data: Any) -> Shape:
    attrs = (("x", _num(x)), ("y", _num(y)), ("width", _f(w)), ("height", _num(h)))
    return Shape("rect", cls, attrs, title, data.get("call"), data.get("status"))


def _num(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


_LABEL_W = 150
_PLOT_W = 820
_ROW_H = 18


def _tick_step(span: float) -> float:
    raw = span / 8
    magnitude = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    for factor in (1, 2, 5, 10):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude


@dataclass(frozen=True)
class LanesView:
    """The lane drawing of one run: user, model, a lane per call, answer, control."""

    policy: str
    width: int
    height: int
    labels: list[tuple[int, str, int]]
    """(y, label, background parity) per lane."""
    ticks: list[tuple[float, str]]
    axis_y: int
    shapes: list[Shape]


def _call_shapes(
    bar: CallBar, lane_y: int, run_end: float, x: Callable[[float], float]
) -> list[Shape]:
    title = "\n".join([f"#{bar.call} {bar.name}: {bar.status}", *bar.notes])
    shapes = [  # marks under the spans: a version may end at the same time
        _rect(f"mark st-{status}", x(t) - 1, lane_y, 2.0, _ROW_H, title) for t, status in bar.marks
    ]
    for span in bar.spans:
        issued = span.issued if span.issued is not None else (span.started or 0.0)
        end = span.ended if span.ended is not None else run_end
        first_run = span.started if span.started is not None else end
        if first_run > issued:
            cls = "wait held" if span.held is not None else "wait"
            width = max(1.0, x(first_run) - x(issued))
            shapes.append(_rect(cls, x(issued), lane_y + 6, width, _ROW_H - 12))
        data = {"call": bar.call, "status": span.status}
        if span.started is not None or span.ended is None:
            run_from = span.started if span.started is not None else issued
            width = max(3.0, x(end) - x(run_from))
            shapes.append(
                _rect(
                    f"call st-{span.status}",
                    x(run_from),
                    lane_y + 2,
                    width,
                    _ROW_H - 4,
                    title,
                    **data,
                )
            )
        else:  # ended without running (removed, cancelled or failed before it started)
            shapes.append(
                _rect(
                    f"call st-{span.status}",
                    x(end) - 1.5,
                    lane_y + 2,
                    3.0,
                    _ROW_H - 4,
                    title,
                    **data,
                )
            )
    if bar.committed is not None:
        cx = _num(x(bar.committed))
        attrs = (("x1", cx), ("x2", cx), ("y1", str(lane_y)), ("y2", str(lane_y + _ROW_H)))
        shapes.append(Shape("line", "commit", attrs))
    return shapes


def lanes_view(outcome: EpisodeOutcome, t_max: float) -> LanesView:
    bars = call_bars(outcome)
    rows = outcome.timeline
    run_end = max([float(r.get("t", 0.0)) for r in rows] + [0.0])
    labels = ["user", "model"] + [f"#{b.call} {b.name or 'call'}" for b in bars]
    labels += ["answer", "control"]
    scale = _PLOT_W / t_max

    def x(t: float) -> float:
        return round(_LABEL_W + max(0.0, t) * scale, 1)

    def y(lane: int) -> int:
        return lane * _ROW_H

    ticks: list[tuple[float, str]] = []
    step, tick = _tick_step(t_max), 0.0
    while tick <= t_max + 1e-9:
        ticks.append((x(tick), f"{tick:g}s"))
        tick += step
    answer_lane, control_lane = len(labels) - 2, len(labels) - 1
    shapes: list[Shape] = []
    last_final: float | None = None
    for row in rows:
        lane, t, text = row.get("lane"), float(row.get("t", 0.0)), str(row.get("text", ""))
        title = f"{t:.2f}s {lane}: {text}"
        if lane == "user":
            final = _is_final(row)
            if final:
                last_final = t
            cls = "user final" if final else "user"
            shapes.append(_rect(cls, x(t) - 2, y(0) + 3, 4.0, _ROW_H - 6, title))
        elif lane == "model":
            start = float(row.get("start", t))
            cls = "gen interrupted" if _is_interrupted(row) else "gen"
            width = max(1.5, x(t) - x(start))
            shapes.append(_rect(cls, x(start), y(1) + 3, width, _ROW_H - 6, title))
        elif lane == "answer":
            done = _answer_step(row) == "completed"
            if done and last_final is not None and t >= last_final:
                width = max(1.0, x(t) - x(last_final))
                latency = f"latency {t - last_final:.2f}s (last word to answer)"
                shapes.append(
                    _rect("latency", x(last_final), y(answer_lane) + 5, width, _ROW_H - 10, latency)
                )
                last_final = None
            cy = _num(y(answer_lane) + _ROW_H / 2)
            attrs = (("cx", _num(x(t))), ("cy", cy), ("r", "4"))
            shapes.append(Shape("circle", "answer done" if done else "answer mark", attrs, title))
        elif lane in ("control", "error"):
            top = y(control_lane) + 3
            path = (("d", f"M{_num(x(t))} {top} l4 6 l-4 6 l-4 -6 z"),)
            shapes.append(Shape("path", "err" if lane == "error" else "ctl", path, title))
    for i, bar in enumerate(bars):
        shapes.extend(_call_shapes(bar, y(2 + i), run_end, x))
    return LanesView(
        policy=outcome.policy,
        width=_LABEL_W + _PLOT_W + 10,
        height=_ROW_H * len(labels) + 24,
        labels=[(y(i), label[:22], i % 2) for i, label in enumerate(labels)],
        ticks=ticks,
        axis_y=y(len(labels)),
        shapes=shapes,
    )
